// Channel rules shared by several ops (each op file names the one it follows). A rule says how
// an op moves, ties or creates the channels structured pruning traces: see ChannelRule.
import { getInt, getInts } from '../ir/graph.js';
import type { Tensor } from '../ir/tensor.js';
import type { ChannelContext, ChannelLayout, ChannelRule } from './types.js';

const what = (ctx: ChannelContext): string => `${ctx.node.opType} "${ctx.node.name}"`;

/** Blocks every traced input with one reason; returns no output layouts. */
export function blockAll(ctx: ChannelContext, reason: string): [] {
  for (const i of ctx.traced) ctx.block(ctx.layout(i), reason);
  return [];
}

const rankOf = (ctx: ChannelContext, i: number): number | undefined => ctx.inputs[i]?.shape.length;
const ints = (t: Tensor | undefined): number[] | undefined => (t === undefined ? undefined : t.toNumbers().map(Number));
const norm = (a: number, rank: number): number => (a < 0 ? a + rank : a);

/** Ops that compute each element from the same element of input 0 (activations, casts); extra inputs are scalars. */
export const unaryChannels: ChannelRule = (ctx) => {
  const l = ctx.layout(0);
  if (l === undefined || ctx.traced.length !== 1) return blockAll(ctx, `${what(ctx)} mixes its inputs`);
  return [l];
};

/** Pooling over spatial axes: channels on axis 1 pass; pooling indices would encode channel positions. */
export const poolChannels: ChannelRule = (ctx) => {
  const l = ctx.layout(0);
  if (l === undefined || l.axis !== 1 || ctx.traced.length !== 1) return blockAll(ctx, `${what(ctx)} pools across them`);
  if (ctx.node.outputs[1]) return blockAll(ctx, `${what(ctx)} outputs indices that encode channel positions`);
  return [l];
};

/** Shape and Size read only the dimensions of their input: no channel is read, none is traced. */
export const shapeOnlyChannels: ChannelRule = () => [];

/**
 * Broadcasting elementwise ops (Add, Mul, Sum…): traced operands must carry the same channels
 * on the same output axis and are tied (a residual addition, a squeeze-excite scale); constants
 * must be scalars or per-channel along that axis; operands of size 1 on it broadcast.
 */
export const elementwiseChannels: ChannelRule = (ctx) => {
  const outRank = ctx.outputs[0]?.shape.length;
  const tracedInputs = ctx.traced;
  if (tracedInputs.length === 0) return [];
  if (outRank === undefined) return blockAll(ctx, `${what(ctx)} has an output of unknown shape`);
  let first: ChannelLayout | undefined;
  let axis = -1;
  for (const i of tracedInputs) {
    const l = ctx.layout(i) as ChannelLayout;
    const rank = rankOf(ctx, i);
    if (rank === undefined) return blockAll(ctx, `${what(ctx)} reads an operand of unknown shape`);
    const a = l.axis + outRank - rank;
    if (first === undefined) {
      first = l;
      axis = a;
    } else if (a !== axis) return blockAll(ctx, `${what(ctx)} combines values whose channels do not line up`);
  }
  const lead = first as ChannelLayout;
  for (let i = 0; i < ctx.node.inputs.length; i++) {
    const name = ctx.node.inputs[i];
    if (!name || ctx.layout(i) !== undefined) continue;
    const shape = ctx.inputs[i]?.shape;
    const c = ctx.constant(i);
    if (shape === undefined) {
      if (c !== undefined && c.size === 1) continue;
      return blockAll(ctx, `${what(ctx)} mixes in "${name}", whose channels are not traced`);
    }
    const k = axis - (outRank - shape.length);
    // Size 1 along the channel axis: the same value for every channel, which couples nothing.
    if (k < 0 || shape[k] === 1) continue;
    if (c !== undefined && ctx.isInitializer(i) && c.dims.every((d, j) => j === k || d === 1)) ctx.along({ axis: k, segs: lead.segs }, name, k, 'const');
    else if (c !== undefined) return blockAll(ctx, `${what(ctx)} mixes in a constant that is not per-channel`);
    else return blockAll(ctx, `${what(ctx)} mixes in "${name}", whose channels are not traced`);
  }
  for (const i of tracedInputs) {
    if (!ctx.unify(lead, ctx.layout(i) as ChannelLayout)) return blockAll(ctx, `${what(ctx)} adds values whose channels do not line up`);
  }
  return [{ axis, segs: lead.segs }];
};

