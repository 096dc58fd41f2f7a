import type { OpDef } from './types.js';
import { input } from './util.js';
import { unaryChannels } from './channels.js';

/** Abs: dX = dY · sign(X) (0 at 0). */
export const abs: OpDef = {
  op: 'Abs',
  channels: unaryChannels,
  inferShape: ({ node, inputs }) => [input(node, inputs, 0)],
  gradient({ node, b, dy }) {
    const g = dy[0];
    if (g === undefined) return [];
    return [b.op1('Mul', [g, b.op1('Sign', [node.inputs[0] as string])])];
  },
};
