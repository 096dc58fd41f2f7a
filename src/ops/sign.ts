import type { OpDef } from './types.js';
import { unaryChannels } from './channels.js';

/**
 * Sign. Its derivative is zero almost everywhere; the rule is the straight-through estimator
 * dX = dY, as BinaryConnect trains binary weights (bound the real weights with weight clipping).
 * Fake-quant nodes that need the clipped identity get it from the Clip around their Round.
 */
export const sign: OpDef = {
  op: 'Sign',
  channels: unaryChannels,
  inferShape: ({ inputs }) => [inputs[0] ?? { dtype: 'float32', shape: [] }],
  gradient: ({ dy }) => [dy[0]],
};
