import { broadcastShapes, reduceToShape } from './broadcast.js';
import type { OpDef } from './types.js';
import { input } from './util.js';
import { elementwiseChannels } from './channels.js';

/** Y = A − B with broadcasting; dA = dY, dB = −dY, each summed back to its operand's shape. */
export const sub: OpDef = {
  op: 'Sub',
  channels: elementwiseChannels,
  inferShape({ node, inputs }) {
    const a = input(node, inputs, 0);
    const b = input(node, inputs, 1);
    return [{ dtype: a.dtype, shape: broadcastShapes(a.shape, b.shape, `Sub "${node.name}" operands`) }];
  },
  gradient({ dy, b, inputs, outputs, needs }) {
    const g = dy[0];
    const y = outputs[0];
    if (g === undefined || y === undefined) return [];
    const dA = needs[0] && inputs[0] ? reduceToShape(b, g, y.shape, inputs[0].shape) : undefined;
    const dB = needs[1] && inputs[1] ? reduceToShape(b, b.op1('Neg', [g]), y.shape, inputs[1].shape) : undefined;
    return [dA, dB];
  },
};
