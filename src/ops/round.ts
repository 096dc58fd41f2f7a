import type { OpDef } from './types.js';
import { input } from './util.js';
import { unaryChannels } from './channels.js';

/**
 * Round (half to even, as QuantizeLinear). Its true derivative is zero almost everywhere, so
 * nothing could train through a rounding step; the rule is the straight-through estimator
 * (dX = dY), which is what fake quantization needs: with Clip around it the gradient of a
 * fake-quant node is the clipped identity, and through Div/Mul by a scale it is LSQ's gradient.
 */
export const round: OpDef = {
  op: 'Round',
  channels: unaryChannels,
  inferShape: ({ node, inputs }) => [input(node, inputs, 0)],
  gradient: ({ dy }) => [dy[0]],
};
