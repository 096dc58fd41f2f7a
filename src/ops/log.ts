import { unaryOp } from './unary.js';

/** Y = ln X; dX = dY / X. */
export const log = unaryOp('Log', ({ b, dy, x }) => b.op1('Div', [dy, x]));
