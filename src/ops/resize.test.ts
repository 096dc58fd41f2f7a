// Resize gradients (nearest and linear) against finite differences of a float64 Resize written
// here: onnxruntime has Resize in float32 only.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { gradCheck, oneNodeGraph, randomTensor } from '../../test/gradcheck.js';
import type { Attribute } from '../ir/graph.js';
import { attr } from '../ir/graph.js';
import { Tensor } from '../ir/tensor.js';

interface Spec {
  mode: 'nearest' | 'linear';
  coordinates: 'half_pixel' | 'asymmetric' | 'align_corners';
  nearestMode?: 'floor' | 'round_prefer_floor';
}

/** The [out][in] weights of one axis, from the ONNX Resize definitions. */
function weights(L: number, out: number, scale: number, s: Spec): number[][] {
  return Array.from({ length: out }, (_, o) => {
    let x: number;
    if (s.coordinates === 'half_pixel') x = (o + 0.5) / scale - 0.5;
    else if (s.coordinates === 'asymmetric') x = o / scale;
    else x = out === 1 ? 0 : (o * (L - 1)) / (out - 1);
    const row = new Array<number>(L).fill(0);
    if (s.mode === 'nearest') {
      const frac = x - Math.floor(x);
      let i = s.nearestMode === 'floor' ? Math.floor(x) : frac === 0.5 ? Math.floor(x) : Math.round(x);
      i = Math.min(L - 1, Math.max(0, i));
      row[i] = 1;
    } else {
      const c = Math.min(L - 1, Math.max(0, x));
      const i0 = Math.floor(c);
      const i1 = Math.min(i0 + 1, L - 1);
      row[i0] = (row[i0] as number) + 1 - (c - i0);
      row[i1] = (row[i1] as number) + (c - i0);
    }
    return row;
  });
}

/** Separable float64 Resize of an [N, C, H, W] array to [N, C, oh, ow]. */
function resize64(x: Float64Array, dims: number[], out: number[], scales: number[], s: Spec): Float64Array {
  const [N, C, H, W] = dims as [number, number, number, number];
  const [oh, ow] = [out[2] as number, out[3] as number];
  const wh = weights(H, oh, scales[2] as number, s);
  const ww = weights(W, ow, scales[3] as number, s);
  const y = new Float64Array(N * C * oh * ow);
  for (let p = 0; p < N * C; p++) {
    for (let i = 0; i < oh; i++) {
      for (let j = 0; j < ow; j++) {
        let acc = 0;
        for (let h = 0; h < H; h++) {
          const a = (wh[i] as number[])[h] as number;
          if (a === 0) continue;
          for (let w = 0; w < W; w++) acc += a * ((ww[j] as number[])[w] as number) * (x[(p * H + h) * W + w] as number);
        }
        y[(p * oh + i) * ow + j] = acc;
      }
    }
  }
  return y;
}

async function check(dims: number[], target: { scales: number[] } | { sizes: number[] }, s: Spec): Promise<void> {
  const out = 'sizes' in target ? target.sizes : dims.map((d, i) => Math.floor(d * ((target.scales[i] as number) ?? 1)));
  const scales = 'scales' in target ? target.scales : dims.map((d, i) => (out[i] as number) / d);
  const attributes: Record<string, Attribute> = { mode: attr.string(s.mode), coordinate_transformation_mode: attr.string(s.coordinates) };
  if (s.nearestMode !== undefined) attributes['nearest_mode'] = attr.string(s.nearestMode);
  const graph = oneNodeGraph('Resize', {
    inputs: [{ name: 'x', dtype: 'float32', shape: dims }],
    operands: 'scales' in target ? ['x', '', 'scales'] : ['x', '', '', 'sizes'],
    initializers: 'scales' in target ? { scales: Tensor.fromArray('float32', [4], target.scales) } : { sizes: Tensor.int64(target.sizes) },
    attributes,
    outputs: [{ name: 'y', dtype: 'float32', shape: out }],
  });
  const x = randomTensor('float32', dims, 7);
  const reference = (f: Record<string, Float64Array>): Float64Array[] => [resize64(f['x'] as Float64Array, dims, out, scales, s)];
  const r = await gradCheck({ graph, feeds: { x }, wrt: ['x'], reference, eps: 1e-3, tol: 1e-3 });
  assert.equal(r.checked, x.size);
}

test('Resize nearest ×2 (asymmetric, floor: PyTorch nearest upsampling)', async () => {
  await check([1, 2, 3, 3], { scales: [1, 1, 2, 2] }, { mode: 'nearest', coordinates: 'asymmetric', nearestMode: 'floor' });
});

test('Resize nearest to sizes [5, 6] (half_pixel, round_prefer_floor)', async () => {
  await check([1, 1, 3, 4], { sizes: [1, 1, 5, 6] }, { mode: 'nearest', coordinates: 'half_pixel', nearestMode: 'round_prefer_floor' });
});

test('Resize linear ×2, ×1.5 (half_pixel)', async () => {
  await check([1, 2, 3, 4], { scales: [1, 1, 2, 1.5] }, { mode: 'linear', coordinates: 'half_pixel' });
});

test('Resize linear to sizes [5, 7] (align_corners)', async () => {
  await check([2, 1, 3, 4], { sizes: [2, 1, 5, 7] }, { mode: 'linear', coordinates: 'align_corners' });
});
