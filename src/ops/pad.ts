import { getInts } from '../ir/graph.js';
import type { Dim } from '../ir/graph.js';
import { constantInts, formatShape, shapeError, unknownDim } from './dims.js';
import type { OpDef } from './types.js';
import { input, normAxis } from './util.js';

/**
 * Pad(X, pads, constant_value?, axes?): each padded dim grows by its begin + end pads (which
 * may be negative, cropping). Pads from the input (opset 11+) or the attribute (older).
 */
export const pad: OpDef = {
  op: 'Pad',
  inferShape({ node, inputs, constant }) {
    const x = input(node, inputs, 0);
    const rank = x.shape.length;
    const axes = constantInts(node, constant, 3)?.map((a) => normAxis(node, a, rank)) ?? x.shape.map((_, i) => i);
    const pads = getInts(node, 'pads') ?? constantInts(node, constant, 1);
    if (pads === undefined) return [{ dtype: x.dtype, shape: x.shape.map((d, i) => (axes.includes(i) ? unknownDim(node, i) : d)) }];
    if (pads.length !== 2 * axes.length)
      throw shapeError(node, `pads [${pads.join(', ')}] must hold a begin and an end for each of the ${axes.length} padded axes of ${formatShape(x.shape)}`);
    const shape: Dim[] = [...x.shape];
    axes.forEach((axis, j) => {
      const grow = (pads[j] as number) + (pads[axes.length + j] as number);
      const d = x.shape[axis] as Dim;
      if (typeof d === 'number') {
        if (d + grow < 0) throw shapeError(node, `pads [${pads.join(', ')}] crop axis ${axis} of ${formatShape(x.shape)} below zero`);
        shape[axis] = d + grow;
      } else shape[axis] = grow === 0 ? d : unknownDim(node, axis);
    });
    return [{ dtype: x.dtype, shape }];
  },
};
