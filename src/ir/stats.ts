// Size and cost of a model: parameter counts, bytes, FLOPs and op counts, as `whittle info`
// reports them.
import type { Graph, Model, Node, ValueInfo } from './graph.js';
import { getInt, getInts } from './graph.js';
import type { ShapeRule, TypeShape } from './shape.js';
import { constantValues, inferShapes } from './shape.js';
import type { Tensor } from './tensor.js';
import { bytesPerElement } from './tensor.js';

export interface ModelStats {
  /**
   * Weights: elements of float initializers, plus the integer codes of quantized weights (read by
   * DequantizeLinear, MatMulInteger or ConvInteger; K·N for a 4-bit MatMulNBits weight; the
   * weights of packed 1-/2-bit codes).
   */
  params: number;
  nonzeroParams: number;
  /** Bytes of all initializers as stored dense. */
  parameterBytes: number;
  /** Floating-point operations of one forward pass on one sample (2 per multiply-add). */
  flops: number;
  macs: number;
  ops: Record<string, number>;
  /** Signatures; `type` is set (e.g. `seq(tensor(float))`) for values that are not plain tensors, whose dtype/shape then mean nothing. */
  inputs: Signature[];
  outputs: Signature[];
  /** Nodes whose output shapes were unknown, so their FLOPs are not counted (0 when the count is complete). */
  unknownShapeNodes: number;
  /**
   * What the FLOPs of If/Loop/Scan bodies assume, one line per such node: the costlier If branch,
   * a Loop's trip count (or one iteration when unknown), a Scan's length.
   */
  flopAssumptions: string[];
}

export interface Signature {
  name: string;
  dtype: string;
  shape: (number | string)[];
  type?: string;
}

function signature(v: ValueInfo): Signature {
  if (v.type !== undefined) return { name: v.name, dtype: v.dtype, shape: [], type: v.type };
  return { name: v.name, dtype: v.dtype, shape: v.unranked ? [] : [...v.shape], ...(v.unranked ? { type: `tensor(${v.dtype}) of unknown rank` } : {}) };
}

const prod = (xs: readonly (number | string)[]): number => xs.reduce<number>((a, d) => a * (typeof d === 'number' ? d : 1), 1);

/**
 * Packed 1- or 2-bit weights (Whittle's binary/ternary export): uint8 codes → BitShift → Mod →
 * Reshape → Slice(0, count) → Gather(table). Counts the `count` weights, nonzero where the
 * code's table value is.
 */
function countPacked(g: Graph, shift: Node, counted: Set<string>, add: (params: number, nonzero: number) => void): void {
  const packed = g.initializers.get(shift.inputs[0] ?? '');
  const shifts = g.initializers.get(shift.inputs[1] ?? '');
  if (packed === undefined || packed.dtype !== 'uint8' || shifts === undefined || counted.has(shift.inputs[0] as string)) return;
  const next = (v: string | undefined, op: string): Node | undefined => g.consumersOf(v ?? '').find((c) => c.opType === op);
  const slice = next(next(next(shift.outputs[0], 'Mod')?.outputs[0], 'Reshape')?.outputs[0], 'Slice');
  const count = slice === undefined ? undefined : g.initializers.get(slice.inputs[2] ?? '')?.toNumbers()[0];
  const cast = next(slice?.outputs[0], 'Cast');
  const gather = next(cast?.outputs[0], 'Gather');
  const table = gather === undefined ? undefined : g.initializers.get(gather.inputs[0] ?? '');
  if (count === undefined || table === undefined) return;
  counted.add(shift.inputs[0] as string);
  const per = shifts.size;
  const bits = 8 / per;
  let nz = 0;
  for (let i = 0; i < count; i++) {
    const code = ((packed.data[Math.floor(i / per)] as number) >> ((i % per) * bits)) & ((1 << bits) - 1);
    if (Number(table.data[code]) !== 0) nz++;
  }
  add(count, nz);
}

