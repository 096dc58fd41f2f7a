import { getInt } from '../ir/graph.js';
import { formatShape, shapeError } from './dims.js';
import type { OpDef } from './types.js';
import { input, normAxis } from './util.js';

/** ScatterElements(data, indices, updates, axis): the output has the data's shape and type. */
export const scatterElements: OpDef = {
  op: 'ScatterElements',
  inferShape({ node, inputs }) {
    const data = input(node, inputs, 0);
    const indices = input(node, inputs, 1);
    const updates = input(node, inputs, 2);
    if (indices.shape.length !== data.shape.length || updates.shape.length !== data.shape.length) {
      throw shapeError(
        node,
        `data ${formatShape(data.shape)}, indices ${formatShape(indices.shape)} and updates ${formatShape(updates.shape)} must all have the same rank`,
      );
    }
    if (updates.dtype !== data.dtype) throw shapeError(node, `updates are ${updates.dtype} but data is ${data.dtype}; Cast the updates`);
    normAxis(node, getInt(node, 'axis', 0), data.shape.length);
    return [{ dtype: data.dtype, shape: [...data.shape] }];
  },
};
