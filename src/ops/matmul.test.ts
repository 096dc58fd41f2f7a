// Gradient checks (float64, finite differences in ORT) for MatMul, Softmax and LogSoftmax.
import { test } from 'node:test';
import { attr } from '../ir/graph.js';
import type { Tensor } from '../ir/tensor.js';
import { checkOneNode, randomTensor } from '../../test/gradcheck.js';

const f64 = (dims: number[], seed: number): Tensor => randomTensor('float64', dims, seed);

const matmulCases: [number[], number[]][] = [
  [
    [3, 4],
    [4, 5],
  ],
  [
    [2, 3, 4],
    [4, 5],
  ],
  [
    [3, 4],
    [2, 4, 5],
  ],
  [
    [2, 1, 3, 4],
    [3, 4, 2],
  ],
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
