import { unaryOp } from './unary.js';

/**
 * Round (half to even, as QuantizeLinear). Its true derivative is zero almost everywhere, so
 * nothing could train through a rounding step; the rule is the straight-through estimator
 * (dX = dY), which is what fake quantization needs: with Clip around it the gradient of a
 * fake-quant node is the clipped identity, and through Div/Mul by a scale it is LSQ's gradient.
 */
export const round = unaryOp('Round', ({ dy }) => dy);
