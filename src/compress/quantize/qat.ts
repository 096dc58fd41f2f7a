// Quantization-aware training: the model itself carries fake-quant nodes (Div → Round → Clip →
// Mul by a scale), so the training step differentiates them like any other op: Round's
// straight-through rule makes the weight gradient the clipped identity and the scale gradient
// LSQ's. Binary (BWN) and ternary (TWN) weights use the same machinery. `finalizeQat` turns the
// trained model into a deployable one (QDQ int8, or packed 1-/2-bit weights).
import { WhittleError } from '../../ir/errors.js';
import type { Graph, Model, Node } from '../../ir/graph.js';
import { attr, GraphBuilder } from '../../ir/graph.js';
import { Tensor } from '../../ir/tensor.js';
import type { Bits } from '../../export/affine.js';
import { checkBits, channelRanges, quantRange } from '../../export/affine.js';
import type { CalibrationOptions } from './calibrate.js';
import { calibrate } from './calibrate.js';
import { foldBatchNorm } from './fold-bn.js';
import type { WeightedNode } from '../../export/quant-graph.js';
import { weightedNodes } from '../../export/quant-graph.js';
import { activationGroups } from './static.js';

export const QAT_SCHEMES = ['uniform', 'binary', 'ternary'] as const;
export type QatScheme = (typeof QAT_SCHEMES)[number];

export interface QatOptions {
  scheme: QatScheme;
  /** Weight bits for 'uniform' (8, 4 or 2); default 8. */
  bits?: number;
  /** 'uniform': also fake-quantize the activations feeding each layer to uint8 (learned LSQ scale); default true. */
  activations?: boolean;
  /** Calibration inputs that initialize the activation scales ('uniform' with activations). */
  samples?: Tensor;
  calibration?: CalibrationOptions;
  threads?: number;
  /** Layers (node names) left in float32, e.g. the first conv, as XNOR-Net and DoReFa do. */
  keepFloat?: readonly string[];
  /**
   * 'uniform' 8-bit with activations (integer kernels in the export): weights trained and written
   * in 7 bits, default true, so that the file computes correctly on x86 CPUs without VNNI
   * (StaticQuantOptions.reduceRange).
   */
  reduceRange?: boolean;
}

/** Where each fake-quantized weight and activation lives in the QAT model. */
export interface QatPlan {
  scheme: QatScheme;
  bits: number;
  /** 8-bit weights in [-64, 63] (QatOptions.reduceRange). */
  reduceRange?: boolean;
  /** Per layer: the float weight, its channel axis, and for 'uniform' the learned scale s = param · gradScale. */
  weights: { node: string; weight: string; axis: number; scaleParam?: string; gradScale?: number }[];
  /** Per quantized activation: the value, its fake-quantized twin, the learned scale and the zero point. */
  activations: { value: string; output: string; scaleParam: string; gradScale: number; zeroPoint: number }[];
}

export const QAT_PLAN_KEY = 'whittle.qat';

/** LSQ's gradient scale 1/√(n·qmax), applied by storing p = s/√g and using s = p·√g. */
function gradScale(n: number, qmax: number): number {
  return Math.sqrt(1 / Math.sqrt(n * qmax));
}

/**
 * `x` without a gradient path: autodiff does not differentiate through integers, so a round trip
 * through int32 at 2^-24 resolution cuts it (to 6e-8 absolute, for values below 128).
 */
export function stopGradient(b: GraphBuilder, x: string): string {
  const k = b.constant(Tensor.scalar('float32', 2 ** 24), 'two_pow_24');
  const asInt = b.op1('Cast', [b.op1('Round', [b.op1('Mul', [x, k])])], { to: attr.int(6) });
  return b.op1('Div', [b.op1('Cast', [asInt], { to: attr.int(1) }), k]);
}

function reduceAxesExcept(rank: number, axis: number | undefined): number[] {
  return Array.from({ length: rank }, (_, i) => i).filter((i) => i !== axis);
}

