import type { OpDef } from './types.js';
import { input, scalar } from './util.js';
import { unaryChannels } from './channels.js';

/** Y = √X; dX = dY / (2Y) (reuses the forward output). */
export const sqrt: OpDef = {
  op: 'Sqrt',
  channels: unaryChannels,
  inferShape: ({ node, inputs }) => [input(node, inputs, 0)],
  gradient({ node, b, dy, inputs }) {
    const g = dy[0];
    const x = inputs[0];
    if (g === undefined || x === undefined) return [];
    return [b.op1('Div', [g, b.op1('Mul', [node.outputs[0] as string, scalar(b, x.dtype, 2, 'two')])])];
  },
};
