// Gradient checks (float64, central finite differences in ORT) for Tile, Split and Einsum.
import { test } from 'node:test';
import { checkOneNode, gradCheck, oneNodeGraph, randomTensor } from '../../test/gradcheck.js';
import { attr } from '../ir/graph.js';
import { Tensor } from '../ir/tensor.js';
import assert from 'node:assert/strict';

const f64 = (dims: number[], seed: number): Tensor => randomTensor('float64', dims, seed);

test('Tile [2,3] by [2,1] and [1,3]: the copies sum back', async () => {
  await checkOneNode({ op: 'Tile', inputs: ['x', 'r'], feeds: { x: f64([2, 3], 1) }, init: { r: Tensor.int64([2, 1]) } });
  await checkOneNode({ op: 'Tile', inputs: ['x', 'r'], feeds: { x: f64([2, 3, 2], 2) }, init: { r: Tensor.int64([1, 3, 2]) } });
});

test('Split [2,6] into [1,5] along axis 1, and into two equal halves of which only one reaches the loss', async () => {
  const x = f64([2, 6], 3);
  const sized = oneNodeGraph('Split', {
    inputs: [{ name: 'x', dtype: 'float64', shape: [2, 6] }],
    operands: ['x', 'sizes'],
    initializers: { sizes: Tensor.int64([1, 5]) },
    attributes: { axis: attr.int(1) },
    outputs: [
      { name: 'a', dtype: 'float64', shape: [2, 1] },
      { name: 'b', dtype: 'float64', shape: [2, 5] },
    ],
  });
  assert.equal((await gradCheck({ graph: sized, feeds: { x }, wrt: ['x'] })).checked, 12);
  const halves = oneNodeGraph('Split', {
    inputs: [{ name: 'x', dtype: 'float64', shape: [2, 6] }],
    attributes: { axis: attr.int(0) },
    results: ['top', 'bottom'],
    outputs: [{ name: 'bottom', dtype: 'float64', shape: [1, 6] }],
  });
  assert.equal((await gradCheck({ graph: halves, feeds: { x }, wrt: ['x'] })).checked, 12);
});

for (const [equation, a, b] of [
  ['bhqd,bhkd->bhqk', [2, 2, 3, 4], [2, 2, 5, 4]],
  ['bhqk,bhkd->bhqd', [2, 2, 3, 5], [2, 2, 5, 4]],
  ['bij,bjk->bik', [2, 3, 4], [2, 4, 5]],
  ['ij,jk', [3, 4], [4, 2]],
  ['bid,jd->bij', [2, 3, 4], [5, 4]],
  ['...qd,...kd->...qk', [2, 3, 4], [2, 5, 4]],
  ['bij,bk->bi', [2, 3, 4], [2, 5]],
] as const) {
  test(`Einsum "${equation}": gradients of both operands`, async () => {
    await checkOneNode({ op: 'Einsum', inputs: ['a', 'b'], feeds: { a: f64([...a], 4), b: f64([...b], 5) }, attributes: { equation: attr.string(equation) } });
  });
}
