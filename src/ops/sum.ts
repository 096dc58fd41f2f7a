import { broadcastShapes, reduceToShape } from './broadcast.js';
import type { OpDef } from './types.js';
import { input } from './util.js';

/** Variadic elementwise sum (also what autodiff uses to accumulate fan-out gradients). */
export const sum: OpDef = {
  op: 'Sum',
  inferShape({ node, inputs }) {
    let shape = input(node, inputs, 0).shape;
    for (let i = 1; i < inputs.length; i++) shape = broadcastShapes(shape, input(node, inputs, i).shape, `Sum "${node.name}" operands`);
    return [{ dtype: input(node, inputs, 0).dtype, shape }];
  },
  gradient({ dy, b, inputs, outputs, needs }) {
    const g = dy[0];
    const y = outputs[0];
    if (g === undefined || y === undefined) return [];
    return inputs.map((x, i) => (needs[i] && x ? reduceToShape(b, g, y.shape, x.shape) : undefined));
  },
};
