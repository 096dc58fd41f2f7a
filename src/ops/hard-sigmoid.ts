import { getFloat } from '../ir/graph.js';
import { unaryOp } from './unary.js';

/** Y = max(0, min(1, alpha·X + beta)); dX = alpha·dY where 0 < alpha·X + beta < 1, else 0. */
export const hardSigmoid = unaryOp('HardSigmoid', ({ node, b, dy, x, c }) => {
  const alpha = getFloat(node, 'alpha', 0.2);
  const t = b.op1('Add', [b.op1('Mul', [x, c(alpha, 'alpha')]), c(getFloat(node, 'beta', 0.5), 'beta')]);
  const inside = b.op1('And', [b.op1('Greater', [t, c(0, 'zero')]), b.op1('Less', [t, c(1, 'one')])]);
  return b.op1('Where', [inside, b.op1('Mul', [dy, c(alpha, 'alpha')]), c(0, 'zero')]);
});