/**
 * Conv, Gemm and MatMul with a weight initializer: their output channels are a new source (the
 * weight's output axis and the bias go with it); the input's channels reach the weight's input
 * axis. A depthwise Conv (group = channels) passes its input's channels through instead.
 */
export const layerChannels: ChannelRule = (ctx) => {
  const { node } = ctx;
  const x = ctx.layout(0);
  const weight = node.inputs[1];
  const w = ctx.constant(1);
  if (!weight || w === undefined || !ctx.isInitializer(1) || w.dims.length < 2 || ctx.layout(1) !== undefined)
    return blockAll(ctx, `${what(ctx)} multiplies by a computed value`);
  const bias = node.inputs[2] && ctx.isInitializer(2) ? node.inputs[2] : undefined;
  let inAxis = 1;
  let outAxis = 0;
  let notPlain: string | undefined;
  const xRank = rankOf(ctx, 0);
  let chanAxis = 1;
  if (node.opType === 'Gemm') {
    const transB = getInt(node, 'transB', 0);
    inAxis = transB ? 1 : 0;
    outAxis = transB ? 0 : 1;
    if (getInt(node, 'transA', 0)) notPlain = 'transposes its input';
  } else if (node.opType === 'MatMul') {
    inAxis = 0;
    outAxis = 1;
    if (w.dims.length !== 2 || xRank === undefined || xRank < 2) notPlain = 'is not a plain layer';
    else chanAxis = xRank - 1;
  }
  const cout = w.dims[outAxis] as number;
  if (node.opType === 'Conv' && getInt(node, 'group', 1) !== 1) {
    const g = getInt(node, 'group', 1);
    // Depthwise: each output channel reads its own input channel, so both are one group.
    if (x !== undefined && x.axis === 1 && g === cout && w.dims[1] === 1 && x.segs.reduce((a, s) => a + s.count * s.repeat, 0) === cout) {
      ctx.along(x, weight, 0, 'out');
      if (bias) ctx.along(x, bias, 0, 'out');
      return [x];
    }
    const why = `grouped Conv "${node.name}" couples its channels`;
    ctx.block(x, why);
    return [ctx.produce(cout, 1, why)];
  }
  if (notPlain !== undefined) {
    const why = `${what(ctx)} ${notPlain}`;
    ctx.block(x, why);
    return [ctx.produce(cout, xRank !== undefined ? Math.max(1, xRank - 1) : 1, why)];
  }
  for (const i of ctx.traced) if (i > 0) ctx.block(ctx.layout(i), `${what(ctx)} reads them as a bias`);
  if (x !== undefined) {
    if (x.axis !== chanAxis) ctx.block(x, `${what(ctx)} reads them on an axis it does not reduce`);
    else if (node.opType === 'Conv' && x.segs.some((s) => s.repeat !== 1)) ctx.block(x, `Conv "${node.name}" reads a reshaped value`);
    else ctx.along(x, weight, inAxis, 'in');
  }
  const out = ctx.produce(cout, chanAxis);
  const src = (out.segs[0] as { src: number }).src;
  ctx.member(src, weight, outAxis, 0, 1, 'out');
  if (bias) {
    const bt = ctx.constant(2) as Tensor;
    if (bt.size === cout) ctx.member(src, bias, bt.dims.length - 1, 0, 1, 'out');
    else if (bt.size !== 1) ctx.block(out, `the bias of ${what(ctx)} is not per-channel`);
  }
  return [out];
};

/** BatchNormalization and InstanceNormalization: their per-channel parameters (scale, shift, statistics) follow the channels on axis 1. */
export const batchNormChannels: ChannelRule = (ctx) => {
  const l = ctx.layout(0);
  if (l === undefined || l.axis !== 1 || ctx.traced.length !== 1) return blockAll(ctx, `${what(ctx)} normalizes over them`);
  for (let i = 1; i < ctx.node.inputs.length; i++) {
    const t = ctx.node.inputs[i];
    if (t && ctx.isInitializer(i)) ctx.along(l, t, 0, 'norm');
    else ctx.block(l, `${what(ctx)} has a computed parameter`);
  }
  if (ctx.node.outputs.slice(1).some(Boolean)) ctx.block(l, `${what(ctx)} exports statistics`);
  return [l];
};

/**
 * GroupNormalization: each group of C/num_groups channels on axis 1 shares its statistics. With
 * one channel per group (num_groups = C) the channels stay independent and scale and bias
 * follow them (thinning rewrites num_groups); wider groups couple their channels, which Whittle
 * cannot yet prune a whole group at a time, so the channels are blocked with the sizes named.
 */
