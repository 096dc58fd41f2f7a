import { unaryOp } from './unary.js';

/** Y = 1 / (1 + e⁻ˣ); dX = dY · Y · (1 − Y). */
export const sigmoid = unaryOp('Sigmoid', ({ b, dy, y, c }) => b.op1('Mul', [dy, b.op1('Mul', [y, b.op1('Sub', [c(1, 'one'), y])])]));
