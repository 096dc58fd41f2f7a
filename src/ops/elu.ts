import { getFloat } from '../ir/graph.js';
import type { OpDef } from './types.js';
import { input, scalar } from './util.js';

/** Y = X for X > 0, alpha·(eˣ − 1) else; dX = dY for X > 0, dY·(Y + alpha) else. */
export const elu: OpDef = {
  op: 'Elu',
  inferShape: ({ node, inputs }) => [input(node, inputs, 0)],
  gradient({ node, b, dy, inputs }) {
    const g = dy[0];
    const x = inputs[0];
    if (g === undefined || x === undefined) return [];
    const alpha = scalar(b, x.dtype, getFloat(node, 'alpha', 1), 'alpha');
    const positive = b.op1('Greater', [node.inputs[0] as string, scalar(b, x.dtype, 0, 'zero')]);
    return [b.op1('Where', [positive, g, b.op1('Mul', [g, b.op1('Add', [node.outputs[0] as string, alpha])])])];
  },
};