export const groupNormChannels: ChannelRule = (ctx) => {
  const l = ctx.layout(0);
  if (l === undefined || l.axis !== 1 || ctx.traced.length !== 1) return blockAll(ctx, `${what(ctx)} normalizes over them`);
  const groups = getInt(ctx.node, 'num_groups', 1);
  const channels = l.segs.reduce((a, s) => a + s.count * s.repeat, 0);
  if (groups !== channels || l.segs.some((s) => s.repeat !== 1))
    return blockAll(
      ctx,
      `${what(ctx)} normalizes groups of ${channels / groups} channels together (num_groups ${groups} of ${channels}); removing single channels would change its statistics`,
    );
  for (let i = 1; i < ctx.node.inputs.length; i++) {
    const t = ctx.node.inputs[i];
    if (t && ctx.isInitializer(i)) ctx.along(l, t, 0, 'norm');
    else if (t) ctx.block(l, `${what(ctx)} has a computed parameter`);
  }
  return [l];
};

/**
 * Tile: the channel axis repeated r times holds r copies of the channels, one after another (a
 * Concat of the value with itself); other axes leave them in place. Repeats must be constant.
 */
export const tileChannels: ChannelRule = (ctx) => {
  const l = ctx.layout(0);
  const reps = ctx.node.inputs[1] ? ints(ctx.constant(1)) : undefined;
  if (l === undefined || ctx.traced.length !== 1 || reps === undefined) return blockAll(ctx, `${what(ctx)} repeats by a computed count`);
  const r = reps[l.axis] ?? 1;
  return [{ axis: l.axis, segs: Array.from({ length: r }, () => l.segs).flat() }];
};

/** Normalizations over trailing axes (LayerNormalization): channels on a normalized axis are coupled through the statistics. */
export const layerNormChannels: ChannelRule = (ctx) => {
  const l = ctx.layout(0);
  const rank = rankOf(ctx, 0);
  if (l === undefined || rank === undefined || ctx.traced.length !== 1) return blockAll(ctx, `${what(ctx)} normalizes over them`);
  if (l.axis >= norm(getInt(ctx.node, 'axis', -1), rank)) return blockAll(ctx, `${what(ctx)} normalizes over them`);
  return [l];
};

/**
 * Flatten, and Reshape to [N, C·H·W]: each channel repeats over the spatial size. A Reshape that
 * leaves the channel axis and every axis after it as they were passes the channels through.
 */
export const flattenChannels: ChannelRule = (ctx) => {
  const l = ctx.layout(0);
  if (l === undefined || ctx.traced.length !== 1) return blockAll(ctx, `${what(ctx)} reshapes by a traced value`);
  const full = ctx.inputs[0]?.shape;
  const outShape = ctx.outputs[0]?.shape;
  if (full !== undefined && outShape !== undefined) {
    const numeric = (s: readonly (number | string)[]): s is number[] => s.every((d) => typeof d === 'number');
    const inShape = full.slice(1);
    const axis = ctx.node.opType === 'Flatten' ? getInt(ctx.node, 'axis', 1) : 1;
    if (l.axis === 1 && numeric(inShape) && axis === 1 && outShape.length === 2 && inShape.length >= 1) {
      const spatial = inShape.slice(1).reduce((a, d) => a * d, 1);
      const features = inShape.reduce((a, d) => a * d, 1);
      if (outShape[1] === features || typeof outShape[1] === 'string') return [{ axis: 1, segs: l.segs.map((s) => ({ ...s, repeat: s.repeat * spatial })) }];
    }
    const tail = full.slice(l.axis);
    const b = outShape.length - tail.length;
    if (ctx.node.opType === 'Reshape' && numeric(tail) && b >= 0 && tail.every((d, k) => outShape[b + k] === d)) return [{ axis: b, segs: l.segs }];
  }
  return blockAll(ctx, `${what(ctx)} reshapes the channel axis`);
};

/** Concat: along the channel axis the layouts are concatenated; along another axis the operands' channels are tied. */
export const concatChannels: ChannelRule = (ctx) => {
  const rank = ctx.outputs[0]?.shape.length ?? rankOf(ctx, 0);
  const all = ctx.node.inputs.map((_, i) => ctx.layout(i));
  if (rank === undefined || !all.every((l): l is ChannelLayout => l !== undefined)) return blockAll(ctx, `${what(ctx)} joins them with untraced values`);
  const axis = norm(getInt(ctx.node, 'axis', 1), rank);
  const first = all[0] as ChannelLayout;
  if (!all.every((l) => l.axis === first.axis)) return blockAll(ctx, `${what(ctx)} joins values whose channels do not line up`);
  if (first.axis === axis) return [{ axis, segs: all.flatMap((l) => l.segs) }];
  for (const l of all) if (!ctx.unify(first, l)) return blockAll(ctx, `${what(ctx)} joins values whose channels do not line up`);
  return [first];
};

