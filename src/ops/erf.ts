import { unaryOp } from './unary.js';

/** Y = erf(X); dX = dY · 2/√π · e^(−X²). */
export const erf = unaryOp('Erf', ({ b, dy, x, c }) => {
  const bell = b.op1('Exp', [b.op1('Neg', [b.op1('Mul', [x, x])])]);
  return b.op1('Mul', [dy, b.op1('Mul', [bell, c(2 / Math.sqrt(Math.PI), 'two_over_sqrt_pi')])]);
});
