import type { OpDef } from './types.js';
import { input } from './util.js';
import { unaryChannels } from './channels.js';

/** Y = eˣ; dX = dY · Y (reuses the forward output). */
export const exp: OpDef = {
  op: 'Exp',
  channels: unaryChannels,
  inferShape: ({ node, inputs }) => [input(node, inputs, 0)],
  gradient: ({ node, b, dy }) => [dy[0] === undefined ? undefined : b.op1('Mul', [dy[0], node.outputs[0] as string])],
};
