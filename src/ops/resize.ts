// Resize (opset 10: X, scales; opset 11+: X, roi, scales, sizes; opset 18 adds `axes` and
// `keep_aspect_ratio_policy`). Shape rule only: Whittle emits it in the MaxPool gradient
// (nearest-neighbour upsampling) and models use it for upsampling. Upsample, its opset 7–9
// predecessor, shares the scaling rule.
import type { Dim, Node } from '../ir/graph.js';
import { getString } from '../ir/graph.js';
import type { TypeShape } from '../ir/shape.js';
import { constantInts, formatShape, shapeError, unknownDim } from './dims.js';
import type { OpDef } from './types.js';
import { input } from './util.js';

/** floor(input · scale) per axis; symbolic dims scaled by anything but 1 become unknown. */
export function scaledShape(node: Node, x: TypeShape, scales: readonly number[]): TypeShape {
  if (scales.length !== x.shape.length)
    throw shapeError(node, `scales [${scales.join(', ')}] must have one entry per axis of the input ${formatShape(x.shape)}`);
  const shape: Dim[] = x.shape.map((d, i) => {
    const s = scales[i] as number;
    if (s === 1) return d;
    return typeof d === 'number' ? Math.floor(d * s) : unknownDim(node, i);
  });
  return { dtype: x.dtype, shape };
}

/** Output dims: the constant `sizes`, or floor(input · scale) for constant `scales`. */
export const resize: OpDef = {
  op: 'Resize',
  inferShape({ node, inputs, constant }) {
    const x = input(node, inputs, 0);
    const rank = x.shape.length;
    const unknown = [{ dtype: x.dtype, shape: x.shape.map((_, i) => unknownDim(node, i)) }];
    // Opset 18's partial axes and aspect-ratio policies change what sizes/scales mean: leave those to onnxruntime.
    if (node.attributes['axes'] !== undefined || getString(node, 'keep_aspect_ratio_policy', 'stretch') !== 'stretch') return unknown;
    // Opset 10 has no roi: its second input is the scales.
    const scalesAt = node.inputs.length === 2 ? 1 : 2;
    const sizes = constantInts(node, constant, 3);
    if (sizes !== undefined && sizes.length > 0) {
      if (sizes.length !== rank) throw shapeError(node, `sizes [${sizes.join(', ')}] must have one entry per axis of the input ${formatShape(x.shape)}`);
      return [{ dtype: x.dtype, shape: sizes }];
    }
    const scales = node.inputs[scalesAt] ? constant(scalesAt)?.toNumbers() : undefined;
    if (scales !== undefined && scales.length > 0) return [scaledShape(node, x, scales)];
    return unknown;
  },
};
