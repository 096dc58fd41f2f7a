// Shared by the LSTM and GRU op files: the shape rule, attribute checks, and the bookkeeping of
// a gradient rule (directions, time order) around the per-cell backward each op writes.
//
// The gradient is an unrolled graph over the (fixed) sequence length. Everything that does not
// depend on the recurrence runs batched over all time steps at once: the gate pre-activations
// are recomputed from X, W, R, B and the hidden states ORT's forward already returned in Y (one
// Gemm for X·Wᵀ and one for Hprev·Rᵀ over T·batch rows), and dW, dR, dB, dX are one Gemm each
// over the stacked gate gradients. Only what truly chains through time stays per step: the LSTM
// cell state (an elementwise Mul+Add) forward, and dH·R back.
import { WhittleError } from '../ir/errors.js';
import type { Dim, GraphBuilder, Node } from '../ir/graph.js';
import { attr, getInt, getString } from '../ir/graph.js';
import type { ShapeRule, TypeShape } from '../ir/shape.js';
import { Tensor } from '../ir/tensor.js';
import type { DType } from '../ir/tensor.js';
import { formatShape, shapeError } from './dims.js';
import type { GradientContext } from './types.js';
import { input } from './util.js';

/** Directions of a recurrent node: 1 (forward or reverse) or 2 (bidirectional). */
export function directionsOf(node: Node): 1 | 2 {
  return getString(node, 'direction', 'forward') === 'bidirectional' ? 2 : 1;
}

/**
 * Shape rule of LSTM (`gates` 4) and GRU (3): Y is [T, D, batch, H] (layout 0) or [batch, T, D, H]
 * (layout 1); the final states are [D, batch, H] or [batch, D, H].
 */
export function recurrentShape(gates: number): ShapeRule {
  return ({ node, inputs }) => {
    const x = input(node, inputs, 0);
    const w = input(node, inputs, 1);
    if (x.shape.length !== 3) throw shapeError(node, `X must be 3-D [seq, batch, input] (or [batch, seq, input] with layout=1), got ${formatShape(x.shape)}`);
    if (w.shape.length !== 3) throw shapeError(node, `W must be 3-D [directions, ${gates}·hidden, input], got ${formatShape(w.shape)}`);
    const gh = w.shape[1];
    const hidden = getInt(node, 'hidden_size', typeof gh === 'number' ? gh / gates : -1);
    if (!(hidden > 0) || !Number.isInteger(hidden)) throw shapeError(node, `hidden_size is missing and W ${formatShape(w.shape)} does not give it`);
    const layout = getInt(node, 'layout', 0);
    const d = directionsOf(node);
    const [seq, batch] = (layout === 1 ? [x.shape[1], x.shape[0]] : [x.shape[0], x.shape[1]]) as [Dim, Dim];
    const y: Dim[] = layout === 1 ? [batch, seq, d, hidden] : [seq, d, batch, hidden];
    const state: Dim[] = layout === 1 ? [batch, d, hidden] : [d, batch, hidden];
    return node.outputs.map((_, i) => ({ dtype: x.dtype, shape: i === 0 ? y : state }));
  };
}

function noGradient(node: Node, why: string): WhittleError {
  return new WhittleError('NO_GRADIENT', `${node.opType} "${node.name}": ${why}`);
}

/** What both ops' gradient rules need (layout 0: time-major), one entry per direction. */
export interface RecurrentPieces {
  T: number;
  hidden: number;
  dtype: DType;
  /** Per direction: weights [G·H, I], recurrence [G·H, H], biases [G·H] (absent without B). */
  dirs: {
    W: string;
    R: string;
    Wb: string | undefined;
    Rb: string | undefined;
    /** Time steps in processing order (reversed for the reverse direction). */
    order: number[];
    /** X and the previous hidden state of every step, as [T·batch, I] and [T·batch, H]. */
    X2d: string;
    Hprev2d: string;
    /** Hidden states [T, batch, H] and the previous ones, time-major. */
    H: string;
    Hprev: string;
    /** Initial states [1, batch, H] (zeros when absent). */
    h0: string;
    c0: string | undefined;
    /** dLoss/dY for this direction split per step ([1, batch, H] each), and of the final states. */
    dY: (string | undefined)[];
    dYh: string | undefined;
    dYc: string | undefined;
  }[];
  /** [1, batch, H] zeros. */
  zeros: () => string;
  /** Assembles the per-direction input gradients into the node's input layout. */
  finish(grads: DirectionGrads[]): (string | undefined)[];
}

/** One direction's gradients; dX is [T·batch, I], initial states [1, batch, H]. */
export interface DirectionGrads {
  dX: string | undefined;
  dW: string;
  dR: string;
  dB: string | undefined;
  dh0: string | undefined;
  dc0?: string | undefined;
}

