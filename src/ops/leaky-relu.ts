import { getFloat } from '../ir/graph.js';
import type { OpDef } from './types.js';
import { input, scalar } from './util.js';
import { unaryChannels } from './channels.js';

/** Y = X for X ≥ 0, alpha·X below; dX = Where(X > 0, dY, alpha·dY). */
export const leakyRelu: OpDef = {
  op: 'LeakyRelu',
  channels: unaryChannels,
  inferShape: ({ node, inputs }) => [input(node, inputs, 0)],
  gradient({ node, b, dy, inputs }) {
    const g = dy[0];
    const x = inputs[0];
    if (g === undefined || x === undefined) return [];
    const alpha = getFloat(node, 'alpha', 0.01);
    const positive = b.op1('Greater', [node.inputs[0] as string, scalar(b, x.dtype, 0, 'zero')]);
    return [b.op1('Where', [positive, g, b.op1('Mul', [g, scalar(b, x.dtype, alpha, 'alpha')])])];
  },
};
