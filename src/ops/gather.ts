import { getInt } from '../ir/graph.js';
import { formatShape, shapeError } from './dims.js';
import type { OpDef } from './types.js';
import { input, normAxis } from './util.js';

/** Gather(data, indices, axis): data.shape[:axis] + indices.shape + data.shape[axis+1:]. */
export const gather: OpDef = {
  op: 'Gather',
  inferShape({ node, inputs }) {
    const data = input(node, inputs, 0);
    const indices = input(node, inputs, 1);
    if (data.shape.length === 0) throw shapeError(node, `cannot gather from a scalar (data ${formatShape(data.shape)})`);
    if (indices.dtype !== 'int64' && indices.dtype !== 'int32') throw shapeError(node, `indices must be int32 or int64, got ${indices.dtype}; Cast them`);
    const axis = normAxis(node, getInt(node, 'axis', 0), data.shape.length);
    return [{ dtype: data.dtype, shape: [...data.shape.slice(0, axis), ...indices.shape, ...data.shape.slice(axis + 1)] }];
  },
};
