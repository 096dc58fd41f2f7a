// Resize (opset 11+: X, roi, scales, sizes). Shape rule only: Whittle emits it in the MaxPool
// gradient (nearest-neighbour upsampling) and models use it for upsampling.
import type { Dim } from '../ir/graph.js';
import { constantInts, formatShape, shapeError, unknownDim } from './dims.js';
import type { OpDef } from './types.js';
import { input } from './util.js';

/** Output dims: the constant `sizes`, or floor(input · scale) for constant `scales`. */
export const resize: OpDef = {
  op: 'Resize',
  inferShape({ node, inputs, constant }) {
    const x = input(node, inputs, 0);
    const rank = x.shape.length;
    const sizes = constantInts(node, constant, 3);
    if (sizes !== undefined && sizes.length > 0) {
      if (sizes.length !== rank) throw shapeError(node, `sizes [${sizes.join(', ')}] must have one entry per axis of the input ${formatShape(x.shape)}`);
      return [{ dtype: x.dtype, shape: sizes }];
    }
    const scales = node.inputs[2] ? constant(2)?.toNumbers() : undefined;
    if (scales !== undefined && scales.length > 0) {
      if (scales.length !== rank) throw shapeError(node, `scales [${scales.join(', ')}] must have one entry per axis of the input ${formatShape(x.shape)}`);
      const shape: Dim[] = x.shape.map((d, i) => {
        const s = scales[i] as number;
        if (s === 1) return d;
        return typeof d === 'number' ? Math.floor(d * s) : unknownDim(node, i);
      });
      return [{ dtype: x.dtype, shape }];
    }
    return [{ dtype: x.dtype, shape: x.shape.map((_, i) => unknownDim(node, i)) }];
  },
};
