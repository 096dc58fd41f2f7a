// Shapes from onnxruntime, for graphs with ops Whittle has no shape rule for: run the model once
// on a sample input with every intermediate value added as a graph output, and read the shapes
// off the results. ir/ stays free of onnxruntime; callers pass the result to inferShapes.
import * as ort from 'onnxruntime-node';
import type { Dim, Model, ValueInfo } from '../ir/graph.js';
import { encodeModel } from '../ir/onnx.js';
import { countSession } from './session.js';
import type { ShapeRule, TypeShape } from '../ir/shape.js';
import { constantValues, inferShapes, opKey } from '../ir/shape.js';
import type { DType } from '../ir/tensor.js';

const DTYPES: ReadonlySet<string> = new Set([
  'float32',
  'float64',
  'float16',
  'int8',
  'uint8',
  'int16',
  'uint16',
  'int32',
  'uint32',
  'int64',
  'uint64',
  'bool',
]);

export interface ProbeOptions {
  /** Sizes for symbolic input dims by name; others are 1 in the first run and 2 in the second. */
  dims?: Record<string, number>;
  /** Only these values (default: every value of the main graph); fewer extra outputs keep the runs light on big models. */
  values?: readonly string[];
  /**
   * onnxruntime's graph optimization for the probe runs (default 'basic': on a 100,000-node chain
   * 1.3 s of CPU against 4.7 s 'disabled', which builds a kernel for every node). Optimizers never
   * drop or fuse away a graph output, and the probe makes every value it asks for one; the tests
   * compare 'basic' with 'disabled' on the zoo.
   */
  optimization?: 'disabled' | 'basic';
}

/** A sample input: small non-negative values (valid indices, no division by zero in softmax and friends). */
function sampleTensor(v: ValueInfo, size: (d: Dim) => number): ort.Tensor | undefined {
  if (v.type !== undefined || v.unranked || !DTYPES.has(v.dtype)) return undefined;
  const dims = v.shape.map(size);
  const n = dims.reduce((a, b) => a * b, 1);
  const type = v.dtype as ort.Tensor.Type;
  if (type === 'int64') return new ort.Tensor('int64', new BigInt64Array(n), dims);
  if (type === 'uint64') return new ort.Tensor('uint64', new BigUint64Array(n), dims);
  if (type === 'bool') return new ort.Tensor('bool', new Uint8Array(n), dims);
  if (type === 'float32' || type === 'float64') {
    const data = type === 'float32' ? new Float32Array(n) : new Float64Array(n);
    for (let i = 0; i < n; i++) data[i] = ((i * 7919) % 1000) / 1000;
    return new ort.Tensor(type, data, dims);
  }
  const Ctor = { float16: Uint16Array, int8: Int8Array, uint8: Uint8Array, int16: Int16Array, uint16: Uint16Array, int32: Int32Array, uint32: Uint32Array }[
    type as 'int8'
  ];
  return new ort.Tensor(type, new Ctor(n), dims);
}

async function runOnce(
  bytes: Uint8Array,
  model: Model,
  size: (d: Dim) => number,
  wanted: readonly string[],
  optimization: 'disabled' | 'basic',
): Promise<Map<string, { dtype: DType; dims: number[] }>> {
  const feeds: Record<string, ort.Tensor> = {};
  for (const v of model.graph.inputs) {
    const t = sampleTensor(v, size);
    if (t === undefined) return new Map();
    feeds[v.name] = t;
  }
  countSession();
  const session = await ort.InferenceSession.create(bytes, {
    intraOpNumThreads: 1,
    interOpNumThreads: 1,
    graphOptimizationLevel: optimization,
    logSeverityLevel: 4,
  });
  try {
    const out = await session.run(feeds, [...wanted]);
    const result = new Map<string, { dtype: DType; dims: number[] }>();
    for (const [k, v] of Object.entries(out)) {
      const t = v as ort.Tensor;
      if (t !== undefined && DTYPES.has(t.type)) result.set(k, { dtype: t.type as DType, dims: [...t.dims] });
    }
    return result;
  } finally {
    await session.release();
  }
}

/**
 * Types and shapes of the values of a model's main graph as onnxruntime computes them, for
 * `inferShapes(graph, rules, constants, { known })`. Dims that follow a symbolic input dim keep
 * its name (two runs, sizes 1 and 2); values onnxruntime cannot report (non-tensors) are absent.
 * Returns an empty map when onnxruntime cannot run the model on a sample input.
 *
 * ```ts
 * const known = await probeShapes(model);
 * const shapes = inferShapes(model.graph.clone(), SHAPE_RULES, undefined, { known });
 * ```
 */
