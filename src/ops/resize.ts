// Resize (opset 10: X, scales; opset 11+: X, roi, scales, sizes; opset 18 adds `axes` and
// `keep_aspect_ratio_policy`). Whittle emits it in the MaxPool gradient (nearest-neighbour
// upsampling) and models use it for upsampling. Upsample, its opset 7–9 predecessor, shares the
// scaling rule.
import { WhittleError } from '../ir/errors.js';
import type { Dim, GraphBuilder, Node } from '../ir/graph.js';
import { attr, getInt, getString } from '../ir/graph.js';
import { Tensor } from '../ir/tensor.js';
import type { TypeShape } from '../ir/shape.js';
import { constantValues } from '../ir/shape.js';
import { blockAll } from './channels.js';
import { constantInts, formatShape, shapeError, unknownDim } from './dims.js';
import type { ChannelContext, ChannelLayout, OpDef } from './types.js';
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

/** Resize's attributes that shape its interpolation weights (not `axes`: the weights are built per axis). */
const WEIGHT_ATTRIBUTES = ['mode', 'coordinate_transformation_mode', 'nearest_mode', 'cubic_coeff_a', 'exclude_outside', 'antialias'];

/**
 * The [out, in] interpolation matrix of axis `axis`: Resize of the [in, in] identity along its
 * first axis with the node's own mode and coordinate mapping, so it matches the forward exactly.
 */
function axisWeights(b: GraphBuilder, node: Node, inDim: number, dtype: Tensor['dtype'], target: { scale: number } | { size: string }): string {
  const eye = Tensor.fromArray(
    dtype,
    [inDim, inDim],
    Array.from({ length: inDim * inDim }, (_, k) => (Math.floor(k / inDim) === k % inDim ? 1 : 0)),
  );
  const attributes = Object.fromEntries(WEIGHT_ATTRIBUTES.flatMap((k) => (node.attributes[k] ? [[k, node.attributes[k]]] : [])));
  const I = b.constant(eye, 'eye');
  if ('scale' in target) return b.op1('Resize', [I, '', b.constant(Tensor.fromArray('float32', [2], [target.scale, 1]), 'scales')], attributes);
  const sizes = b.op1('Concat', [target.size, b.constant(Tensor.int64([inDim]), 'in')], { axis: attr.int(0) });
  return b.op1('Resize', [I, '', '', sizes], attributes);
}

/**
 * True when the computed `sizes` of `ctx`'s Resize take axis `axis` from the resized input's own
 * shape: `Concat(Slice(Shape(X), [0], [k]), …)` with k > axis, as PyTorch exports
 * `F.interpolate(x, size=(h, w))`, or `Concat(Shape(X, end=k), …)`.
 */
function sizesKeepAxis(ctx: ChannelContext, axis: number): boolean {
  const concat = ctx.producer(3);
  if (concat?.opType !== 'Concat' || concat.inputs[0] === undefined) return false;
  const graph = ctx.graph;
  const lead = graph.nodes.find((n) => n.outputs.includes(concat.inputs[0] as string));
  const x = ctx.node.inputs[0];
  if (lead?.opType === 'Shape') return lead.inputs[0] === x && getInt(lead, 'start', 0) === 0 && getInt(lead, 'end', Number.MAX_SAFE_INTEGER) > axis;
  if (lead?.opType !== 'Slice') return false;
  const shape = graph.nodes.find((n) => n.outputs.includes(lead.inputs[0] ?? ''));
  if (shape?.opType !== 'Shape' || shape.inputs[0] !== x || getInt(shape, 'start', 0) !== 0) return false;
  const constants = constantValues(graph);
  const value = (i: number): number[] | undefined => {
    const name = lead.inputs[i];
    return name ? constants.get(name)?.toNumbers().map(Number) : undefined;
  };
  const [starts, ends, axes, steps] = [value(1), value(2), value(3), value(4)];
  return (
    starts?.length === 1 &&
    starts[0] === 0 &&
    (ends?.[0] ?? 0) > axis &&
    (lead.inputs[3] ? axes?.length === 1 && axes[0] === 0 : true) &&
    (lead.inputs[4] ? steps?.length === 1 && steps[0] === 1 : true)
  );
}

/**
 * Resize keeps the channels of its traced input when it does not resize their axis: a scale of 1
 * there, a constant size equal to the channel count (rewritten when they are thinned), or sizes
 * computed from the input's own shape on that axis (PyTorch's `interpolate(x, size=…)`).
 */
