// MaxUnpool (opset 11+: X, I, optional output_shape). Shape rule only: Whittle emits it in the
// MaxPool gradient, where it scatters dY to the positions MaxPool's Indices recorded.
import { constantInts, formatShape, shapeError, unknownDim } from './dims.js';
import type { OpDef } from './types.js';
import { input } from './util.js';
import { windowAttrs } from './window.js';

/** Output dims: the constant output_shape, else (in − 1)·stride + kernel − pads per spatial axis. */
export const maxUnpool: OpDef = {
  op: 'MaxUnpool',
  inferShape({ node, inputs, constant }) {
    const x = input(node, inputs, 0);
    const rank = x.shape.length;
    if (rank < 3) throw shapeError(node, `expects input [N, C, spatial…] of rank ≥ 3, got ${formatShape(x.shape)}`);
    if (node.inputs[2]) {
      const given = constantInts(node, constant, 2);
      if (given === undefined) return [{ dtype: x.dtype, shape: x.shape.map((_, i) => unknownDim(node, i)) }];
      if (given.length !== rank) throw shapeError(node, `output_shape [${given.join(', ')}] must have one entry per axis of the input ${formatShape(x.shape)}`);
      return [{ dtype: x.dtype, shape: given }];
    }
    const a = windowAttrs(node, rank - 2);
    const spatial = x.shape
      .slice(2)
      .map((d, i) =>
        typeof d === 'number'
          ? (d - 1) * (a.strides[i] as number) + (a.kernel[i] as number) - (a.pads[i] as number) - (a.pads[i + rank - 2] as number)
          : unknownDim(node, i + 2),
      );
    return [{ dtype: x.dtype, shape: [x.shape[0] ?? 'N', x.shape[1] ?? 'C', ...spatial] }];
  },
};