/** Transpose moves the channel axis to where the permutation puts it. */
export const transposeChannels: ChannelRule = (ctx) => {
  const l = ctx.layout(0);
  const rank = rankOf(ctx, 0);
  if (l === undefined || rank === undefined) return blockAll(ctx, `${what(ctx)} has an input of unknown rank`);
  const perm = getInts(ctx.node, 'perm') ?? Array.from({ length: rank }, (_, i) => rank - 1 - i);
  return [{ axis: perm.indexOf(l.axis), segs: l.segs }];
};

/** The axes a Squeeze/Unsqueeze/Reduce names, from its attribute or its constant second input. */
function axesOf(ctx: ChannelContext): number[] | undefined {
  return getInts(ctx.node, 'axes') ?? (ctx.node.inputs[1] ? ints(ctx.constant(1)) : undefined);
}

/** Squeeze removes size-1 axes: the channel axis shifts left past them. */
export const squeezeChannels: ChannelRule = (ctx) => {
  const l = ctx.layout(0);
  const rank = rankOf(ctx, 0);
  const axes = axesOf(ctx)?.map((a) => norm(a, rank ?? 0));
  if (l === undefined || rank === undefined || axes === undefined || axes.includes(l.axis)) return blockAll(ctx, `${what(ctx)} removes the channel axis`);
  return [{ axis: l.axis - axes.filter((a) => a < l.axis).length, segs: l.segs }];
};

/** Unsqueeze inserts size-1 axes: the channel axis moves to its place among the output's axes. */
export const unsqueezeChannels: ChannelRule = (ctx) => {
  const l = ctx.layout(0);
  const rank = rankOf(ctx, 0);
  const axesRaw = axesOf(ctx);
  if (l === undefined || rank === undefined || axesRaw === undefined) return blockAll(ctx, `${what(ctx)} has axes Whittle cannot read`);
  const outRank = rank + axesRaw.length;
  const inserted = new Set(axesRaw.map((a) => norm(a, outRank)));
  let seen = -1;
  for (let o = 0; o < outRank; o++) {
    if (inserted.has(o)) continue;
    seen++;
    if (seen === l.axis) return [{ axis: o, segs: l.segs }];
  }
  return blockAll(ctx, `${what(ctx)} has axes Whittle cannot read`);
};

/** Gather along another axis keeps the channels (shifted by the indices' rank); along the channel axis it picks some. */
export const gatherChannels: ChannelRule = (ctx) => {
  const l = ctx.layout(0);
  const rank = rankOf(ctx, 0);
  const idx = ctx.inputs[1]?.shape.length;
  if (l === undefined || rank === undefined || idx === undefined || ctx.traced.length !== 1) return blockAll(ctx, `${what(ctx)} indexes by a traced value`);
  const axis = norm(getInt(ctx.node, 'axis', 0), rank);
  if (axis === l.axis) return blockAll(ctx, `${what(ctx)} picks some of them`);
  return [{ axis: l.axis < axis ? l.axis : l.axis - 1 + idx, segs: l.segs }];
};

/** Slice on other axes keeps the channels; a Slice of the channel axis picks some. */
export const sliceChannels: ChannelRule = (ctx) => {
  const l = ctx.layout(0);
  const rank = rankOf(ctx, 0);
  if (l === undefined || rank === undefined || ctx.traced.length !== 1) return blockAll(ctx, `${what(ctx)} slices by a traced value`);
  const axes =
    getInts(ctx.node, 'axes') ??
    (ctx.node.inputs[3]
      ? ints(ctx.constant(3))
      : Array.from({ length: ctx.inputs[1]?.shape[0] === undefined ? rank : Number(ctx.inputs[1]?.shape[0]) }, (_, i) => i));
  if (axes === undefined || axes.map((a) => norm(a, rank)).includes(l.axis)) return blockAll(ctx, `${what(ctx)} slices the channel axis`);
  return [l];
};

