import { unaryOp } from './unary.js';

export const neg = unaryOp('Neg', ({ b, dy }) => b.op1('Neg', [dy]));
