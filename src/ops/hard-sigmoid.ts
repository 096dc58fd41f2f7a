import { getFloat } from '../ir/graph.js';
import type { OpDef } from './types.js';
import { input, scalar } from './util.js';

/** Y = max(0, min(1, alpha·X + beta)); dX = alpha·dY where 0 < alpha·X + beta < 1, else 0. */
export const hardSigmoid: OpDef = {
  op: 'HardSigmoid',
  inferShape: ({ node, inputs }) => [input(node, inputs, 0)],
  gradient({ node, b, dy, inputs }) {
    const g = dy[0];
    const x = inputs[0];
    if (g === undefined || x === undefined) return [];
    const alpha = getFloat(node, 'alpha', 0.2);
    const beta = getFloat(node, 'beta', 0.5);
    const t = b.op1('Add', [b.op1('Mul', [node.inputs[0] as string, scalar(b, x.dtype, alpha, 'alpha')]), scalar(b, x.dtype, beta, 'beta')]);
    const inside = b.op1('And', [b.op1('Greater', [t, scalar(b, x.dtype, 0, 'zero')]), b.op1('Less', [t, scalar(b, x.dtype, 1, 'one')])]);
    return [b.op1('Where', [inside, b.op1('Mul', [g, scalar(b, x.dtype, alpha, 'alpha')]), scalar(b, x.dtype, 0, 'zero')])];
  },
};