function resizeChannels(ctx: ChannelContext): (ChannelLayout | undefined)[] {
  const l = ctx.layout(0);
  const what = `Resize "${ctx.node.name}"`;
  if (l === undefined || ctx.traced.length !== 1) return blockAll(ctx, `${what} reads them as its scales or sizes`);
  if (ctx.node.attributes['axes'] !== undefined) return blockAll(ctx, `${what} has an axes attribute, which Whittle has no channel rule for`);
  const a = l.axis;
  if (ctx.node.inputs[3]) {
    const sizes = ctx.constant(3)?.toNumbers().map(Number);
    if (sizes === undefined) return sizesKeepAxis(ctx, a) ? [l] : blockAll(ctx, `${what} computes its sizes in a way Whittle cannot tell keeps axis ${a}`);
    const seg = l.segs[0];
    if (sizes[a] !== ctx.inputs[0]?.shape[a]) return blockAll(ctx, `${what} resizes the channel axis ${a}`);
    if (l.segs.length !== 1 || seg === undefined || seg.repeat !== 1) return blockAll(ctx, `${what} has constant sizes and channels from several layers`);
    ctx.rewriteInput(seg.src, ctx.node.name, 3, (kept) => Tensor.int64(sizes.map((d, i) => (i === a ? kept : d))));
    return [l];
  }
  const scalesAt = ctx.node.inputs.length === 2 ? 1 : 2;
  const scale = ctx.constant(scalesAt)?.toNumbers().map(Number)[a];
  return scale === 1 ? [l] : blockAll(ctx, `${what} ${scale === undefined ? 'computes its scales' : 'resizes the channel axis'}`);
}

/** Output dims: the constant `sizes`, or floor(input · scale) for constant `scales`. */
export const resize: OpDef = {
  channels: resizeChannels,
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
  /**
   * Resize is linear in X and separable by axis: Y = X ×ₐ Mₐ over the resized axes, so
   * dX = dY ×ₐ Mₐᵀ, one MatMul per resized axis, with each Mₐ made by Resize itself (nearest,
   * linear and cubic alike). Needs static input dims on the resized axes; tf_crop_and_resize
   * (which reads roi) and opset 18's `axes` have no rule.
   */
  gradient({ node, b, dy, inputs, outputs, constant }) {
    const g = dy[0];
    const x = inputs[0];
    const y = outputs[0];
    if (g === undefined || x === undefined || y === undefined) return [];
    const mode = getString(node, 'coordinate_transformation_mode', 'half_pixel');
    if (mode === 'tf_crop_and_resize' || node.attributes['axes'] !== undefined || node.inputs.length === 2) {
      throw new WhittleError(
        'NO_GRADIENT',
        `Resize "${node.name}": no gradient rule for ${node.inputs.length === 2 ? 'the opset-10 form' : mode === 'tf_crop_and_resize' ? 'tf_crop_and_resize' : 'the axes attribute'}; re-export with scales or sizes for every axis`,
      );
    }
    const rank = x.shape.length;
    const scales = node.inputs[2] ? constant(2)?.toNumbers() : undefined;
    const useScales = scales !== undefined && scales.length === rank;
    const yShape = useScales ? undefined : b.op1('Shape', [node.outputs[0] as string]);
    let d = g;
    for (let a = 0; a < rank; a++) {
      const inDim = x.shape[a];
      const outDim = y.shape[a];
      if (useScales ? scales[a] === 1 : inDim === outDim && typeof inDim === 'number') continue;
      if (typeof inDim !== 'number')
        throw new WhittleError('NO_GRADIENT', `Resize "${node.name}": axis ${a} of the input has no static size, which its gradient rule needs`);
      const target = useScales
        ? { scale: scales[a] as number }
        : { size: b.op1('Slice', [yShape as string, b.constant(Tensor.int64([a]), 'start'), b.constant(Tensor.int64([a + 1]), 'end')]) };
      const M = axisWeights(b, node, inDim, x.dtype, target);
      const perm = Array.from({ length: rank }, (_, i) => (i === a ? rank - 1 : i === rank - 1 ? a : i));
      const last = a === rank - 1;
      const moved = last ? d : b.op1('Transpose', [d], { perm: attr.ints(perm) });
      const back = b.op1('MatMul', [moved, M]);
      d = last ? back : b.op1('Transpose', [back], { perm: attr.ints(perm) });
    }
    return [d];
  },
};