/** Emits the fake-quantized weight of `w` and points the layer at it. */
function fakeQuantWeight(g: Graph, b: GraphBuilder, w: WeightedNode, scheme: QatScheme, bits: Bits, reduceRange: boolean): QatPlan['weights'][number] {
  const W = w.weightName;
  const rank = w.weight.dims.length;
  const keep = { keepdims: attr.int(1) };
  const channelShape = w.weight.dims.map((d, i) => (i === w.channelAxis ? d : 1));
  let out: string;
  let scaleParam: string | undefined;
  let k: number | undefined;
  if (scheme === 'binary') {
    // BWN: α per output channel = mean |W|; Sign(W / α)·α has an identity straight-through gradient.
    // α is held constant in the backward pass (as BWN trains): its gradient would move every
    // weight of a channel by the same amount and flip the signs of the small ones together.
    const alpha = stopGradient(b, b.op1('ReduceMean', [b.op1('Abs', [W])], { ...keep, axes: attr.ints(reduceAxesExcept(rank, w.channelAxis)) }));
    out = b.op1('Mul', [b.op1('Sign', [b.op1('Div', [W, alpha])]), alpha]);
  } else if (scheme === 'ternary') {
    // TWN: Δ = 0.7·mean|W| per layer; t = clip(round(W / 2Δ), −1, 1) is ±1 exactly where |W| > Δ;
    // α = mean |W| over those weights (the mask comes from a comparison, so α's gradient skips it).
    const absW = b.op1('Abs', [W]);
    const delta = b.op1('Mul', [b.op1('ReduceMean', [absW], { keepdims: attr.int(1) }), b.constant(Tensor.scalar('float32', 0.7), 'seven_tenths')]);
    const t = b.op1('Clip', [
      b.op1('Round', [b.op1('Div', [W, b.op1('Add', [delta, delta])])]),
      b.constant(Tensor.scalar('float32', -1), 'minus_one'),
      b.constant(Tensor.scalar('float32', 1), 'one'),
    ]);
    const mask = b.op1('Cast', [b.op1('Greater', [absW, delta])], { to: attr.int(1) });
    const all = b.constant(Tensor.int64(Array.from({ length: rank }, (_, i) => i)), 'axes');
    const alpha = b.op1('Div', [b.op1('ReduceSum', [b.op1('Mul', [absW, mask]), all], keep), b.op1('ReduceSum', [mask, all], keep)]);
    out = b.op1('Mul', [t, alpha]);
  } else {
    // Uniform b-bit, symmetric per channel, LSQ-learned scale initialized from max |W|.
    const [qmin, qmax] = quantRange({ bits, signed: true, reduceRange });
    const { lo, hi } = channelRanges(w.weight.data as Float32Array, w.weight.dims, w.channelAxis);
    const gk = gradScale(w.weight.size / (channelShape[w.channelAxis] ?? 1), qmax);
    k = gk;
    const p = Float32Array.from(lo, (l, c) => Math.max(Math.abs(l), Math.abs(hi[c] as number), 1e-8) / qmax / gk);
    scaleParam = `${W}.qat_scale`;
    g.initializers.set(scaleParam, new Tensor('float32', channelShape, p));
    const s = b.op1('Mul', [scaleParam, b.constant(Tensor.scalar('float32', gk), 'grad_scale')]);
    const q = b.op1('Clip', [
      b.op1('Round', [b.op1('Div', [W, s])]),
      b.constant(Tensor.scalar('float32', qmin), 'qmin'),
      b.constant(Tensor.scalar('float32', qmax), 'qmax'),
    ]);
    out = b.op1('Mul', [q, s]);
  }
  w.node.inputs[1] = out;
  return { node: w.node.name, weight: W, axis: w.channelAxis, scaleParam, gradScale: k };
}

/**
 * Rewrites a float model for quantization-aware training: fake-quant weights (and, for
 * 'uniform', activations) whose scales are trainable parameters. Train it with `train`, then
 * call `finalizeQat`.
 *
 * ```ts
 * const { model: qat, plan } = await prepareQat(lenet, { scheme: 'ternary' });
 * const { model: trained } = await train(qat, mnist.train, { ...options });
 * const { model: packed } = finalizeQat(trained, plan);
 * ```
 */
