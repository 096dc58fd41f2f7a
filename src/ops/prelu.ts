import { WhittleError } from '../ir/errors.js';
import { broadcastShapes, reduceToShape } from './broadcast.js';
import type { OpDef } from './types.js';
import { input, scalar } from './util.js';

/**
 * Y = X for X > 0, slope·X else, slope broadcast to X. dX = Where(X > 0, dY, slope·dY);
 * dslope = Σ over the broadcast axes of Where(X > 0, 0, X·dY).
 */
export const prelu: OpDef = {
  op: 'PRelu',
  inferShape({ node, inputs }) {
    const x = input(node, inputs, 0);
    const slope = input(node, inputs, 1);
    const shape = broadcastShapes(x.shape, slope.shape, `PRelu "${node.name}" operands`);
    if (shape.length !== x.shape.length || shape.some((d, i) => d !== x.shape[i] && typeof d === 'number' && typeof x.shape[i] === 'number')) {
      throw new WhittleError('SHAPE_MISMATCH', `PRelu "${node.name}": slope [${slope.shape.join(', ')}] must broadcast to X [${x.shape.join(', ')}]`);
    }
    return [x];
  },
  gradient({ node, b, dy, inputs, needs }) {
    const g = dy[0];
    const x = inputs[0];
    const s = inputs[1];
    if (g === undefined || x === undefined || s === undefined) return [];
    const [X, slope] = node.inputs as [string, string];
    const zero = scalar(b, x.dtype, 0, 'zero');
    const positive = b.op1('Greater', [X, zero]);
    const dX = needs[0] ? b.op1('Where', [positive, g, b.op1('Mul', [g, slope])]) : undefined;
    const dS = needs[1] ? reduceToShape(b, b.op1('Where', [positive, zero, b.op1('Mul', [g, X])]), x.shape, s.shape) : undefined;
    return [dX, dS];
  },
};
