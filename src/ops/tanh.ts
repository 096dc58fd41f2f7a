import type { OpDef } from './types.js';
import { input, scalar } from './util.js';
import { unaryChannels } from './channels.js';

/** dX = dY · (1 − Y²). */
export const tanh: OpDef = {
  op: 'Tanh',
  channels: unaryChannels,
  inferShape: ({ node, inputs }) => [input(node, inputs, 0)],
  gradient({ node, b, dy, inputs }) {
    const g = dy[0];
    const x = inputs[0];
    if (g === undefined || x === undefined) return [];
    const Y = node.outputs[0] as string;
    const oneMinusY2 = b.op1('Sub', [scalar(b, x.dtype, 1, 'one'), b.op1('Mul', [Y, Y])]);
    return [b.op1('Mul', [g, oneMinusY2])];
  },
};