/**
 * Counts parameters, nonzeros, bytes and per-sample FLOPs (symbolic dims such as the batch count
 * as 1). Works on any model: shapes come from `rules`, else from `known` (onnxruntime's probe)
 * or the file; nodes whose shapes stay unknown add no FLOPs and are counted in `unknownShapeNodes`.
 *
 * ```ts
 * const s = modelStats(model, SHAPE_RULES);
 * console.log(s.params, s.flops);
 * ```
 */
export function modelStats(model: Model, rules: ReadonlyMap<string, ShapeRule>, options: { known?: ReadonlyMap<string, TypeShape> } = {}): ModelStats {
  const { params, nonzeroParams: nonzero, parameterBytes: bytes } = parameterStats(model);
  const g = model.graph.clone();
  const constants = constantValues(g);
  const shapes = inferShapes(g, rules, constants, { known: options.known, unknown: 'skip' });
  const cost = graphCost(g, shapes, constants, { rules, ops: {}, unknownShapeNodes: 0, assumptions: [] });
  return {
    params,
    nonzeroParams: nonzero,
    parameterBytes: bytes,
    flops: 2 * cost.macs + cost.other,
    macs: cost.macs,
    ops: cost.ctx.ops,
    inputs: g.inputs.map(signature),
    outputs: g.outputs.map(signature),
    unknownShapeNodes: cost.ctx.unknownShapeNodes,
    flopAssumptions: cost.ctx.assumptions,
  };
}

/**
 * The parameter counts of `modelStats` alone (float weights, int8/uint8 codes of quantized
 * weights, packed 1–2-bit weights, 4-bit MatMulNBits), without its shape inference and FLOP
 * count: a read of the weights, no pass over the graph's shapes.
 *
 * ```ts
 * const fp32Bytes = 4 * parameterStats(model).params;
 * ```
 */
export function parameterStats(model: Model): Pick<ModelStats, 'params' | 'nonzeroParams' | 'parameterBytes'> {
  const g = model.graph;
  let params = 0;
  let nonzero = 0;
  let bytes = 0;
  // Bodies' own weights count too (Silero VAD keeps both of its models inside If branches).
  for (const t of allInitializers(g)) {
    bytes += t.size * bytesPerElement(t.dtype);
    if (t.dtype !== 'float32' && t.dtype !== 'float64' && t.dtype !== 'float16') continue;
    params += t.size;
    for (let i = 0; i < t.size; i++) if (t.data[i] !== 0) nonzero++;
  }
  const counted = new Set<string>();
  for (const n of g.nodes) {
    const codes =
      n.domain !== '' ? undefined : n.opType === 'DequantizeLinear' ? [0] : n.opType === 'MatMulInteger' || n.opType === 'ConvInteger' ? [0, 1] : undefined;
    for (const i of codes ?? []) {
      const name = n.inputs[i] ?? '';
      const t = g.initializers.get(name);
      if (t === undefined || counted.has(name) || (t.dtype !== 'int8' && t.dtype !== 'uint8')) continue;
      counted.add(name);
      params += t.size;
      // A weight is zero where its code equals its zero point (per tensor, or per channel along `axis`).
      const zpName = n.opType === 'DequantizeLinear' ? n.inputs[2] : n.inputs[i + 2];
      const zp = zpName ? g.initializers.get(zpName) : undefined;
      const axis = getInt(n, 'axis', 1);
      const inner = prod(t.dims.slice(axis + 1));
      for (let j = 0; j < t.size; j++) {
        const z = zp === undefined ? 0 : zp.size === 1 ? Number(zp.data[0]) : Number(zp.data[Math.floor(j / inner) % zp.size]);
        if (Number(t.data[j]) !== z) nonzero++;
      }
    }
    if (n.opType === 'BitShift' && n.domain === '') countPacked(g, n, counted, (p, nz) => ((params += p), (nonzero += nz)));
    if (n.domain === 'com.microsoft' && n.opType === 'MatMulNBits' && n.inputs[1] && g.initializers.has(n.inputs[1]) && !counted.has(n.inputs[1])) {
      counted.add(n.inputs[1]);
      const kn = getInt(n, 'K', 0) * getInt(n, 'N', 0);
      params += kn;
      nonzero += kn;
    }
  }
  return { params, nonzeroParams: nonzero, parameterBytes: bytes };
}

