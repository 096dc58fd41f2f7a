import { getFloat } from '../ir/graph.js';
import { unaryOp } from './unary.js';

/** Y = X for X ≥ 0, alpha·X below; dX = Where(X > 0, dY, alpha·dY). */
export const leakyRelu = unaryOp('LeakyRelu', ({ node, b, dy, x, c }) =>
  b.op1('Where', [b.op1('Greater', [x, c(0, 'zero')]), dy, b.op1('Mul', [dy, c(getFloat(node, 'alpha', 0.01), 'alpha')])]),
);
