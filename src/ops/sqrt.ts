import { unaryOp } from './unary.js';

/** Y = √X; dX = dY / (2Y) (reuses the forward output). */
export const sqrt = unaryOp('Sqrt', ({ b, dy, y, c }) => b.op1('Div', [dy, b.op1('Mul', [y, c(2, 'two')])]));