/** Sum of the defined terms; undefined when there are none. */
export function sumOf(b: GraphBuilder, terms: (string | undefined)[]): string | undefined {
  const t = terms.filter((x): x is string => x !== undefined);
  if (t.length <= 1) return t[0];
  return t.length === 2 ? b.op1('Add', t) : b.op1('Sum', t);
}

/** x · (1 − x): the derivative of a sigmoid from its output. */
export function sigmoidSlope(b: GraphBuilder, one: string, s: string): string {
  return b.op1('Mul', [s, b.op1('Sub', [one, s])]);
}

/** 1 − t²: the derivative of tanh from its output. */
export function tanhSlope(b: GraphBuilder, one: string, t: string): string {
  return b.op1('Sub', [one, b.op1('Mul', [t, t])]);
}

/** Splits x along axis 0 into T parts of [1, ...]. */
export function splitSteps(b: GraphBuilder, x: string, T: number): string[] {
  return T === 1 ? [x] : b.op('Split', [x], { axis: attr.int(0) }, T);
}

/** Concatenates per-step values given in time order along axis `axis`. */
export function concat(b: GraphBuilder, parts: string[], axis: number): string {
  return parts.length === 1 ? (parts[0] as string) : b.op1('Concat', parts, { axis: attr.int(axis) });
}

/**
 * Checks what the gradient supports and lays out the node's tensors per direction. `gates`: 4
 * (LSTM) or 3 (GRU); `defaults`: the op's default activations, the only ones differentiated.
 */
