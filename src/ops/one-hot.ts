import { getInt } from '../ir/graph.js';
import type { Dim } from '../ir/graph.js';
import { formatShape, shapeError, unknownDim } from './dims.js';
import type { OpDef } from './types.js';
import { input, normAxis } from './util.js';

/**
 * OneHot(indices, depth, values): a new axis of size depth at `axis` (default −1, counted in
 * the output's rank); the type of `values` ([off, on]).
 */
export const oneHot: OpDef = {
  op: 'OneHot',
  inferShape({ node, inputs, constant }) {
    const indices = input(node, inputs, 0);
    const depthInput = input(node, inputs, 1);
    const values = input(node, inputs, 2);
    if (depthInput.shape.length > 1 || (depthInput.shape.length === 1 && depthInput.shape[0] !== 1)) {
      throw shapeError(node, `depth must be a scalar or a one-element tensor, got ${formatShape(depthInput.shape)}`);
    }
    if (values.shape.length !== 1 || values.shape[0] !== 2) throw shapeError(node, `values must be [off, on] (shape [2]), got ${formatShape(values.shape)}`);
    const rank = indices.shape.length + 1;
    const axis = normAxis(node, getInt(node, 'axis', -1), rank);
    const d = constant(1)?.toNumbers()[0];
    const depth: Dim = d === undefined ? unknownDim(node, axis) : d;
    const shape = [...indices.shape];
    shape.splice(axis, 0, depth);
    return [{ dtype: values.dtype, shape }];
  },
};
