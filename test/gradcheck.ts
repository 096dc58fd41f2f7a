// Checks gradient rules against central finite differences. Used by the op tests.
//  - float64 graphs: both the analytic gradient and the finite differences run in ORT.
//  - float32-only ops (Conv, pooling): the analytic gradient runs in ORT in float32, the
//    finite differences come from a float64 reference forward written in the test.
import assert from 'node:assert/strict';
import { addGradients } from '../src/autodiff/gradients.js';
import type { Attribute, Model, ValueInfo } from '../src/ir/graph.js';
import { Graph, GraphBuilder, makeModel } from '../src/ir/graph.js';
import { inferShapes } from '../src/ir/shape.js';
import { Tensor } from '../src/ir/tensor.js';
import type { DType } from '../src/ir/tensor.js';
import { SHAPE_RULES } from '../src/ops/index.js';
import { Session } from '../src/runtime/session.js';

export function seededUniform(seed: number): (lo?: number, hi?: number) => number {
  let s = seed >>> 0;
  return (lo = -1, hi = 1) => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    const u = ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    return lo + (hi - lo) * u;
  };
}

export function randomTensor(dtype: DType, dims: number[], seed: number, lo = -1, hi = 1): Tensor {
  const r = seededUniform(seed);
  const n = dims.reduce((a, b) => a * b, 1);
  return Tensor.fromArray(
    dtype,
    dims,
    Array.from({ length: n }, () => r(lo, hi)),
  );
}

export interface GradCheck {
  /** Forward graph: its inputs are fed from `feeds`, every graph output enters the loss. */
  graph: Graph;
  feeds: Record<string, Tensor>;
  /** Inputs to differentiate against (graph inputs). */
  wrt: string[];
  /** Float64 forward for ops ORT runs only in float32: feeds → one array per graph output. */
  reference?: (feeds: Record<string, Float64Array>) => Float64Array[];
  eps?: number;
  /** Tolerance on |analytic − numeric| / max(1, |numeric|). */
  tol?: number;
  /** Default-domain opset of the checked graphs (default 17), for ops newer than it (Gelu: 20). */
  opset?: number;
}

function modelAt(graph: Graph, opset: number | undefined): Model {
  const m = makeModel(graph);
  return opset === undefined
    ? m
    : { ...m, opsetImports: [{ domain: '', version: opset }], irVersion: Math.max(m.irVersion, opset >= 21 ? 10 : opset >= 19 ? 9 : 8) };
}

export interface GradCheckResult {
  maxError: number;
  checked: number;
}

/** Runs the check and asserts; returns the worst relative error seen. */
export async function gradCheck(spec: GradCheck): Promise<GradCheckResult> {
  const { feeds, wrt } = spec;
  const fwd = await Session.create(modelAt(spec.graph, spec.opset), { threads: 1 });
  const outs = await fwd.run(feeds);
  await fwd.release();

  // loss = Σ_o Σ (o · r_o) with fixed random r_o, so every output element matters differently.
  const g = spec.graph.clone();
  const b = new GraphBuilder(g, 'check');
  const weights: Float64Array[] = [];
  const terms: string[] = [];
  spec.graph.outputs.forEach((o, i) => {
    const y = outs[o.name];
    assert.ok(y, `forward produced no ${o.name}`);
    const r = randomTensor(o.dtype, [...y.dims], 1000 + i);
    weights.push(Float64Array.from(r.data as ArrayLike<number>));
    terms.push(b.op1('ReduceSum', [b.op1('Mul', [o.name, b.constant(r, 'r')])], { keepdims: { type: 'int', value: 0 } }));
  });
  const loss = terms.length === 1 ? (terms[0] as string) : b.op1('Sum', terms);
  const lossType = spec.graph.outputs[0]?.dtype ?? 'float32';
  const grads = addGradients(g, loss, wrt);
  g.outputs = [
    { name: loss, dtype: lossType, shape: [] },
    ...wrt.map((w) => ({ name: grads.get(w) as string, dtype: feeds[w]?.dtype ?? lossType, shape: [...(feeds[w]?.dims ?? [])] })),
  ];
  const s = await Session.create(modelAt(g, spec.opset), { threads: 1 });
  const res = await s.run(feeds);

  // The loss at the given inputs; `delta` perturbs one element of one input. In the reference
  // path the perturbation is applied in float64, so float32 rounding cannot distort the step.
  const numericLoss = async (delta?: { name: string; index: number; by: number }): Promise<number> => {
    if (spec.reference) {
      const f64: Record<string, Float64Array> = {};
      for (const [k, t] of Object.entries(feeds)) f64[k] = Float64Array.from(t.data as ArrayLike<number>);
      if (delta) {
        const arr = f64[delta.name] as Float64Array;
        arr[delta.index] = (arr[delta.index] as number) + delta.by;
      }
      const ys = spec.reference(f64);
      let acc = 0;
      ys.forEach((y, i) => {
        const w = weights[i] as Float64Array;
        assert.equal(y.length, w.length, `reference output ${i} has ${y.length} elements, ORT's has ${w.length}`);
        for (let j = 0; j < y.length; j++) acc += (y[j] as number) * (w[j] as number);
      });
      return acc;
    }
    let f = feeds;
    if (delta) {
      const t = (feeds[delta.name] as Tensor).clone();
      (t.data as Float64Array)[delta.index] = (t.data[delta.index] as number) + delta.by;
      f = { ...feeds, [delta.name]: t };
    }
    const r = await s.run(f, [loss]);
    return Number((r[loss] as Tensor).data[0]);
  };

  const eps = spec.eps ?? (spec.reference ? 1e-5 : 1e-6);
  const tol = spec.tol ?? (spec.reference ? 2e-3 : 1e-6);
  let maxError = 0;
  let checked = 0;
  for (const w of wrt) {
    const base = feeds[w] as Tensor;
    const analytic = res[grads.get(w) as string] as Tensor;
    assert.deepEqual([...analytic.dims], [...base.dims], `gradient of ${w} has shape [${analytic.dims}] but ${w} is [${base.dims}]`);
    for (let i = 0; i < base.size; i++) {
      const fp = await numericLoss({ name: w, index: i, by: eps });
      const fm = await numericLoss({ name: w, index: i, by: -eps });
      const numeric = (fp - fm) / (2 * eps);
      const err = Math.abs((analytic.data[i] as number) - numeric) / Math.max(1, Math.abs(numeric));
      maxError = Math.max(maxError, err);
      checked++;
      assert.ok(err <= tol, `d loss / d ${w}[${i}]: analytic ${analytic.data[i]} vs numeric ${numeric} (relative error ${err.toExponential(2)} > ${tol})`);
    }
  }
  await s.release();
  return { maxError, checked };
}

