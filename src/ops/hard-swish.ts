import type { OpDef } from './types.js';
import { input, scalar } from './util.js';

/** Y = X·HardSigmoid(X) with alpha 1/6, beta ½; dX = dY·(0 below −3, 1 above 3, X/3 + ½ between). */
export const hardSwish: OpDef = {
  op: 'HardSwish',
  inferShape: ({ node, inputs }) => [input(node, inputs, 0)],
  gradient({ node, b, dy, inputs }) {
    const g = dy[0];
    const x = inputs[0];
    if (g === undefined || x === undefined) return [];
    const X = node.inputs[0] as string;
    const c = (v: number, hint: string): string => scalar(b, x.dtype, v, hint);
    const ramp = b.op1('Add', [b.op1('Mul', [X, c(1 / 3, 'third')]), c(0.5, 'half')]);
    const slope = b.op1('Where', [
      b.op1('Less', [X, c(-3, 'minus_three')]),
      c(0, 'zero'),
      b.op1('Where', [b.op1('Greater', [X, c(3, 'three')]), c(1, 'one'), ramp]),
    ]);
    return [b.op1('Mul', [g, slope])];
  },
};
