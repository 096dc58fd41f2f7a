import type { Dim } from '../ir/graph.js';
import { axesOf, formatShape, shapeError } from './dims.js';
import { reshapeBack } from './reshape.js';
import type { OpDef } from './types.js';
import { input } from './util.js';
import { squeezeChannels } from './channels.js';

/**
 * Squeeze (opset 13: axes as an optional input). Without axes, drops every dim known to be 1;
 * a symbolic dim is kept (it may not be 1). The gradient reshapes dY back to X's shape.
 */
export const squeeze: OpDef = {
  op: 'Squeeze',
  channels: squeezeChannels,
  inferShape({ node, inputs, constant }) {
    const x = input(node, inputs, 0);
    const axes = axesOf(node, constant, 1, x.shape.length);
    if (axes === undefined) return [{ dtype: x.dtype, shape: x.shape.filter((d) => d !== 1) }];
    const shape: Dim[] = [];
    x.shape.forEach((d, i) => {
      if (!axes.includes(i)) shape.push(d);
      else if (typeof d === 'number' && d !== 1) throw shapeError(node, `cannot squeeze axis ${i} of ${formatShape(x.shape)}: its size is ${d}, not 1`);
    });
    return [{ dtype: x.dtype, shape }];
  },
  gradient({ node, b, dy, inputs, outputs }) {
    const g = dy[0];
    const x = inputs[0];
    const y = outputs[0];
    if (g === undefined || x === undefined || y === undefined) return [];
    return [reshapeBack(b, g, y.shape, node.inputs[0] as string, x.shape)];
  },
};
