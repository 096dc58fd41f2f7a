import { unaryOp } from './unary.js';

/** Abs: dX = dY · sign(X) (0 at 0). */
export const abs = unaryOp('Abs', ({ b, dy, x }) => b.op1('Mul', [dy, b.op1('Sign', [x])]));
