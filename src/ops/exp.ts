import { unaryOp } from './unary.js';

/** Y = eˣ; dX = dY · Y (reuses the forward output). */
export const exp = unaryOp('Exp', ({ b, dy, y }) => b.op1('Mul', [dy, y]));