export async function probeShapes(model: Model, options: ProbeOptions = {}): Promise<Map<string, TypeShape>> {
  const g = model.graph.clone();
  const only = options.values === undefined ? undefined : new Set(options.values);
  const existing = new Set(g.outputs.map((v) => v.name));
  // onnxruntime-node cannot hand back sequences, optionals or maps: leave out what is declared so
  // or made by the ops that make them.
  const nonTensor = new Set([...g.outputs, ...g.valueInfo.values()].filter((v) => v.type !== undefined && !v.type.startsWith('tensor(')).map((v) => v.name));
  for (const n of g.nodes)
    if (/Sequence|Optional/.test(n.opType) && !/^ConcatFromSequence$|^SequenceAt$|^SequenceLength$|^OptionalGetElement$|^OptionalHasElement$/.test(n.opType))
      n.outputs.forEach((o) => nonTensor.add(o));
  const wanted = [...existing].filter((o) => !nonTensor.has(o) && (only === undefined || only.has(o)));
  for (const n of g.nodes) {
    for (const o of n.outputs) {
      if (o === '' || existing.has(o) || (only !== undefined && !only.has(o))) continue;
      existing.add(o);
      if (!nonTensor.has(o)) wanted.push(o);
      // No type: onnxruntime infers it (a wrong guess here would make the model invalid).
      g.outputs.push({ name: o, dtype: 'float32', shape: [], type: 'unknown', typeProto: new Uint8Array() });
    }
  }
  if (wanted.length === 0) return new Map();
  const bytes = encodeModel({ ...model, graph: g });
  const symbols = [...new Set(g.inputs.flatMap((v) => v.shape.filter((d): d is string => typeof d === 'string')))];
  const sized =
    (k: number) =>
    (d: Dim): number =>
      typeof d === 'number' ? d : (options.dims?.[d] ?? k);
  let a: Map<string, { dtype: DType; dims: number[] }>;
  let b: Map<string, { dtype: DType; dims: number[] }>;
  try {
    const level = options.optimization ?? 'basic';
    a = await runOnce(bytes, model, sized(1), wanted, level);
    b = symbols.some((s) => options.dims?.[s] === undefined) ? await runOnce(bytes, model, sized(2), wanted, level) : a;
  } catch {
    return new Map();
  }
  const free = symbols.filter((s) => options.dims?.[s] === undefined);
  const out = new Map<string, TypeShape>();
  for (const [name, x] of a) {
    const y = b.get(name);
    const shape: Dim[] = x.dims.map((d, i) => {
      const e = y?.dims[i];
      if (e === undefined || y?.dims.length !== x.dims.length || e === d) return d;
      // One free symbol and a dim that went 1 → 2: that symbol; otherwise a dim of its own.
      return free.length === 1 && d === 1 && e === 2 ? (free[0] as string) : `${name}_d${i}`;
    });
    out.set(name, { dtype: x.dtype, shape });
  }
  return out;
}

/**
 * What onnxruntime must tell about a model so every value has a shape: nothing when the rules
 * (and the file) cover it; else the outputs of the ops without a rule (their consumers' rules
 * do the rest), then whatever is still missing. Pass the result as `known` to `inferShapes` or
 * `modelStats`.
 *
 * ```ts
 * const stats = modelStats(model, SHAPE_RULES, { known: await runtimeShapes(model, SHAPE_RULES) });
 * ```
 */
export async function runtimeShapes(model: Model, rules: ReadonlyMap<string, ShapeRule>, options: ProbeOptions = {}): Promise<Map<string, TypeShape>> {
  const g = model.graph;
  const constants = constantValues(g);
  const missing = (known: Map<string, TypeShape>): string[] => {
    const shapes = inferShapes(g.clone(), rules, constants, { known, unknown: 'skip' });
    return g.nodes.flatMap((n) => n.outputs.filter((o) => o !== '' && !shapes.has(o)));
  };
  const known = new Map<string, TypeShape>();
  const first = missing(known);
  if (first.length === 0) return known;
  const noRule = new Set(g.nodes.filter((n) => !rules.has(opKey(n))).flatMap((n) => n.outputs));
  for (const [k, v] of await probeShapes(model, { ...options, values: first.filter((o) => noRule.has(o)) })) known.set(k, v);
  const rest = missing(known);
  if (rest.length > 0) for (const [k, v] of await probeShapes(model, { ...options, values: rest })) known.set(k, v);
  return known;
}

/**
 * Shapes of every value: Whittle's rules where it has them, onnxruntime's probe for the rest
 * (only run when the rules and the file leave something unknown). Throws UNSUPPORTED_OP naming
 * the node whose outputs stay unknown.
 *
 * ```ts
 * const shapes = await inferShapesWithRuntime(model, SHAPE_RULES);
 * ```
 */
export async function inferShapesWithRuntime(model: Model, rules: ReadonlyMap<string, ShapeRule>, options: ProbeOptions = {}): Promise<Map<string, TypeShape>> {
  const known = await runtimeShapes(model, rules, options);
  return inferShapes(model.graph.clone(), rules, constantValues(model.graph), { known });
}
