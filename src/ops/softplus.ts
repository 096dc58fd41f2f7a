import { unaryOp } from './unary.js';

/** Y = ln(1 + eˣ); dX = dY·σ(X). */
export const softplus = unaryOp('Softplus', ({ b, dy, x }) => b.op1('Mul', [dy, b.op1('Sigmoid', [x])]));
