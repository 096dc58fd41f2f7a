// Shared by the normalization ops' gradients (LayerNormalization, InstanceNormalization,
// GroupNormalization): statistics over some axes, recomputed in the gradient graph.
import type { GraphBuilder } from '../ir/graph.js';
import { attr } from '../ir/graph.js';
import type { TypeShape } from '../ir/shape.js';
import { ONNX_DTYPE, Tensor } from '../ir/tensor.js';
import { scalar } from './util.js';

/** Mean over `axes` (kept as 1s) of `v`, a value shaped like `x`; the count is a constant when those dims are known. */
export function meanOver(b: GraphBuilder, v: string, x: string, ts: TypeShape, axes: readonly number[]): string {
  const sum = b.op1('ReduceSum', [v, b.constant(Tensor.int64([...axes]), 'axes')], { keepdims: attr.int(1) });
  const dims = axes.map((a) => ts.shape[a]);
  if (dims.every((d): d is number => typeof d === 'number')) return b.op1('Mul', [sum, scalar(b, ts.dtype, 1 / dims.reduce((p, q) => p * q, 1), 'inv_count')]);
  const count = b.op1('ReduceProd', [b.op1('Gather', [b.op1('Shape', [x]), b.constant(Tensor.int64([...axes]), 'axes')])], { keepdims: attr.int(0) });
  return b.op1('Div', [sum, b.op1('Cast', [count], { to: attr.int(ONNX_DTYPE[ts.dtype]) })]);
}

/** x̂ = (X − mean)·rstd and rstd = 1/√(var + ε) over `axes` (biased variance, as the forward ops use). */
export interface Standardized {
  xhat: string;
  rstd: string;
}

export function standardize(b: GraphBuilder, x: string, ts: TypeShape, axes: readonly number[], epsilon: number): Standardized {
  const centered = b.op1('Sub', [x, meanOver(b, x, x, ts, axes)]);
  const variance = meanOver(b, b.op1('Mul', [centered, centered]), x, ts, axes);
  const rstd = b.op1('Reciprocal', [b.op1('Sqrt', [b.op1('Add', [variance, scalar(b, ts.dtype, epsilon, 'epsilon')])])]);
  return { xhat: b.op1('Mul', [centered, rstd]), rstd };
}

/** dX of x̂ = standardize(X) given dx̂: rstd·(dx̂ − mean(dx̂) − x̂·mean(dx̂·x̂)). */
export function standardizeGrad(b: GraphBuilder, dxhat: string, s: Standardized, x: string, ts: TypeShape, axes: readonly number[]): string {
  const m1 = meanOver(b, dxhat, x, ts, axes);
  const m2 = meanOver(b, b.op1('Mul', [dxhat, s.xhat]), x, ts, axes);
  return b.op1('Mul', [s.rstd, b.op1('Sub', [b.op1('Sub', [dxhat, m1]), b.op1('Mul', [s.xhat, m2])])]);
}
