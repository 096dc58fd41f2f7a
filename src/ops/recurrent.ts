// Shared by the LSTM and GRU op files: the shape rule, attribute checks, and the bookkeeping of
// a gradient rule (directions, time order, the Scan) around the per-cell backward each op writes.
//
// Everything that does not depend on the recurrence runs batched over all time steps at once:
// the gate pre-activations are recomputed from X, W, R, B and the hidden states ORT's forward
// already returned in Y (one Gemm for X·Wᵀ and one for Hprev·Rᵀ over T·batch rows), and dW, dR,
// dB, dX are one Gemm each over the stacked gate gradients. Only what truly chains through time
// runs step by step, in an ONNX Scan: the LSTM cell state forward, and dH·R back. A Scan, not an
// unrolled graph: measured by bench/recurrent-scan.ts, the backward recurrence of the MNIST row
// LSTM (28 steps, batch 64, hidden 64) costs 0.68× the CPU time unrolled, and it needs no fixed
// sequence length. Scan bodies read no outer-scope values (R is carried as a state), so the
// training Loop can rename the outer graph freely.
import { WhittleError } from '../ir/errors.js';
import type { Dim, Node } from '../ir/graph.js';
import { attr, Graph, GraphBuilder, getInt, getString } from '../ir/graph.js';
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

/** One direction of a recurrent node, time-major (layout 0). */
export interface Direction {
  /** Weights [G·H, I], recurrence [G·H, H], biases [G·H] (absent without B). */
  W: string;
  R: string;
  Wb: string | undefined;
  Rb: string | undefined;
  /** Processed last step first (the reverse direction). */
  reverse: boolean;
  /** X and the previous hidden state of every step, as [T·batch, I] and [T·batch, H]. */
  X2d: string;
  Hprev2d: string;
  /** Previous hidden states [T, batch, H]. */
  Hprev: string;
  /** Initial states [batch, H] (zeros when absent). */
  h0: string;
  c0: string | undefined;
  /** dLoss/dY of this direction [T, batch, H], and of the final states [batch, H]. */
  dY: string | undefined;
  dYh: string | undefined;
  dYc: string | undefined;
}

/** What both ops' gradient rules need, one entry per direction. */
export interface RecurrentPieces {
  hidden: number;
  dtype: DType;
  dirs: Direction[];
  /** [batch, H] zeros. */
  zeros: () => string;
  /** [T, batch, cols] for a [T·batch, cols] value. */
  steps: (v2d: string, cols: number) => string;
  /** Assembles the per-direction input gradients into the node's inputs. */
  finish(grads: DirectionGrads[]): (string | undefined)[];
}

/** One direction's gradients; dX is [T·batch, I], initial states [batch, H]. */
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

/** A value of a Scan body: its per-step type. */
export interface StepValue {
  name: string;
  shape: Dim[];
}

export interface ScanSpec {
  dtype: DType;
  /** Loop-carried values: initial value (outer name) and per-step shape. */
  states: { init: string; shape: Dim[] }[];
  /** Outer [T, ...] tensors, sliced per step; `undefined` entries are left out (the body gets undefined). */
  scans: ({ value: string; shape: Dim[] } | undefined)[];
  /** Runs the steps last to first (and writes the scan outputs back in time order). */
  reverse: boolean;
  /** One step: the next states (same order) and the per-step outputs, with their shapes. */
  body: (bb: GraphBuilder, states: string[], xs: (string | undefined)[]) => { next: string[]; ys: StepValue[] };
}

/**
 * Emits a Scan over axis 0; returns the final states and the stacked per-step outputs
 * [T, ...] in time order.
 */
