import { reduceToShape, variadicShape } from './broadcast.js';
import type { OpDef } from './types.js';
import { elementwiseChannels } from './channels.js';

/** Variadic elementwise sum (also what autodiff uses to accumulate fan-out gradients). */
export const sum: OpDef = {
  op: 'Sum',
  channels: elementwiseChannels,
  inferShape: ({ node, inputs }) => [variadicShape(node, inputs)],
  gradient({ dy, b, inputs, outputs, needs }) {
    const g = dy[0];
    const y = outputs[0];
    if (g === undefined || y === undefined) return [];
    return inputs.map((x, i) => (needs[i] && x ? reduceToShape(b, g, y.shape, x.shape) : undefined));
  },
};
