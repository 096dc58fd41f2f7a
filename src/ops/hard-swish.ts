import { unaryOp } from './unary.js';

/** Y = X·HardSigmoid(X) with alpha 1/6, beta ½; dX = dY·(0 below −3, 1 above 3, X/3 + ½ between). */
export const hardSwish = unaryOp('HardSwish', ({ b, dy, x, c }) => {
  const ramp = b.op1('Add', [b.op1('Mul', [x, c(1 / 3, 'third')]), c(0.5, 'half')]);
  const slope = b.op1('Where', [
    b.op1('Less', [x, c(-3, 'minus_three')]),
    c(0, 'zero'),
    b.op1('Where', [b.op1('Greater', [x, c(3, 'three')]), c(1, 'one'), ramp]),
  ]);
  return b.op1('Mul', [dy, slope]);
});
