import { WhittleError } from '../ir/errors.js';
import type { DType } from '../ir/tensor.js';
import { constantInts, formatShape, shapeError, unknownDim } from './dims.js';
import type { OpDef } from './types.js';
import { input } from './util.js';

/** ConstantOfShape(shape): dims from the (constant) shape input, type from `value` (default float32). */
export const constantOfShape: OpDef = {
  op: 'ConstantOfShape',
  inferShape({ node, inputs, constant }) {
    const shapeInput = input(node, inputs, 0);
    const v = node.attributes['value'];
    let dtype: DType = 'float32';
    if (v !== undefined) {
      if (v.type !== 'tensor') throw new WhittleError('INVALID_GRAPH', `ConstantOfShape "${node.name}": value must be a one-element tensor, got ${v.type}`);
      dtype = v.value.dtype;
    }
    const dims = constantInts(node, constant, 0);
    if (dims !== undefined) {
      if (dims.some((d) => d < 0)) throw shapeError(node, `shape ${formatShape(dims)} has a negative dim`);
      return [{ dtype, shape: dims }];
    }
    const rank = shapeInput.shape[0];
    if (shapeInput.shape.length !== 1 || typeof rank !== 'number')
      throw shapeError(node, `the shape input must be 1-D of known length, got ${formatShape(shapeInput.shape)}`);
    return [{ dtype, shape: Array.from({ length: rank }, (_, i) => unknownDim(node, i)) }];
  },
};