export function recurrentPieces(ctx: GradientContext, gates: number, defaults: string[]): RecurrentPieces {
  const { node, b, inputs } = ctx;
  const x = inputs[0] as TypeShape;
  const D = directionsOf(node);
  const direction = getString(node, 'direction', 'forward');
  if (node.inputs[4]) throw noGradient(node, 'sequence_lens is not differentiable yet; pad the sequences to one length and drop sequence_lens');
  if (node.opType === 'LSTM' && node.inputs[7]) throw noGradient(node, 'peephole weights (input P) have no gradient rule; export the LSTM without peepholes');
  if (node.attributes['clip'] !== undefined) throw noGradient(node, 'the clip attribute has no gradient rule; export without cell clipping');
  if (getInt(node, 'input_forget', 0) !== 0) throw noGradient(node, 'input_forget=1 has no gradient rule');
  // onnxruntime's CPU kernels refuse layout=1 at load; PyTorch exports batch_first as layout 0 between Transposes.
  if (getInt(node, 'layout', 0) !== 0)
    throw noGradient(node, 'layout=1 has no gradient rule (onnxruntime cannot run it either); Transpose X to [seq, batch, input] and use layout=0');
  const acts = node.attributes['activations'];
  if (acts !== undefined) {
    const want = Array.from({ length: D }, () => defaults).flat();
    const got = acts.type === 'strings' ? acts.value : [];
    if (got.length !== want.length || got.some((a, i) => a.toLowerCase() !== (want[i] as string).toLowerCase()))
      throw noGradient(node, `activations [${got.join(', ')}] have no gradient rule; only the default [${defaults.join(', ')}] do`);
  }
  const T = x.shape[0];
  if (typeof T !== 'number') {
    throw noGradient(node, `the sequence length is symbolic (${T}); the gradient unrolls the sequence, so export the model with a fixed sequence length`);
  }
  const w = inputs[1] as TypeShape;
  const I = w.shape[2] as number;
  const hidden = getInt(node, 'hidden_size', (w.shape[1] as number) / gates);
  const dtype = x.dtype;
  const c = (t: Tensor, hint: string): string => b.constant(t, hint);
  const i64 = (v: number[], hint: string): string => c(Tensor.int64(v), hint);
  const take = (v: string, i: number, axis: number): string => b.op1('Gather', [v, c(Tensor.scalar('int64', i), 'dir')], { axis: attr.int(axis) });
  const axis0 = i64([0], 'axis0');
  const unsq0 = (v: string): string => b.op1('Unsqueeze', [v, axis0]);
  const rows = (v: string, cols: number): string => b.op1('Reshape', [v, i64([-1, cols], 'rows')]);
  const slice0 = (v: string, start: number, end: number): string => b.op1('Slice', [v, i64([start], 'start'), i64([end], 'end'), axis0]);

  // X [T, batch, I], Y [T, D, batch, H], states [D, batch, H].
  const X = node.inputs[0] as string;
  // The backward needs every hidden state; ORT computes Y anyway, so name it when the model did not.
  if (!node.outputs[0]) node.outputs[0] = b.fresh(`${node.name}.Y`);
  const Y = node.outputs[0] as string;
  const [dY, dYh, dYc] = ctx.dy;
  const h0 = node.inputs[5] || undefined;
  const c0 = node.inputs[6] || undefined;

  const X2d = rows(X, I);
  let zerosName: string | undefined;
  const zeros = (): string => {
    // [1, batch, H] from Y's shape, so a symbolic batch works.
    zerosName ??= b.op1(
      'ConstantOfShape',
      [b.op1('Concat', [i64([1], 'one'), b.op1('Slice', [b.op1('Shape', [Y]), i64([2], 's'), i64([4], 'e')])], { axis: attr.int(0) })],
      {
        value: attr.tensor(Tensor.fromArray(dtype, [1], [0])),
      },
    );
    return zerosName;
  };
  const splitBias = (d: number): [string | undefined, string | undefined] => {
    if (!node.inputs[3]) return [undefined, undefined];
    const [wb, rb] = b.op('Split', [take(node.inputs[3], d, 0)], { axis: attr.int(0) }, 2);
    return [wb, rb];
  };

  const dirs = Array.from({ length: D }, (_, d) => {
    const reverse = direction === 'reverse' || d === 1;
    const order = Array.from({ length: T }, (_, t) => (reverse ? T - 1 - t : t));
    const H = take(Y, d, 1);
    const h0d = h0 !== undefined ? unsq0(take(h0, d, 0)) : zeros();
    // The state each step starts from: h0, then the step before it in processing order.
    let Hprev: string;
    if (T === 1) Hprev = h0d;
    else if (reverse) Hprev = b.op1('Concat', [slice0(H, 1, T), h0d], { axis: attr.int(0) });
    else Hprev = b.op1('Concat', [h0d, slice0(H, 0, T - 1)], { axis: attr.int(0) });
    const [Wb, Rb] = splitBias(d);
    const perStep = (v: string | undefined): (string | undefined)[] =>
      v === undefined ? Array.from({ length: T }, () => undefined) : splitSteps(b, take(v, d, 1), T);
    return {
      W: take(node.inputs[1] as string, d, 0),
      R: take(node.inputs[2] as string, d, 0),
      Wb,
      Rb,
      order,
      X2d,
      Hprev2d: rows(Hprev, hidden),
      H,
      Hprev,
      h0: h0d,
      c0: c0 !== undefined ? unsq0(take(c0, d, 0)) : node.opType === 'LSTM' ? zeros() : undefined,
      dY: perStep(dY),
      dYh: dYh !== undefined ? unsq0(take(dYh, d, 0)) : undefined,
      dYc: dYc !== undefined ? unsq0(take(dYc, d, 0)) : undefined,
    };
  });

  const finish = (grads: DirectionGrads[]): (string | undefined)[] => {
    const stack = (parts: string[]): string => (parts.length === 1 ? unsq0(parts[0] as string) : b.op1('Concat', parts.map(unsq0), { axis: attr.int(0) }));
    const stackStates = (parts: (string | undefined)[]): string | undefined => {
      if (parts.some((p) => p === undefined)) return undefined;
      return concat(b, parts as string[], 0);
    };
    const out: (string | undefined)[] = [];
    if (ctx.needs[0]) {
      const dX2d = sumOf(
        b,
        grads.map((g) => g.dX),
      );
      if (dX2d !== undefined) out[0] = b.op1('Reshape', [dX2d, i64([T, -1, I], 'xshape')]);
    }
    if (ctx.needs[1]) out[1] = stack(grads.map((g) => g.dW));
    if (ctx.needs[2]) out[2] = stack(grads.map((g) => g.dR));
    if (ctx.needs[3] && grads.every((g) => g.dB !== undefined)) out[3] = stack(grads.map((g) => g.dB as string));
    if (ctx.needs[5]) out[5] = stackStates(grads.map((g) => g.dh0));
    if (ctx.needs[6]) out[6] = stackStates(grads.map((g) => g.dc0));
    return out;
  };

  return { T, hidden, dtype, dirs, zeros, finish };
}

/** Weight, recurrence (when `Hprev2d` is given) and bias gradients from stacked gate gradients [T·batch, G·H]. */
export function weightGrads(
  b: GraphBuilder,
  dGates2d: string,
  X2d: string,
  Hprev2d: string | undefined,
  withBias: boolean,
): { dW: string; dR: string | undefined; dB: string | undefined } {
  const dW = b.op1('Gemm', [dGates2d, X2d], { transA: attr.int(1) });
  const dR = Hprev2d !== undefined ? b.op1('Gemm', [dGates2d, Hprev2d], { transA: attr.int(1) }) : undefined;
  let dB: string | undefined;
  if (withBias) {
    // The input and recurrence biases add to the same pre-activation: equal gradients.
    const db = b.op1('ReduceSum', [dGates2d, b.constant(Tensor.int64([0]), 'axis0')], { keepdims: attr.int(0) });
    dB = b.op1('Concat', [db, db], { axis: attr.int(0) });
  }
  return { dW, dR, dB };
}