/** Softmax and its kin mix every element from `axis` on (before opset 13) or along `axis`: channels before it pass. */
export const softmaxChannels: ChannelRule = (ctx) => {
  const l = ctx.layout(0);
  const rank = rankOf(ctx, 0);
  if (l === undefined || rank === undefined) return blockAll(ctx, `${what(ctx)} has an input of unknown rank`);
  if (l.axis >= norm(getInt(ctx.node, 'axis', -1), rank)) return blockAll(ctx, `${what(ctx)} normalizes over them`);
  return [l];
};

/** Reductions over other axes keep the channels; over the channel axis they mix them. */
export const reduceChannels: ChannelRule = (ctx) => {
  const l = ctx.layout(0);
  const rank = rankOf(ctx, 0);
  const axes = axesOf(ctx)?.map((a) => norm(a, rank ?? 0));
  if (l === undefined || rank === undefined || axes === undefined || axes.length === 0 || axes.includes(l.axis))
    return blockAll(ctx, `${what(ctx)} reduces over them`);
  return [{ axis: getInt(ctx.node, 'keepdims', 1) ? l.axis : l.axis - axes.filter((a) => a < l.axis).length, segs: l.segs }];
};

/**
 * LSTM, GRU and RNN: each hidden unit is a source whose slices are its rows in every gate block
 * of W, R and B (and the peephole P), plus its column of R (the recurrence reads it back). The
 * input's channels reach W's input columns. An all-zero computed initial state is dropped on
 * thinning (zero is the op's default), since its shape names the hidden size.
 */
export const recurrentChannels: ChannelRule = (ctx) => {
  const { node } = ctx;
  const gates = node.opType === 'LSTM' ? 4 : node.opType === 'GRU' ? 3 : 1;
  const hidden = getInt(node, 'hidden_size', 0);
  const x = ctx.layout(0);
  const w = ctx.constant(1);
  const r = ctx.constant(2);
  const outAxes = [3, 2, 2];
  const produceBlocked = (why: string): (ChannelLayout | undefined)[] => {
    blockAll(ctx, why);
    const out = ctx.produce(hidden, 3, why);
    return node.outputs.map((_, k) => ({ axis: outAxes[k] as number, segs: out.segs }));
  };
  const what = `${node.opType} "${node.name}"`;
  if (hidden <= 0 || w === undefined || r === undefined || !ctx.isInitializer(1) || !ctx.isInitializer(2))
    return produceBlocked(`${what} has computed weights`);
  for (const i of ctx.traced) if (i !== 0) ctx.block(ctx.layout(i), `${what} reads them as a state or length`);
  const out = ctx.produce(hidden, 3);
  const src = (out.segs[0] as { src: number }).src;
  const [W, R] = [node.inputs[1] as string, node.inputs[2] as string];
  for (let g = 0; g < gates; g++) {
    ctx.member(src, W, 1, g * hidden, 1, 'out');
    ctx.member(src, R, 1, g * hidden, 1, 'out');
  }
  ctx.member(src, R, 2, 0, 1, 'in');
  const B = node.inputs[3];
  if (B) {
    if (!ctx.isInitializer(3)) ctx.block(out, `${what} has a computed bias`);
    else for (let g = 0; g < 2 * gates; g++) ctx.member(src, B, 1, g * hidden, 1, 'out');
  }
  const P = node.inputs[7];
  if (P) {
    if (!ctx.isInitializer(7)) ctx.block(out, `${what} has a computed peephole`);
    else for (let g = 0; g < 3; g++) ctx.member(src, P, 1, g * hidden, 1, 'out');
  }
  for (const i of [5, 6]) {
    const name = node.inputs[i];
    if (!name) continue;
    const p = ctx.producer(i);
    const fill = p?.opType === 'ConstantOfShape' ? p.attributes['value'] : undefined;
    const zero = p?.opType === 'ConstantOfShape' && (fill === undefined || (fill.type === 'tensor' && fill.value.toNumbers().every((v) => Number(v) === 0)));
    const c = ctx.constant(i);
    if (zero) ctx.rewriteInput(src, node.name, i, () => undefined);
    else if (c !== undefined && ctx.isInitializer(i) && c.dims.length === 3) ctx.member(src, name, 2, 0, 1, 'const');
    else ctx.block(out, `${what} starts from a computed state`);
  }
  if (x !== undefined) {
    if (x.axis !== 2) ctx.block(x, `${what} reads them on a time or batch axis`);
    else ctx.along(x, W, 2, 'in');
  }
  // Y is [T, D, B, H] (layout 0) or [B, T, D, H]; Y_h and Y_c are [D, B, H] or [B, D, H].
  return node.outputs.map((o, k) => (o ? { axis: outAxes[k] as number, segs: out.segs } : undefined));
};