export async function prepareQat(model: Model, o: QatOptions): Promise<{ model: Model; plan: QatPlan }> {
  // Binary and ternary fix their own code width; only uniform takes --bits.
  const bits = o.scheme === 'uniform' ? checkBits(o.bits ?? 8) : 8;
  const folded = foldBatchNorm(model).model;
  const g = folded.graph.clone();
  const b = new GraphBuilder(g, 'qat');
  const keep = new Set(o.keepFloat ?? []);
  for (const k of keep)
    if (!g.nodes.some((n) => n.name === k)) throw new WhittleError('BAD_ARGUMENT', `cannot keep layer "${k}" in float: the model has no node of that name`);
  const weighted = weightedNodes(g).filter((w) => !keep.has(w.node.name));
  if (weighted.length === 0) throw new WhittleError('BAD_ARGUMENT', 'the model has no Conv, Gemm or MatMul with constant float32 weights to quantize');
  const withActivations = o.scheme === 'uniform' && (o.activations ?? true);
  // Integer kernels read the export's weights only when its activations are quantized too.
  const reduceRange = withActivations && bits === 8 && (o.reduceRange ?? true);
  const plan: QatPlan = { scheme: o.scheme, bits: o.scheme === 'binary' ? 1 : o.scheme === 'ternary' ? 2 : bits, reduceRange, weights: [], activations: [] };
  const groups = withActivations ? activationGroups(g, weighted) : new Map<string, string[]>();
  for (const w of weighted) plan.weights.push(fakeQuantWeight(g, b, w, o.scheme, bits, reduceRange));
  if (withActivations) {
    if (o.samples === undefined)
      throw new WhittleError('BAD_ARGUMENT', 'quantization-aware training of activations needs calibration samples to initialize their scales');
    const ranges = await calibrate(folded, o.samples, [...groups.keys()], { method: 'minmax', ...o.calibration, threads: o.threads });
    for (const [origin] of groups) {
      const r = ranges.get(origin);
      if (r === undefined) continue;
      // Non-negative activations use all of uint8 from 0; signed ones are centred (zero point 128).
      const zeroPoint = r.lo >= 0 ? 0 : 128;
      const s0 = Math.max(r.hi / (255 - zeroPoint), zeroPoint > 0 ? -r.lo / zeroPoint : 0, 1e-8);
      const k = gradScale(Math.max(1, o.samples.size / (o.samples.dims[0] ?? 1)), 255);
      const scaleParam = `${origin}.qat_scale`;
      g.initializers.set(scaleParam, Tensor.fromArray('float32', [1], [s0 / k]));
      const readers = g.nodes.filter((n) => n.inputs.includes(origin));
      const s = b.op1('Mul', [scaleParam, b.constant(Tensor.scalar('float32', k), 'grad_scale')]);
      const z = b.constant(Tensor.scalar('float32', zeroPoint), 'zp');
      const q = b.op1('Clip', [
        b.op1('Add', [b.op1('Round', [b.op1('Div', [origin, s])]), z]),
        b.constant(Tensor.scalar('float32', 0), 'qmin'),
        b.constant(Tensor.scalar('float32', 255), 'qmax'),
      ]);
      const fq = b.op1('Mul', [b.op1('Sub', [q, z]), s]);
      for (const n of readers) n.inputs = n.inputs.map((i) => (i === origin ? fq : i));
      plan.activations.push({ value: origin, output: fq, scaleParam, gradScale: k, zeroPoint });
    }
  }
  sortTopologically(g);
  return { model: { ...folded, graph: g, metadata: { ...folded.metadata, [QAT_PLAN_KEY]: JSON.stringify(plan) } }, plan };
}

/** Orders nodes so every value is produced before it is read (the rewrite appends weight math). */
export function sortTopologically(g: Graph): void {
  const ready = new Set<string>([...g.inputs.map((v) => v.name), ...g.initializers.keys(), '']);
  const pending = [...g.nodes];
  const out: Node[] = [];
  while (pending.length > 0) {
    const i = pending.findIndex((n) => n.inputs.every((x) => ready.has(x)));
    if (i < 0) throw new WhittleError('INVALID_GRAPH', `cannot order the graph: "${pending[0]?.name}" reads a value nothing produces`);
    const [n] = pending.splice(i, 1) as [Node];
    out.push(n);
    for (const o of n.outputs) ready.add(o);
  }
  g.nodes = out;
}
