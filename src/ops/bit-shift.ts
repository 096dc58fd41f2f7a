import { broadcastShapes } from './broadcast.js';
import type { OpDef } from './types.js';
import { input } from './util.js';

/** BitShift on unsigned integers (unpacks 1-/2-bit weights); integer-valued, so no gradient. */
export const bitShift: OpDef = {
  op: 'BitShift',
  inferShape({ node, inputs }) {
    const a = input(node, inputs, 0);
    const b = input(node, inputs, 1);
    return [{ dtype: a.dtype, shape: broadcastShapes(a.shape, b.shape, `BitShift "${node.name}" operands`) }];
  },
};
