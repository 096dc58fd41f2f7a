import type { OpDef } from './types.js';
import { input } from './util.js';
import { unaryChannels } from './channels.js';

/** Shape rule only: Floor's derivative is zero almost everywhere, so nothing trains through it. */
export const floor: OpDef = {
  op: 'Floor',
  channels: unaryChannels,
  inferShape: ({ node, inputs }) => [input(node, inputs, 0)],
};
