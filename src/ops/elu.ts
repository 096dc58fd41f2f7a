import { getFloat } from '../ir/graph.js';
import { unaryOp } from './unary.js';

/** Y = X for X > 0, alpha·(eˣ − 1) else; dX = dY for X > 0, dY·(Y + alpha) else. */
export const elu = unaryOp('Elu', ({ node, b, dy, x, y, c }) =>
  b.op1('Where', [b.op1('Greater', [x, c(0, 'zero')]), dy, b.op1('Mul', [dy, b.op1('Add', [y, c(getFloat(node, 'alpha', 1), 'alpha')])])]),
);
