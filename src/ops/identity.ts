import { unaryOp } from './unary.js';

export const identity = unaryOp('Identity', ({ dy }) => dy);