/** Every initializer of the graph and of its bodies, at any depth. */
function allInitializers(g: Graph): Tensor[] {
  const out = [...g.initializers.values()];
  for (const n of g.nodes) for (const a of Object.values(n.attributes)) if (a.type === 'graph') out.push(...allInitializers(a.value));
  return out;
}

interface CostContext {
  rules: ReadonlyMap<string, ShapeRule>;
  ops: Record<string, number>;
  unknownShapeNodes: number;
  assumptions: string[];
}

interface Cost {
  macs: number;
  other: number;
}

/** Multiply-adds and other FLOPs of one node (not its bodies), per sample. */
function nodeCost(n: Node, shape: (name: string | undefined) => TypeShape['shape']): Cost {
  const out = shape(n.outputs[0]);
  let macs = 0;
  let other = 0;
  switch (n.opType) {
    case 'Conv': {
      const w = shape(n.inputs[1]);
      // Each output element: (Cin/groups)·kh·kw multiply-adds.
      macs += prod(out) * prod(w.slice(1));
      if (n.inputs[2]) other += prod(out);
      break;
    }
    case 'Gemm': {
      const a = shape(n.inputs[0]);
      const k = getInt(n, 'transA', 0) ? a[0] : a[1];
      macs += prod(out) * (typeof k === 'number' ? k : 1);
      if (n.inputs[2]) other += prod(out);
      break;
    }
    case 'MatMulNBits':
      macs += prod(out) * getInt(n, 'K', 1);
      if (n.inputs[5]) other += prod(out);
      break;
    case 'MatMul': {
      const a = shape(n.inputs[0]);
      const k = a[a.length - 1];
      macs += prod(out) * (typeof k === 'number' ? k : 1);
      break;
    }
    case 'MaxPool':
    case 'AveragePool': {
      const k = getInts(n, 'kernel_shape') ?? [1];
      other += prod(out) * prod(k);
      break;
    }
    case 'Relu':
    case 'Add':
    case 'Sub':
    case 'Mul':
    case 'Div':
    case 'Sigmoid':
    case 'Tanh':
    case 'LeakyRelu':
    case 'Clip':
    case 'GlobalAveragePool':
      other += prod(n.opType === 'GlobalAveragePool' ? shape(n.inputs[0]) : out);
      break;
    case 'BatchNormalization':
      other += 2 * prod(out);
      break;
    case 'LSTM':
    case 'GRU':
    case 'RNN': {
      // Per time step and direction: gates × hidden × (input + hidden) multiply-adds.
      const x = shape(n.inputs[0]);
      const w = shape(n.inputs[1]);
      const r = shape(n.inputs[2]);
      const steps = getInt(n, 'layout', 0) === 0 ? x[0] : x[1];
      const [dirs, gh, inputSize] = w;
      const hidden = r[2];
      if ([steps, dirs, gh, inputSize, hidden].every((d) => typeof d === 'number')) {
        macs += (steps as number) * (dirs as number) * (gh as number) * ((inputSize as number) + (hidden as number));
      }
      break;
    }
    case 'Softmax':
    case 'LogSoftmax':
      other += 3 * prod(out);
      break;
    default:
      break;
  }
  return { macs, other };
}

/**
 * FLOPs of a graph's nodes and, recursively, of their bodies (op counts and notes go to `ctx`);
 * `constants`: those visible here, the enclosing graphs' too.
 */