export interface OneNodeGraph {
  /** Graph inputs, fed at run time. */
  inputs: ValueInfo[];
  /** The node's operands; default: the graph inputs in order. '' skips an optional operand. */
  operands?: string[];
  /** Constant operands (shapes, axes, ...). */
  initializers?: Record<string, Tensor>;
  attributes?: Record<string, Attribute>;
  /**
   * Graph outputs. Default: the node's one output 'y', typed and shaped by the op's shape rule.
   */
  outputs?: ValueInfo[];
  /** The node's outputs; default: the graph outputs' names (more for e.g. MaxPool's Indices). */
  results?: string[];
  /** Graph and node name; default: the op type in lower case. */
  name?: string;
}

/**
 * A graph of one `opType` node, the unit the op tests check.
 *
 * ```ts
 * const g = oneNodeGraph('Relu', { inputs: [{ name: 'x', dtype: 'float64', shape: [2, 3] }] });
 * ```
 */
export function oneNodeGraph(opType: string, spec: OneNodeGraph): Graph {
  const name = spec.name ?? opType.toLowerCase();
  const g = new Graph(name);
  g.inputs.push(...spec.inputs.map((v) => ({ ...v, shape: [...v.shape] })));
  for (const [k, t] of Object.entries(spec.initializers ?? {})) g.initializers.set(k, t);
  const results = spec.results ?? spec.outputs?.map((o) => o.name) ?? ['y'];
  g.nodes.push({ name, opType, domain: '', inputs: spec.operands ?? spec.inputs.map((v) => v.name), outputs: results, attributes: spec.attributes ?? {} });
  if (spec.outputs !== undefined) g.outputs.push(...spec.outputs.map((v) => ({ ...v, shape: [...v.shape] })));
  else {
    const y = inferShapes(g, SHAPE_RULES).get('y');
    assert.ok(y, `the ${opType} shape rule gives no type for its output "y"`);
    g.outputs.push({ name: 'y', dtype: y.dtype, shape: y.shape });
  }
  return g;
}

/** Feeds as graph inputs of their own type and shape. */
export function inputsOf(feeds: Record<string, Tensor>): ValueInfo[] {
  return Object.entries(feeds).map(([name, t]) => ({ name, dtype: t.dtype, shape: [...t.dims] }));
}

export interface OneNodeCheck {
  op: string;
  /** The node's operands: names of `feeds` (graph inputs), of `init` (initializers), or ''. */
  inputs: string[];
  feeds: Record<string, Tensor>;
  init?: Record<string, Tensor>;
  attributes?: Record<string, Attribute>;
  /** Default: every feed. */
  wrt?: string[];
  opset?: number;
}

/**
 * Gradient-checks y = op(inputs) (float64, finite differences in ORT), asserting that every
 * element of every `wrt` input was checked.
 *
 * ```ts
 * await checkOneNode({ op: 'Tanh', inputs: ['x'], feeds: { x: randomTensor('float64', [2, 3], 1) } });
 * ```
 */
export async function checkOneNode(c: OneNodeCheck): Promise<void> {
  const graph = oneNodeGraph(c.op, { inputs: inputsOf(c.feeds), operands: c.inputs, initializers: c.init, attributes: c.attributes });
  const wrt = c.wrt ?? Object.keys(c.feeds);
  const r = await gradCheck({ graph, feeds: c.feeds, wrt, opset: c.opset });
  assert.equal(
    r.checked,
    wrt.reduce((n, w) => n + (c.feeds[w]?.size ?? 0), 0),
  );
}
