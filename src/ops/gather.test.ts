// Gather's gradient (float64, finite differences in ORT): repeated indices must sum their dY.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Tensor } from '../ir/tensor.js';
import { checkOneNode, randomTensor } from '../../test/gradcheck.js';

test('Gather axis 0 with repeated constant indices: shared rows receive the sum of their gradients', async () => {
  // A codebook of 4 entries gathered into a 3×5 weight: entry 1 is used 6 times, entry 3 never.
  await checkOneNode({
    op: 'Gather',
    inputs: ['c', 'i'],
    feeds: { c: randomTensor('float64', [4], 1) },
    init: { i: Tensor.fromArray('int64', [3, 5], [1, 0, 1, 2, 1, 0, 1, 2, 2, 1, 0, 0, 1, 2, 0]) },
  });
});

test('Gather axis 0 of rows with negative and int32 indices', async () => {
  await checkOneNode({
    op: 'Gather',
    inputs: ['x', 'i'],
    feeds: { x: randomTensor('float64', [3, 2], 2) },
    init: { i: Tensor.fromArray('int64', [4], [0, -1, 2, 0]) },
  });
  await checkOneNode({
    op: 'Gather',
    inputs: ['x', 'i'],
    feeds: { x: randomTensor('float64', [3, 2], 3) },
    init: { i: Tensor.fromArray('int32', [2, 2], [1, 1, 0, 2]) },
  });
});

test('Gather on axis 1 has no gradient rule and says how to fix it', async () => {
  await assert.rejects(
    checkOneNode({
      op: 'Gather',
      inputs: ['x', 'i'],
      feeds: { x: randomTensor('float64', [3, 2], 4) },
      init: { i: Tensor.int64([1]) },
      attributes: { axis: { type: 'int', value: 1 } },
    }),
    /only axis 0 is differentiable/,
  );
});
