import { unaryOp } from './unary.js';

/** dX = dY · (1 − Y²). */
export const tanh = unaryOp('Tanh', ({ b, dy, y, c }) => b.op1('Mul', [dy, b.op1('Sub', [c(1, 'one'), b.op1('Mul', [y, y])])]));
