// The large-graph model of issue 15: an MNIST classifier (MatMul + Add on 784 inputs) followed by
// a chain of Identity nodes, so every whole-model pass sees as many nodes as asked while the
// arithmetic stays trivial. bench/large-graph.ts times the CLI on 100,000 of them; the pass-count
// test uses a short one. identityCornersModel puts Identity nodes everywhere one can sit, for the
// session-graph simplification (src/ir/elide-identity.ts).
import type { Model } from '../src/ir/graph.js';
import { attr, Graph, makeModel } from '../src/ir/graph.js';
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

/** Every way an Identity can sit: on a graph input, an initializer, a chain, a shared value, graph outputs. */
export function identityCornersModel(): Model {
  const g = new Graph('corners');
  g.inputs.push({ name: 'x', dtype: 'float32', shape: [2, 3] });
  g.initializers.set('w', Tensor.fromArray('float32', [3], [1, -2, 0.5]));
  const node = (name: string, opType: string, inputs: string[], outputs: string[]) =>
    g.nodes.push({ name, opType, domain: '', inputs, outputs, attributes: {} });
  node('i0', 'Identity', ['x'], ['x1']); // reads a graph input
  node('i1', 'Identity', ['w'], ['w1']); // reads an initializer
  node('mul', 'Mul', ['x1', 'w1'], ['m']);
  node('i2', 'Identity', ['m'], ['m1']);
  node('i3', 'Identity', ['m1'], ['m2']); // a chain
  node('relu', 'Relu', ['m2'], ['r']);
  node('i4', 'Identity', ['r'], ['out_a']); // a graph output from a computed value another node also reads
  node('i5', 'Identity', ['r'], ['out_b']); // a second graph output from the same value
  node('neg', 'Neg', ['r'], ['n']);
  node('i6', 'Identity', ['x'], ['out_x']); // a graph output straight from a graph input
  node('i7', 'Identity', ['n'], ['n1']);
  g.nodes.push({ name: 'sm', opType: 'Softmax', domain: '', inputs: ['n1'], outputs: ['out_s'], attributes: { axis: attr.int(1) } });
  for (const name of ['out_a', 'out_b', 'out_x', 'out_s', 'n']) g.outputs.push({ name, dtype: 'float32', shape: [2, 3] });
  return makeModel(g);
}
