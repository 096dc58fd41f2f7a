import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Graph, GraphBuilder, makeModel } from '../ir/graph.js';
import { Tensor } from '../ir/tensor.js';
import { profileNodes } from './profile.js';

test('profileNodes times every node onnxruntime runs, per run, after the warm-up', async () => {
  const g = new Graph();
  g.inputs.push({ name: 'x', dtype: 'float32', shape: [64, 256] });
  const b = new GraphBuilder(g);
  const w = b.constant(new Tensor('float32', [256, 256], new Float32Array(256 * 256).fill(0.01)), 'w');
  g.nodes.push({ name: 'mm', opType: 'MatMul', domain: '', inputs: ['x', w], outputs: ['h'], attributes: {} });
  g.nodes.push({ name: 'act', opType: 'Tanh', domain: '', inputs: ['h'], outputs: ['y'], attributes: {} });
  g.outputs.push({ name: 'y', dtype: 'float32', shape: [64, 256] });
  const x = new Tensor('float32', [64, 256], new Float32Array(64 * 256).fill(1));
  const p = await profileNodes(makeModel(g), { x }, { threads: 1, warmup: 3, runs: 5 });
  const names = p.nodes.map((n) => n.name).sort();
  assert.deepEqual(names, ['act', 'mm']);
  assert.deepEqual(p.nodes.find((n) => n.name === 'mm')?.op, 'MatMul');
  // A 64×256×256 MatMul is ~4 MFLOP: more than a microsecond, less than a second per run.
  for (const n of p.nodes) assert.ok(n.us > 0 && n.us < 1e6, `${n.name} ${n.us} µs`);
  assert.ok(p.msPerRun > 0);
  // Per run, not summed: the node times fit in the wall time of one run (plus timer slack).
  assert.ok(p.nodes.reduce((a, n) => a + n.us, 0) / 1000 <= p.msPerRun * 1.5 + 0.5);
});
