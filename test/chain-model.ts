// The large-graph model of issue 15: an MNIST classifier (MatMul + Add on 784 inputs) followed by
// a chain of Identity nodes, so every whole-model pass sees as many nodes as asked while the
// arithmetic stays trivial. bench/large-graph.ts times the CLI on 100,000 of them; the pass-count
// test uses a short one.
import type { Model } from '../src/ir/graph.js';
import { Graph, makeModel } from '../src/ir/graph.js';
import { Tensor } from '../src/ir/tensor.js';

/** 784 → 10 linear classifier, then `identities` Identity nodes in a chain to the output. */
export function identityChainModel(identities: number): Model {
  const g = new Graph('chain');
  g.inputs.push({ name: 'x', dtype: 'float32', shape: ['N', 784] });
  const w = new Float32Array(784 * 10);
  // A fixed, non-trivial weight so quantization has something to do.
  for (let i = 0; i < w.length; i++) w[i] = Math.sin(i) * 0.05;
  g.initializers.set('W', new Tensor('float32', [784, 10], w));
  g.initializers.set('B', new Tensor('float32', [10], new Float32Array(10)));
  g.nodes.push({ name: 'mm', opType: 'MatMul', domain: '', inputs: ['x', 'W'], outputs: ['h'], attributes: {} });
  g.nodes.push({ name: 'add', opType: 'Add', domain: '', inputs: ['h', 'B'], outputs: ['v0'], attributes: {} });
  for (let i = 1; i <= identities; i++) {
    g.nodes.push({ name: `id${i}`, opType: 'Identity', domain: '', inputs: [`v${i - 1}`], outputs: [`v${i}`], attributes: {} });
  }
  g.outputs.push({ name: `v${identities}`, dtype: 'float32', shape: ['N', 10] });
  return makeModel(g);
}
