// Gradient checks (float64, central finite differences in ORT) for LayerNormalization,
// InstanceNormalization and GroupNormalization.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { checkOneNode, gradCheck, oneNodeGraph, randomTensor } from '../../test/gradcheck.js';
import { attr } from '../ir/graph.js';
import type { Tensor } from '../ir/tensor.js';

const f64 = (dims: number[], seed: number, lo = -1, hi = 1): Tensor => randomTensor('float64', dims, seed, lo, hi);

test('LayerNormalization over the last axis of [2,3,4], with scale and bias', async () => {
  await checkOneNode({
    op: 'LayerNormalization',
    inputs: ['x', 'scale', 'bias'],
    feeds: { x: f64([2, 3, 4], 1, -2, 2), scale: f64([4], 2), bias: f64([4], 3) },
  });
});

test('LayerNormalization from axis 1 of [2,3,4] (normalized shape [3,4]), no bias, epsilon 0.1', async () => {
  await checkOneNode({
    op: 'LayerNormalization',
    inputs: ['x', 'scale'],
    feeds: { x: f64([2, 3, 4], 4, -2, 2), scale: f64([3, 4], 5) },
    attributes: { axis: attr.int(1), epsilon: attr.float(0.1) },
  });
});

test('LayerNormalization with a symbolic batch: the statistics count comes from the shape', async () => {
  const feeds = { x: f64([3, 5], 6, -2, 2), scale: f64([5], 7), bias: f64([5], 8) };
  const graph = oneNodeGraph('LayerNormalization', {
    inputs: [
      { name: 'x', dtype: 'float64', shape: ['N', 5] },
      { name: 'scale', dtype: 'float64', shape: [5] },
      { name: 'bias', dtype: 'float64', shape: [5] },
    ],
    outputs: [{ name: 'y', dtype: 'float64', shape: ['N', 5] }],
  });
  const r = await gradCheck({ graph, feeds, wrt: ['x', 'scale', 'bias'] });
  assert.equal(r.checked, 25);
});

// onnxruntime has InstanceNormalization in float32 only: the finite differences come from a
// float64 forward written here.
test('InstanceNormalization on [2,3,2,3]: gradients for X, scale and bias (float64 reference)', async () => {
  const [N, C, S] = [2, 3, 6];
  const eps = 0.01;
  const graph = oneNodeGraph('InstanceNormalization', {
    inputs: [
      { name: 'x', dtype: 'float32', shape: [N, C, 2, 3] },
      { name: 'scale', dtype: 'float32', shape: [C] },
      { name: 'bias', dtype: 'float32', shape: [C] },
    ],
    attributes: { epsilon: attr.float(eps) },
  });
  const reference = (f: Record<string, Float64Array>): Float64Array[] => {
    const x = f['x'] as Float64Array;
    const y = new Float64Array(x.length);
    for (let n = 0; n < N; n++) {
      for (let c = 0; c < C; c++) {
        const at = (n * C + c) * S;
        let mean = 0;
        for (let k = 0; k < S; k++) mean += (x[at + k] as number) / S;
        let v = 0;
        for (let k = 0; k < S; k++) v += ((x[at + k] as number) - mean) ** 2 / S;
        for (let k = 0; k < S; k++)
          y[at + k] = (((x[at + k] as number) - mean) / Math.sqrt(v + eps)) * (f['scale']?.[c] as number) + (f['bias']?.[c] as number);
      }
    }
    return [y];
  };
  const feeds = {
    x: randomTensor('float32', [N, C, 2, 3], 9, -2, 2),
    scale: randomTensor('float32', [C], 10),
    bias: randomTensor('float32', [C], 11),
  };
  const r = await gradCheck({ graph, feeds, wrt: ['x', 'scale', 'bias'], reference, eps: 1e-3, tol: 5e-3 });
  assert.equal(r.checked, 36 + 6);
});

test('GroupNormalization, 2 groups of [2,4,3]: per-channel scale (opset 21)', async () => {
  await checkOneNode({
    op: 'GroupNormalization',
    inputs: ['x', 'scale', 'bias'],
    feeds: { x: f64([2, 4, 3], 12, -2, 2), scale: f64([4], 13), bias: f64([4], 14) },
    // stash_type 11: statistics in float64 (the default, 1, computes them in float32).
    attributes: { num_groups: attr.int(2), epsilon: attr.float(0.01), stash_type: attr.int(11) },
    opset: 21,
  });
});

test('GroupNormalization, 2 groups of [2,4,3]: per-group scale (opset 18)', async () => {
  await checkOneNode({
    op: 'GroupNormalization',
    inputs: ['x', 'scale', 'bias'],
    feeds: { x: f64([2, 4, 3], 15, -2, 2), scale: f64([2], 16), bias: f64([2], 17) },
    attributes: { num_groups: attr.int(2), epsilon: attr.float(0.01) },
    opset: 18,
  });
});
