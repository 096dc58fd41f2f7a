import { formatShape, shapeError } from './dims.js';
import type { OpDef } from './types.js';
import { input } from './util.js';

/** ScatterND(data, indices, updates): the output has the data's shape and type (Gather's gradient). */
export const scatterND: OpDef = {
  op: 'ScatterND',
  inferShape({ node, inputs }) {
    const data = input(node, inputs, 0);
    const indices = input(node, inputs, 1);
    const updates = input(node, inputs, 2);
    if (indices.dtype !== 'int64') throw shapeError(node, `indices must be int64, got ${indices.dtype}; Cast them`);
    if (updates.dtype !== data.dtype) throw shapeError(node, `updates are ${updates.dtype} but data is ${data.dtype}; Cast the updates`);
    if (indices.shape.length === 0) throw shapeError(node, `indices ${formatShape(indices.shape)} must have rank ≥ 1`);
    return [{ dtype: data.dtype, shape: [...data.shape] }];
  },
};