function graphCost(g: Graph, shapes: ReadonlyMap<string, TypeShape>, constants: ReadonlyMap<string, Tensor>, ctx: CostContext): Cost & { ctx: CostContext } {
  const shape = (name: string | undefined): TypeShape['shape'] => (name ? (shapes.get(name)?.shape ?? []) : []);
  // Sequences, optionals and maps have no shape to know.
  const nonTensor = new Set(
    [...g.outputs, ...g.valueInfo.values()].filter((v) => v.type !== undefined && v.type !== 'unknown' && !v.type.startsWith('tensor(')).map((v) => v.name),
  );
  const total: Cost = { macs: 0, other: 0 };
  for (const n of g.nodes) {
    const key = n.domain === '' || n.domain === 'ai.onnx' ? n.opType : `${n.domain}:${n.opType}`;
    ctx.ops[key] = (ctx.ops[key] ?? 0) + 1;
    if (n.outputs.some((o) => o !== '' && !shapes.has(o) && !nonTensor.has(o))) ctx.unknownShapeNodes++;
    const own = nodeCost(n, shape);
    total.macs += own.macs;
    total.other += own.other;
    const body = bodiesCost(n, shapes, constants, ctx);
    total.macs += body.macs;
    total.other += body.other;
  }
  return { ...total, ctx };
}

const mflops = (c: Cost): string => `${((2 * c.macs + c.other) / 1e6).toFixed(2)} MFLOPs`;

/**
 * The FLOPs of a node's bodies as one run of the node costs them: If its costlier branch, Loop
 * its body × the trip count M when M is a constant (an upper bound: `cond` may end it sooner;
 * one iteration when M is unknown), Scan its body × the scanned length. Each choice is noted.
 */
function bodiesCost(n: Node, shapes: ReadonlyMap<string, TypeShape>, constants: ReadonlyMap<string, Tensor>, ctx: CostContext): Cost {
  const bodies: [string, Graph][] = [];
  for (const [key, a] of Object.entries(n.attributes)) if (a.type === 'graph') bodies.push([key, a.value]);
  if (bodies.length === 0) return { macs: 0, other: 0 };
  // This node's note before its bodies' own (nested If/Loop/Scan).
  const at = ctx.assumptions.push('') - 1;
  const note = (line: string): void => {
    ctx.assumptions[at] = line;
  };
  const costs = bodies.map(([key, body]) => [key, bodyCost(n, body, shapes, constants, ctx)] as const);
  const what = `${n.opType} "${n.name}"`;
  if (n.opType === 'If') {
    const [key, c] = costs.reduce((a, b) => (2 * b[1].macs + b[1].other > 2 * a[1].macs + a[1].other ? b : a));
    note(
      `${what}: the costlier branch, ${key} (${mflops(c)}${
        costs.length > 1
          ? `; ${costs
              .filter(([k]) => k !== key)
              .map(([k, x]) => `${k} ${mflops(x)}`)
              .join(', ')}`
          : ''
      })`,
    );
    return c;
  }
  const one = costs.reduce<Cost>((a, [, c]) => ({ macs: a.macs + c.macs, other: a.other + c.other }), { macs: 0, other: 0 });
  let times: number | undefined;
  if (n.opType === 'Loop') {
    const m = n.inputs[0] ? constants.get(n.inputs[0]) : undefined;
    const M = m !== undefined && m.size === 1 ? Number(m.data[0]) : undefined;
    // PyTorch writes while-loops as M = INT64_MAX, ended by cond.
    times = M !== undefined && M >= 0 && M <= 2 ** 31 ? M : undefined;
    note(
      times !== undefined
        ? `${what}: body × ${times} iterations (trip count M; cond may end it sooner) = ${mflops({ macs: one.macs * times, other: one.other * times })}`
        : `${what}: trip count ${M === undefined ? 'unknown' : `M = ${M} (a while-loop bound)`}, one iteration counted (${mflops(one)})`,
    );
  } else if (n.opType === 'Scan') {
    const states = n.inputs.length - getInt(n, 'num_scan_inputs', 0);
    const first = shape(shapes, n.inputs[states]);
    const axis = getInts(n, 'scan_input_axes')?.[0] ?? 0;
    const len = first[axis < 0 ? first.length + axis : axis];
    times = typeof len === 'number' ? len : undefined;
    note(
      times !== undefined
        ? `${what}: body × ${times} steps (the scanned length) = ${mflops({ macs: one.macs * times, other: one.other * times })}`
        : `${what}: scanned length unknown, one step counted (${mflops(one)})`,
    );
  } else note(`${what}: its bodies counted once each (${mflops(one)})`);
  const k = times ?? 1;
  return { macs: one.macs * k, other: one.other * k };
}

