import { getInt } from '../ir/graph.js';
import { formatShape, shapeError } from './dims.js';
import type { OpDef } from './types.js';
import { input, normAxis } from './util.js';

/** GatherElements(data, indices, axis): the output has the indices' shape and the data's type. */
export const gatherElements: OpDef = {
  op: 'GatherElements',
  inferShape({ node, inputs }) {
    const data = input(node, inputs, 0);
    const indices = input(node, inputs, 1);
    if (indices.shape.length !== data.shape.length)
      throw shapeError(node, `indices ${formatShape(indices.shape)} must have the rank of data ${formatShape(data.shape)}; Unsqueeze them`);
    normAxis(node, getInt(node, 'axis', 0), data.shape.length);
    return [{ dtype: data.dtype, shape: [...indices.shape] }];
  },
};
