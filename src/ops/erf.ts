import type { OpDef } from './types.js';
import { input, scalar } from './util.js';

/** Y = erf(X); dX = dY · 2/√π · e^(−X²). */
export const erf: OpDef = {
  op: 'Erf',
  inferShape: ({ node, inputs }) => [input(node, inputs, 0)],
  gradient({ node, b, dy, inputs }) {
    const g = dy[0];
    const x = inputs[0];
    if (g === undefined || x === undefined) return [];
    const X = node.inputs[0] as string;
    const bell = b.op1('Exp', [b.op1('Neg', [b.op1('Mul', [X, X])])]);
    return [b.op1('Mul', [g, b.op1('Mul', [bell, scalar(b, x.dtype, 2 / Math.sqrt(Math.PI), 'two_over_sqrt_pi')])])];
  },
};
