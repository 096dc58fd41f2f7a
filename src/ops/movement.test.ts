// Gradient checks (float64, finite differences in ORT) for the data-movement ops.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { attr } from '../ir/graph.js';
import { Tensor } from '../ir/tensor.js';
import { checkOneNode, gradCheck, oneNodeGraph, randomTensor } from '../../test/gradcheck.js';

const f64 = (dims: number[], seed: number): Tensor => randomTensor('float64', dims, seed);
const i64 = Tensor.int64;

test('Flatten at axes 0, 1, 2 and -1 reshapes dY back', async () => {
  for (const axis of [0, 1, 2, -1]) await checkOneNode({ op: 'Flatten', inputs: ['x'], feeds: { x: f64([2, 3, 4], 1) }, attributes: { axis: attr.int(axis) } });
});

test('Reshape with 0 and -1 in the target shape reshapes dY back', async () => {
  await checkOneNode({ op: 'Reshape', inputs: ['x', 's'], feeds: { x: f64([2, 3, 4], 2) }, init: { s: i64([0, -1]) } });
  await checkOneNode({ op: 'Reshape', inputs: ['x', 's'], feeds: { x: f64([2, 3, 4], 3) }, init: { s: i64([4, -1, 2]) } });
});

test('Transpose by [2,0,1] and by the default reversal: dY moves back by the inverse', async () => {
  await checkOneNode({ op: 'Transpose', inputs: ['x'], feeds: { x: f64([2, 3, 4], 4) }, attributes: { perm: attr.ints([2, 0, 1]) } });
  await checkOneNode({ op: 'Transpose', inputs: ['x'], feeds: { x: f64([2, 3, 4], 5) } });
});

test('Concat of three inputs on axis 1 and on axis -1: dY is split among them', async () => {
  const feeds = { a: f64([2, 3], 6), b: f64([2, 1], 7), c: f64([2, 2], 8) };
  await checkOneNode({ op: 'Concat', inputs: ['a', 'b', 'c'], feeds, attributes: { axis: attr.int(1) } });
  await checkOneNode({ op: 'Concat', inputs: ['a', 'b', 'c'], feeds, attributes: { axis: attr.int(-1) }, wrt: ['a', 'c'] });
});

test('Concat along a symbolic axis slices dY at runtime offsets', async () => {
  const g = oneNodeGraph('Concat', {
    inputs: [
      { name: 'a', dtype: 'float64', shape: ['A', 3] },
      { name: 'b', dtype: 'float64', shape: ['B', 3] },
    ],
    attributes: { axis: attr.int(0) },
    outputs: [{ name: 'y', dtype: 'float64', shape: ['A+B', 3] }],
  });
  const r = await gradCheck({ graph: g, feeds: { a: f64([2, 3], 9), b: f64([1, 3], 10) }, wrt: ['a', 'b'] });
  assert.equal(r.checked, 9);
});

test('Squeeze with axes [1, -1] and without axes; Unsqueeze with axes [-1, 0]', async () => {
  await checkOneNode({ op: 'Squeeze', inputs: ['x', 'axes'], feeds: { x: f64([2, 1, 3, 1], 11) }, init: { axes: i64([1, -1]) } });
  await checkOneNode({ op: 'Squeeze', inputs: ['x'], feeds: { x: f64([1, 3, 1], 12) } });
  await checkOneNode({ op: 'Unsqueeze', inputs: ['x', 'axes'], feeds: { x: f64([2, 3], 13) }, init: { axes: i64([-1, 0]) } });
});

test('Slice with step 1 (negative start, end past the dim): dY is padded back', async () => {
  await checkOneNode({
    op: 'Slice',
    inputs: ['x', 's', 'e', 'ax'],
    feeds: { x: f64([4, 5], 14) },
    init: { s: i64([1, -3]), e: i64([3, 100]), ax: i64([0, 1]) },
  });
  await checkOneNode({ op: 'Slice', inputs: ['x', 's', 'e'], feeds: { x: f64([4, 5], 15) }, init: { s: i64([2]), e: i64([2 ** 53]) } });
});

test('Slice with steps 2 and -1: dY is scattered back to the picked elements', async () => {
  await checkOneNode({
    op: 'Slice',
    inputs: ['x', 's', 'e', 'ax', 'st'],
    feeds: { x: f64([4, 5], 16) },
    init: { s: i64([0, 4]), e: i64([4, 0]), ax: i64([0, -1]), st: i64([2, -1]) },
  });
});

test('Slice of a symbolic batch dim scatters dY back', async () => {
  const g = oneNodeGraph('Slice', {
    inputs: [{ name: 'x', dtype: 'float64', shape: ['N', 3] }],
    initializers: { s: i64([1, 1]), e: i64([-1, 3]) },
    operands: ['x', 's', 'e'],
    outputs: [{ name: 'y', dtype: 'float64', shape: ['M', 2] }],
  });
  const r = await gradCheck({ graph: g, feeds: { x: f64([4, 3], 17) }, wrt: ['x'] });
  assert.equal(r.checked, 12);
});

test('Flatten and Reshape of a symbolic batch: dY is reshaped back with the batch dim copied', async () => {
  for (const [op, extra] of [
    ['Flatten', []],
    ['Reshape', ['s']],
  ] as const) {
    const g = oneNodeGraph(op, {
      inputs: [{ name: 'x', dtype: 'float64', shape: ['N', 2, 3] }],
      initializers: op === 'Reshape' ? { s: i64([0, -1]) } : {},
      operands: ['x', ...extra],
      outputs: [{ name: 'y', dtype: 'float64', shape: ['N', 6] }],
    });
    const r = await gradCheck({ graph: g, feeds: { x: f64([3, 2, 3], 18) }, wrt: ['x'] });
    assert.equal(r.checked, 18);
  }
});
