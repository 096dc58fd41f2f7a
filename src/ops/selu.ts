import { getFloat } from '../ir/graph.js';
import { unaryOp } from './unary.js';

/** Y = gamma·X for X > 0, gamma·alpha·(eˣ − 1) else; dX = gamma·dY for X > 0, dY·(Y + gamma·alpha) else. */
export const selu = unaryOp('Selu', ({ node, b, dy, x, y, c }) => {
  const alpha = getFloat(node, 'alpha', 1.6732632423543772);
  const gamma = getFloat(node, 'gamma', 1.0507009873554805);
  const below = b.op1('Mul', [dy, b.op1('Add', [y, c(gamma * alpha, 'gamma_alpha')])]);
  return b.op1('Where', [b.op1('Greater', [x, c(0, 'zero')]), b.op1('Mul', [dy, c(gamma, 'gamma')]), below]);
});
