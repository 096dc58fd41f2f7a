import type { OpDef } from './types.js';
import { input, scalar } from './util.js';
import { unaryChannels } from './channels.js';

/** Y = 1 / (1 + e⁻ˣ); dX = dY · Y · (1 − Y). */
export const sigmoid: OpDef = {
  op: 'Sigmoid',
  channels: unaryChannels,
  inferShape: ({ node, inputs }) => [input(node, inputs, 0)],
  gradient({ node, b, dy, inputs }) {
    const g = dy[0];
    const x = inputs[0];
    if (g === undefined || x === undefined) return [];
    const Y = node.outputs[0] as string;
    const oneMinusY = b.op1('Sub', [scalar(b, x.dtype, 1, 'one'), Y]);
    return [b.op1('Mul', [g, b.op1('Mul', [Y, oneMinusY])])];
  },
};
