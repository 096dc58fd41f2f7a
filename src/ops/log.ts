import type { OpDef } from './types.js';
import { input } from './util.js';
import { unaryChannels } from './channels.js';

/** Y = ln X; dX = dY / X. */
export const log: OpDef = {
  op: 'Log',
  channels: unaryChannels,
  inferShape: ({ node, inputs }) => [input(node, inputs, 0)],
  gradient: ({ node, b, dy }) => [dy[0] === undefined ? undefined : b.op1('Div', [dy[0], node.inputs[0] as string])],
};
