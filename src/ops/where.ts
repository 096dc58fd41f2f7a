import { WhittleError } from '../ir/errors.js';
import { broadcastShapes, reduceToShape } from './broadcast.js';
import type { OpDef } from './types.js';
import { input, scalar } from './util.js';

/**
 * Where(C, X, Y): X where C else Y, all three broadcast. dX = Where(C, dOut, 0) and
 * dY = Where(C, 0, dOut), each summed back to its operand's shape; C gets no gradient.
 */
export const where: OpDef = {
  op: 'Where',
  inferShape({ node, inputs }) {
    const c = input(node, inputs, 0);
    const x = input(node, inputs, 1);
    const y = input(node, inputs, 2);
    if (c.dtype !== 'bool')
      throw new WhittleError(
        'SHAPE_MISMATCH',
        `Where "${node.name}": the condition must be bool, got ${c.dtype}; compare first (e.g. Greater) or Cast to bool`,
      );
    if (x.dtype !== y.dtype)
      throw new WhittleError('SHAPE_MISMATCH', `Where "${node.name}": the branches differ in type (${x.dtype} vs ${y.dtype}); Cast one of them`);
    const what = `Where "${node.name}" operands`;
    return [{ dtype: x.dtype, shape: broadcastShapes(broadcastShapes(c.shape, x.shape, what), y.shape, what) }];
  },
  gradient({ node, b, dy, inputs, outputs, needs }) {
    const g = dy[0];
    const out = outputs[0];
    if (g === undefined || out === undefined) return [];
    const C = node.inputs[0] as string;
    const zero = scalar(b, out.dtype, 0, 'zero');
    const x = inputs[1];
    const y = inputs[2];
    const dX = needs[1] && x ? reduceToShape(b, b.op1('Where', [C, g, zero]), out.shape, x.shape) : undefined;
    const dY = needs[2] && y ? reduceToShape(b, b.op1('Where', [C, zero, g]), out.shape, y.shape) : undefined;
    return [undefined, dX, dY];
  },
};
