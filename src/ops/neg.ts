import type { OpDef } from './types.js';
import { input } from './util.js';
import { unaryChannels } from './channels.js';

export const neg: OpDef = {
  op: 'Neg',
  channels: unaryChannels,
  inferShape: ({ node, inputs }) => [input(node, inputs, 0)],
  gradient: ({ b, dy }) => [dy[0] === undefined ? undefined : b.op1('Neg', [dy[0]])],
};
