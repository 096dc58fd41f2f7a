// Gradient checks (float64, finite differences in ORT) for MatMul, Softmax and LogSoftmax.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { attr, Graph } from '../ir/graph.js';
import type { Attribute } from '../ir/graph.js';
import { inferShapes } from '../ir/shape.js';
import { Tensor } from '../ir/tensor.js';
import { gradCheck, randomTensor } from '../../test/gradcheck.js';
import { SHAPE_RULES } from './index.js';

interface OneNode {
  op: string;
  inputs: string[];
  feeds: Record<string, Tensor>;
  init?: Record<string, Tensor>;
  attributes?: Record<string, Attribute>;
  wrt?: string[];
}

/** Checks y = op(inputs) where feeds become graph inputs and init initializers. */
async function checkOneNode(c: OneNode): Promise<void> {
  const g = new Graph(c.op);
  for (const [name, t] of Object.entries(c.feeds)) g.inputs.push({ name, dtype: t.dtype, shape: [...t.dims] });
  for (const [name, t] of Object.entries(c.init ?? {})) g.initializers.set(name, t);
  g.nodes.push({ name: c.op.toLowerCase(), opType: c.op, domain: '', inputs: c.inputs, outputs: ['y'], attributes: c.attributes ?? {} });
  const y = inferShapes(g, SHAPE_RULES).get('y');
  assert.ok(y);
  g.outputs.push({ name: 'y', dtype: y.dtype, shape: y.shape });
  const wrt = c.wrt ?? Object.keys(c.feeds);
  const r = await gradCheck({ graph: g, feeds: c.feeds, wrt });
  assert.equal(r.checked, wrt.reduce((n, w) => n + (c.feeds[w]?.size ?? 0), 0));
}

const f64 = (dims: number[], seed: number): Tensor => randomTensor('float64', dims, seed);

const matmulCases: [number[], number[]][] = [
  [[3, 4], [4, 5]],
  [[2, 3, 4], [4, 5]],
  [[3, 4], [2, 4, 5]],
  [[2, 1, 3, 4], [3, 4, 2]],
  [[4], [2, 4, 3]],
  [[2, 3, 4], [4]],
  [[4], [4]],
];
for (const [aDims, bDims] of matmulCases) {
  test(`MatMul [${aDims}] @ [${bDims}]: gradients reduce back to each operand's shape`, async () => {
    await checkOneNode({ op: 'MatMul', inputs: ['a', 'b'], feeds: { a: f64(aDims, 1), b: f64(bDims, 2) } });
  });
}

for (const op of ['Softmax', 'LogSoftmax']) {
  for (const axis of [-1, 1, 0, -3]) {
    test(`${op} on [2,3,4] along axis ${axis}: gradient matches finite differences`, async () => {
      await checkOneNode({ op, inputs: ['x'], feeds: { x: randomTensor('float64', [2, 3, 4], 3, -2, 2) }, attributes: { axis: attr.int(axis) } });
    });
  }
}

test('Softmax without an axis attribute normalizes the last axis (opset 13)', async () => {
  await checkOneNode({ op: 'Softmax', inputs: ['x'], feeds: { x: f64([3, 5], 4) } });
});
