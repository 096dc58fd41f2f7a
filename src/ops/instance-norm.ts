import { attr, getFloat } from '../ir/graph.js';
import type { GraphBuilder } from '../ir/graph.js';
import { Tensor } from '../ir/tensor.js';
import { standardize, standardizeGrad } from './moments.js';
import type { OpDef } from './types.js';
import { expectRank, input } from './util.js';

/** A [C] vector as [C, 1, …] against [N, C, spatial…]. */
export function perChannel(b: GraphBuilder, v: string, rank: number): string {
  if (rank <= 2) return v;
  return b.op1('Unsqueeze', [v, b.constant(Tensor.int64(Array.from({ length: rank - 2 }, (_, i) => i + 1)), 'axes')]);
}

/** Σ of v over every axis but the channel axis 1, as [C]. */
export function sumPerChannel(b: GraphBuilder, v: string, rank: number): string {
  const axes = [0, ...Array.from({ length: rank - 2 }, (_, i) => i + 2)];
  return b.op1('ReduceSum', [v, b.constant(Tensor.int64(axes), 'axes')], { keepdims: attr.int(0) });
}

/**
 * InstanceNormalization: Y = scale[c]·x̂ + B[c], x̂ standardized per sample and channel over the
 * spatial axes. dX = rstd·(dx̂ − mean(dx̂) − x̂·mean(dx̂·x̂)), dx̂ = dY·scale; dscale = Σ dY·x̂,
 * dB = Σ dY over all but the channel axis.
 */
export const instanceNormalization: OpDef = {
  op: 'InstanceNormalization',
  inferShape({ node, inputs }) {
    const x = input(node, inputs, 0);
    if (x.shape.length < 3) expectRank(node, x, 3, 'InstanceNormalization needs [N, C, spatial…]');
    return [x];
  },
  gradient({ node, b, dy, inputs, needs }) {
    const g = dy[0];
    const x = inputs[0];
    if (g === undefined || x === undefined) return [];
    const [X, scale] = node.inputs as [string, string];
    const rank = x.shape.length;
    const axes = Array.from({ length: rank - 2 }, (_, i) => i + 2);
    const s = standardize(b, X, x, axes, getFloat(node, 'epsilon', 1e-5));
    const dX = needs[0] ? standardizeGrad(b, b.op1('Mul', [g, perChannel(b, scale, rank)]), s, X, x, axes) : undefined;
    const dScale = needs[1] ? sumPerChannel(b, b.op1('Mul', [g, s.xhat]), rank) : undefined;
    const dB = needs[2] ? sumPerChannel(b, g, rank) : undefined;
    return [dX, dScale, dB];
  },
};
