import { broadcastShapes, reduceToShape } from './broadcast.js';
import type { OpDef } from './types.js';
import { input } from './util.js';
import { elementwiseChannels } from './channels.js';

export const mul: OpDef = {
  op: 'Mul',
  channels: elementwiseChannels,
  inferShape({ node, inputs }) {
    const a = input(node, inputs, 0);
    const b = input(node, inputs, 1);
    return [{ dtype: a.dtype, shape: broadcastShapes(a.shape, b.shape, `Mul "${node.name}" operands`) }];
  },
  gradient({ node, dy, b, inputs, outputs, needs }) {
    const g = dy[0];
    const y = outputs[0];
    if (g === undefined || y === undefined) return [];
    const [A, B] = node.inputs as [string, string];
    const dA = needs[0] && inputs[0] ? reduceToShape(b, b.op1('Mul', [g, B]), y.shape, inputs[0].shape) : undefined;
    const dB = needs[1] && inputs[1] ? reduceToShape(b, b.op1('Mul', [g, A]), y.shape, inputs[1].shape) : undefined;
    return [dA, dB];
  },
};
