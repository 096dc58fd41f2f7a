import { unaryOp } from './unary.js';

// Where(x > 0, dy, 0): the formulation the prototype measured fastest.
export const relu = unaryOp('Relu', ({ b, dy, x, c }) => {
  const zero = c(0, 'zero');
  return b.op1('Where', [b.op1('Greater', [x, zero]), dy, zero]);
});
