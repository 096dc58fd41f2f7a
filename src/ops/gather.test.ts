// Gather's gradient (float64, finite differences in ORT): repeated indices must sum their dY.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Tensor } from '../ir/tensor.js';
import { addGradients } from '../autodiff/gradients.js';
import { GraphBuilder } from '../ir/graph.js';
import { checkOneNode, oneNodeGraph, randomTensor } from '../../test/gradcheck.js';

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

test('Gather on a middle axis: the last step of a sequence (seq[:, -1]) and repeated 2-D indices', async () => {
  // [batch 2, steps 3, features 4] → the last step, a scalar index: dX is dY at step 2, zeros elsewhere.
  await checkOneNode({
    op: 'Gather',
    inputs: ['x', 'i'],
    feeds: { x: randomTensor('float64', [2, 3, 4], 4) },
    init: { i: Tensor.fromArray('int64', [], [-1]) },
    attributes: { axis: { type: 'int', value: 1 } },
  });
  await checkOneNode({
    op: 'Gather',
    inputs: ['x', 'i'],
    feeds: { x: randomTensor('float64', [2, 3, 4], 5) },
    init: { i: Tensor.fromArray('int64', [2, 2], [0, 2, 2, 1]) },
    attributes: { axis: { type: 'int', value: 1 } },
  });
  await checkOneNode({
    op: 'Gather',
    inputs: ['x', 'i'],
    feeds: { x: randomTensor('float64', [3, 2], 6) },
    init: { i: Tensor.fromArray('int64', [3], [1, 1, 0]) },
    attributes: { axis: { type: 'int', value: -1 } },
  });
});

test('an embedding table: the gradient is a scatter-add into a zero table, with no dense one-hot MatMul', () => {
  const g = oneNodeGraph('Gather', {
    inputs: [
      { name: 'table', dtype: 'float32', shape: [1000, 16] },
      { name: 'ids', dtype: 'int64', shape: ['N', 12] },
    ],
  });
  const loss = new GraphBuilder(g, 'loss').op1('ReduceSum', ['y'], { keepdims: { type: 'int', value: 0 } });
  addGradients(g, loss, ['table']);
  const ops = g.nodes.map((n) => n.opType);
  assert.ok(ops.includes('ScatterND'), ops.join(' '));
  for (const dense of ['MatMul', 'Gemm', 'OneHot']) assert.ok(!ops.includes(dense), `the gradient uses ${dense}: ${ops.join(' ')}`);
  const scatter = g.nodes.find((n) => n.opType === 'ScatterND');
  assert.deepEqual(scatter?.attributes['reduction'], { type: 'string', value: 'add' });
});