function shape(shapes: ReadonlyMap<string, TypeShape>, name: string | undefined): TypeShape['shape'] {
  return name ? (shapes.get(name)?.shape ?? []) : [];
}

/**
 * One run of a body: its shapes inferred with the enclosing graph's values it reads (and, where
 * the body does not declare them, its inputs' shapes from the node's: Loop-carried values, Scan
 * states and slices).
 */
function bodyCost(n: Node, body: Graph, outer: ReadonlyMap<string, TypeShape>, outerConstants: ReadonlyMap<string, Tensor>, ctx: CostContext): Cost {
  const b = body.clone();
  const given = (v: ValueInfo): boolean => v.type === undefined && !v.unranked && (v.shape.length > 0 || v.dtype !== 'float32');
  const from = (i: number): TypeShape | undefined => {
    if (n.opType === 'Loop') {
      if (i === 0) return { dtype: 'int64', shape: [] };
      if (i === 1) return { dtype: 'bool', shape: [] };
      return outer.get(n.inputs[i] ?? '');
    }
    if (n.opType === 'Scan') {
      const states = n.inputs.length - getInt(n, 'num_scan_inputs', 0);
      const t = outer.get(n.inputs[i] ?? '');
      if (i < states || t === undefined) return t;
      const axis = getInts(n, 'scan_input_axes')?.[i - states] ?? 0;
      const at = axis < 0 ? t.shape.length + axis : axis;
      return { dtype: t.dtype, shape: t.shape.filter((_, k) => k !== at) };
    }
    return undefined;
  };
  // Per dimension: the body's own number, else the node input's (exports name a loop-carried
  // value's dims h_dim_0, h_dim_1 where the initial value has [batch, 16]).
  b.inputs = b.inputs.map((v, i) => {
    const ts = from(i);
    if (ts === undefined) return v;
    if (!given(v) || v.shape.length !== ts.shape.length) return { ...v, dtype: ts.dtype, shape: [...ts.shape] };
    return { ...v, shape: v.shape.map((d, k) => (typeof d === 'number' ? d : (ts.shape[k] ?? d))) };
  });
  // The enclosing graphs' values the body reads, as inputs of known shape.
  const defined = new Set([...b.inputs.map((v) => v.name), ...b.initializers.keys(), ...b.nodes.flatMap((x) => x.outputs)]);
  const reads = new Set(b.nodes.flatMap((x) => x.inputs).filter((i) => i !== '' && !defined.has(i)));
  for (const name of reads) {
    const ts = outer.get(name);
    if (ts !== undefined) b.inputs.push({ name, dtype: ts.dtype, shape: [...ts.shape] });
  }
  const constants = new Map([...outerConstants, ...constantValues(b)]);
  const known = new Map([...outer].filter(([k]) => reads.has(k)));
  const shapes = inferShapes(b, ctx.rules, constants, { known, unknown: 'skip' });
  for (const [k, v] of outer) if (!shapes.has(k)) shapes.set(k, v);
  return graphCost(b, shapes, constants, ctx);
}
