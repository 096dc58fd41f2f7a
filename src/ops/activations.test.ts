// Gradient checks (float64, central finite differences in ORT) for the activations of
// MobileNets and Transformers: HardSigmoid, HardSwish, Erf, Gelu, Elu, Selu, Softplus, PRelu.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkOneNode, gradCheck, oneNodeGraph, randomTensor } from '../../test/gradcheck.js';
import type { Attribute } from '../ir/graph.js';
import { attr } from '../ir/graph.js';
import { Tensor } from '../ir/tensor.js';

/** Values spread over [lo, hi] but kept `gap` away from each kink, where FD is not defined. */
function awayFrom(kinks: number[], n: number, seed: number, lo = -5, hi = 5, gap = 0.05): Tensor {
  const r = randomTensor('float64', [n], seed, lo, hi);
  const v = Array.from(r.data as Float64Array, (x) => {
    for (const k of kinks) if (Math.abs(x - k) < gap) return k + (x < k ? -gap : gap);
    return x;
  });
  return Tensor.fromArray('float64', [2, n / 2], v);
}

// onnxruntime runs HardSigmoid, HardSwish, Erf (so Gelu's gradient), Elu, Selu and Softplus in float32 only: their
// finite differences come from float64 forwards written here.

/** erf by its Maclaurin series: exact to ~1e-13 for |x| ≤ 4 in float64. */
function erf64(x: number): number {
  let term = x;
  let sum = x;
  for (let n = 1; n < 80; n++) {
    term *= (-x * x) / n;
    sum += term / (2 * n + 1);
  }
  return (2 / Math.sqrt(Math.PI)) * sum;
}

async function checkUnary(op: string, x: Tensor, f: (v: number) => number, attributes: Record<string, Attribute> = {}, opset?: number): Promise<void> {
  const graph = oneNodeGraph(op, { inputs: [{ name: 'x', dtype: 'float32', shape: [...x.dims] }], attributes });
  const reference = (feeds: Record<string, Float64Array>): Float64Array[] => [(feeds['x'] as Float64Array).map(f)];
  const x32 = Tensor.fromArray('float32', [...x.dims], Array.from(x.data as Float64Array));
  const r = await gradCheck({ graph, feeds: { x: x32 }, wrt: ['x'], reference, eps: 1e-3, tol: 2e-3, opset });
  assert.equal(r.checked, x.size);
}

const hardSigmoid64 =
  (alpha: number, beta: number) =>
  (v: number): number =>
    Math.max(0, Math.min(1, alpha * v + beta));

test('HardSigmoid (default and alpha 0.5, beta 0.2) away from its kinks', async () => {
  await checkUnary('HardSigmoid', awayFrom([-2.5, 2.5], 24, 1), hardSigmoid64(0.2, 0.5));
  await checkUnary('HardSigmoid', awayFrom([-0.4, 1.6], 24, 2, -2, 3), hardSigmoid64(0.5, 0.2), { alpha: attr.float(0.5), beta: attr.float(0.2) });
});

test('HardSwish on both flat parts and the ramp', async () => {
  await checkUnary('HardSwish', awayFrom([-3, 3], 24, 3), (v) => v * hardSigmoid64(1 / 6, 0.5)(v));
});

test('Erf', async () => {
  await checkUnary('Erf', randomTensor('float64', [3, 4], 4, -2.5, 2.5), erf64);
});

test('Gelu, exact and tanh approximation (opset 20)', async () => {
  const x = randomTensor('float64', [3, 4], 5, -4, 4);
  await checkUnary('Gelu', x, (v) => 0.5 * v * (1 + erf64(v / Math.SQRT2)), {}, 20);
  const k = Math.sqrt(2 / Math.PI);
  await checkUnary('Gelu', x, (v) => 0.5 * v * (1 + Math.tanh(k * (v + 0.044715 * v ** 3))), { approximate: attr.string('tanh') }, 20);
});

test('Elu (alpha 0.7) and Selu on both sides of 0', async () => {
  await checkUnary('Elu', awayFrom([0], 20, 6, -3, 3), (v) => (v > 0 ? v : 0.7 * Math.expm1(v)), { alpha: attr.float(0.7) });
  const [alpha, gamma] = [1.6732632423543772, 1.0507009873554805];
  await checkUnary('Selu', awayFrom([0], 20, 7, -3, 3), (v) => gamma * (v > 0 ? v : alpha * Math.expm1(v)));
});

test('Softplus', async () => {
  await checkUnary('Softplus', randomTensor('float64', [3, 4], 8, -4, 4), (v) => Math.log1p(Math.exp(v)));
});

test('PRelu with a per-channel slope [3,1,1] on [2,3,2,2]: gradients for X and the slope', async () => {
  const x = Tensor.fromArray('float64', [2, 3, 2, 2], Array.from(awayFrom([0], 24, 9, -2, 2).data as Float64Array));
  await checkOneNode({ op: 'PRelu', inputs: ['x', 's'], feeds: { x, s: randomTensor('float64', [3, 1, 1], 10, 0.05, 0.5) } });
});