export function emitScan(b: GraphBuilder, spec: ScanSpec): { finals: string[]; ys: string[] } {
  const prefix = b.fresh('scan');
  const body = new Graph(prefix.replaceAll('/', '_'));
  const bb = new GraphBuilder(body, prefix);
  const stateIn = spec.states.map((s) => {
    const name = bb.fresh('state');
    body.inputs.push({ name, dtype: spec.dtype, shape: [...s.shape] });
    return name;
  });
  const present = spec.scans.filter((s): s is { value: string; shape: Dim[] } => s !== undefined);
  const xs = spec.scans.map((s) => {
    if (s === undefined) return undefined;
    const name = bb.fresh('x');
    body.inputs.push({ name, dtype: spec.dtype, shape: [...s.shape] });
    return name;
  });
  const { next, ys } = spec.body(bb, stateIn, xs);
  // A body output must be a value of its own: a state passed through or also emitted per step gets an Identity.
  const seen = new Set<string>(stateIn);
  const own = (v: string): string => {
    const out = seen.has(v) ? bb.op1('Identity', [v]) : v;
    seen.add(out);
    return out;
  };
  body.outputs = [
    ...next.map((v, i) => ({ name: own(v), dtype: spec.dtype, shape: [...(spec.states[i]?.shape ?? [])] })),
    ...ys.map((y) => ({ name: own(y.name), dtype: spec.dtype, shape: [...y.shape] })),
  ];
  const dir = spec.reverse ? 1 : 0;
  const outs = b.op(
    'Scan',
    [...spec.states.map((s) => s.init), ...present.map((s) => s.value)],
    {
      body: attr.graph(body),
      num_scan_inputs: attr.int(present.length),
      scan_input_directions: attr.ints(present.map(() => dir)),
      scan_output_directions: attr.ints(ys.map(() => dir)),
    },
    spec.states.length + ys.length,
  );
  return { finals: outs.slice(0, spec.states.length), ys: outs.slice(spec.states.length) };
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
  const w = inputs[1] as TypeShape;
  const I = w.shape[2] as number;
  const hidden = getInt(node, 'hidden_size', (w.shape[1] as number) / gates);
  const dtype = x.dtype;
  const i64 = (v: number[], hint: string): string => b.constant(Tensor.int64(v), hint);
  const take = (v: string, i: number, axis: number): string => b.op1('Gather', [v, b.constant(Tensor.scalar('int64', i), 'dir')], { axis: attr.int(axis) });
  const axis0 = i64([0], 'axis0');
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
  // [T, batch, cols] from [T·batch, cols]: a constant target when T is known (so shape rules follow), else from X's shape.
  const T = x.shape[0];
  let seqBatch: string | undefined;
  const steps = (v2d: string, cols: number): string => {
    if (typeof T === 'number') return b.op1('Reshape', [v2d, i64([T, -1, cols], 'steps')]);
    seqBatch ??= b.op1('Slice', [b.op1('Shape', [X]), i64([0], 'start'), i64([2], 'end')]);
    return b.op1('Reshape', [v2d, b.op1('Concat', [seqBatch, i64([cols], 'cols')], { axis: attr.int(0) })]);
  };
  let zerosName: string | undefined;
  const zeros = (): string => {
    // [batch, H] from Y's shape, so a symbolic batch works.
    zerosName ??= b.op1('ConstantOfShape', [b.op1('Slice', [b.op1('Shape', [Y]), i64([2], 'start'), i64([4], 'end')])], {
      value: attr.tensor(Tensor.fromArray(dtype, [1], [0])),
    });
    return zerosName;
  };
  const splitBias = (d: number): [string | undefined, string | undefined] => {
    if (!node.inputs[3]) return [undefined, undefined];
    const [wb, rb] = b.op('Split', [take(node.inputs[3], d, 0)], { axis: attr.int(0) }, 2);
    return [wb, rb];
  };

  const dirs = Array.from({ length: D }, (_, d): Direction => {
    const reverse = direction === 'reverse' || d === 1;
    const H = take(Y, d, 1);
    const h0d = h0 !== undefined ? take(h0, d, 0) : zeros();
    const first = b.op1('Unsqueeze', [h0d, axis0]);
    // The state each step starts from: h0, then the step before it in processing order.
    const Hprev = reverse
      ? b.op1('Concat', [slice0(H, 1, 2 ** 53), first], { axis: attr.int(0) })
      : b.op1('Concat', [first, slice0(H, 0, -1)], { axis: attr.int(0) });
    const [Wb, Rb] = splitBias(d);
    return {
      W: take(node.inputs[1] as string, d, 0),
      R: take(node.inputs[2] as string, d, 0),
      Wb,
      Rb,
      reverse,
      X2d,
      Hprev2d: rows(Hprev, hidden),
      Hprev,
      h0: h0d,
      c0: c0 !== undefined ? take(c0, d, 0) : node.opType === 'LSTM' ? zeros() : undefined,
      dY: dY !== undefined ? take(dY, d, 1) : undefined,
      dYh: dYh !== undefined ? take(dYh, d, 0) : undefined,
      dYc: dYc !== undefined ? take(dYc, d, 0) : undefined,
    };
  });

  const finish = (grads: DirectionGrads[]): (string | undefined)[] => {
    const stack = (parts: (string | undefined)[]): string | undefined => {
      if (parts.some((p) => p === undefined)) return undefined;
      const u = (parts as string[]).map((p) => b.op1('Unsqueeze', [p, axis0]));
      return u.length === 1 ? u[0] : b.op1('Concat', u, { axis: attr.int(0) });
    };
    const out: (string | undefined)[] = [];
    if (ctx.needs[0]) {
      const dX2d = sumOf(
        b,
        grads.map((g) => g.dX),
      );
      if (dX2d !== undefined) out[0] = steps(dX2d, I);
    }
    if (ctx.needs[1]) out[1] = stack(grads.map((g) => g.dW));
    if (ctx.needs[2]) out[2] = stack(grads.map((g) => g.dR));
    if (ctx.needs[3]) out[3] = stack(grads.map((g) => g.dB));
    if (ctx.needs[5]) out[5] = stack(grads.map((g) => g.dh0));
    if (ctx.needs[6]) out[6] = stack(grads.map((g) => g.dc0));
    return out;
  };

  return { hidden, dtype, dirs, zeros, steps, finish };
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
