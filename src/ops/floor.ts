import { unaryOp } from './unary.js';

/** Shape rule only: Floor's derivative is zero almost everywhere, so nothing trains through it. */
export const floor = unaryOp('Floor');
