import { broadcastShapes } from './broadcast.js';
import type { OpDef } from './types.js';
import { input } from './util.js';

/** Shape rule only (integer index arithmetic in exported models). */
export const mod: OpDef = {
  op: 'Mod',
  inferShape({ node, inputs }) {
    const a = input(node, inputs, 0);
    const b = input(node, inputs, 1);
    return [{ dtype: a.dtype, shape: broadcastShapes(a.shape, b.shape, `Mod "${node.name}" operands`) }];
  },
};
