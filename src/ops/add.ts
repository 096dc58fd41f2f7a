import { broadcastShapes, reduceToShape } from './broadcast.js';
import type { OpDef } from './types.js';
import { input } from './util.js';
import { elementwiseChannels } from './channels.js';

export const add: OpDef = {
  op: 'Add',
  channels: elementwiseChannels,
  inferShape({ node, inputs }) {
    const a = input(node, inputs, 0);
    const b = input(node, inputs, 1);
    return [{ dtype: a.dtype, shape: broadcastShapes(a.shape, b.shape, `Add "${node.name}" operands`) }];
  },
  gradient({ dy, b, inputs, outputs, needs }) {
    const g = dy[0];
    const y = outputs[0];
    if (g === undefined || y === undefined) return [];
    return [0, 1].map((i) => {
      const x = inputs[i];
      return needs[i] && x !== undefined ? reduceToShape(b, g, y.shape, x.shape) : undefined;
    });
  },
};
