// Small graph edits the quantized forms share (static, dynamic, QAT, int4): which input of an op is its weight,
// rewiring a value's readers, and the per-layer report every form returns.
import type { Graph, Model, Node } from '../ir/graph.js';
import { attr, getFloat, getInt, getInts, opsetOf } from '../ir/graph.js';
import type { DType } from '../ir/tensor.js';
import { graphValueTypes } from '../ir/value-types.js';
import { Tensor } from '../ir/tensor.js';
import { implicitInputs } from '../ir/validate.js';

/** Ops whose second input is a weight matrix/kernel that quantization targets. */
export const WEIGHT_OPS = new Set(['Conv', 'Gemm', 'MatMul']);

export interface WeightedNode {
  node: Node;
  weight: Tensor;
  weightName: string;
  /** The weight axis that indexes output channels (per-channel quantization axis). */
  channelAxis: number;
  /** Bias initializer, if any. */
  bias: Tensor | undefined;
}

/** Conv, Gemm (alpha = beta = 1, no transA) and MatMul nodes whose weight is a float32 initializer. */
export function weightedNodes(g: Graph): WeightedNode[] {
  const out: WeightedNode[] = [];
  for (const node of g.nodes) {
    if (!WEIGHT_OPS.has(node.opType)) continue;
    const weightName = node.inputs[1] ?? '';
    const weight = g.initializers.get(weightName);
    if (weight === undefined || weight.dtype !== 'float32') continue;
    let channelAxis = 0;
    if (node.opType === 'Gemm') {
      if (getInt(node, 'transA', 0) !== 0 || getFloat(node, 'alpha', 1) !== 1 || getFloat(node, 'beta', 1) !== 1) continue;
      channelAxis = getInt(node, 'transB', 0) ? 0 : 1;
    } else if (node.opType === 'MatMul') {
      if (weight.dims.length !== 2) continue;
      channelAxis = 1;
    }
    const biasName = node.opType === 'MatMul' ? undefined : node.inputs[2];
    const bias = biasName ? g.initializers.get(biasName) : undefined;
    if (biasName && (bias === undefined || bias.dims.length !== 1)) continue;
    out.push({ node, weight, weightName, channelAxis, bias });
  }
  return out;
}

/** Replaces `from` by `to` in the inputs of every node except `except`. */
export function rewireReaders(g: Graph, from: string, to: string, except: ReadonlySet<Node> = new Set()): void {
  for (const n of g.nodes) {
    if (except.has(n)) continue;
    n.inputs = n.inputs.map((i) => (i === from ? to : i));
  }
}

/** Removes initializers no node reads (subgraphs' reads of outer values included). */
export function dropUnusedInitializers(g: Graph): void {
  // Only initializer names are collected: a set of every value read cost more than the rest of a
  // 100,000-node dynamic quantization's graph edits.
  const used = new Set<string>();
  const note = (name: string): void => {
    if (g.initializers.has(name)) used.add(name);
  };
  for (const n of g.nodes) {
    for (const i of n.inputs) note(i);
    for (const i of implicitInputs(n)) note(i);
  }
  for (const o of g.outputs) note(o.name);
  if (used.size === g.initializers.size) return;
  for (const k of [...g.initializers.keys()]) if (!used.has(k)) g.initializers.delete(k);
}

/** Weight transposed to [K, N] for a Gemm/MatMul (what MatMulInteger and MatMulNBits want). */
export function weightKN(w: WeightedNode): { data: Float32Array; k: number; n: number } {
  const d = w.weight.data as Float32Array;
  const [r, c] = w.weight.dims as [number, number];
  if (w.channelAxis === 1) return { data: d, k: r, n: c };
  const out = new Float32Array(d.length);
  for (let i = 0; i < r; i++) for (let j = 0; j < c; j++) out[j * r + i] = d[i * c + j] as number;
  return { data: out, k: c, n: r };
}

/** A node a transform left in float, and why: what `skipped` in a result lists. */
export interface SkippedNode {
  node: string;
  op: string;
  reason: string;
}

/** Ops with weights or heavy compute that a user expects quantized; others stay float silently. */
export const COMPUTE_OPS = new Set(['Conv', 'Gemm', 'MatMul', 'ConvTranspose', 'LSTM', 'GRU', 'RNN', 'Attention', 'MultiHeadAttention', 'Einsum']);

/** Whether `node` is named (by node name or op type) in `exclude`. */
export function isExcluded(node: Node, exclude: ReadonlySet<string>): boolean {
  return exclude.has(node.name) || exclude.has(node.opType);
}

/** Why a Conv/Gemm/MatMul is not a `weightedNodes` entry (or another compute op has no int8 form). */
export function skipReason(g: Graph, node: Node): string {
  if (node.opType === 'Conv' || node.opType === 'Gemm' || node.opType === 'MatMul') {
    const w = g.initializers.get(node.inputs[1] ?? '');
    if (w === undefined) return 'its weight is computed at run time (both inputs are activations); no constant weight to quantize';
    if (w.dtype !== 'float32') return `its weight is ${w.dtype}, not float32`;
    if (node.opType === 'MatMul' && w.dims.length !== 2) return `its weight is ${w.dims.length}-D; only 2-D MatMul weights are quantized`;
    if (node.opType === 'Gemm') return 'Gemm with transA or alpha/beta ≠ 1 has no integer form here';
    return 'its bias is not a constant 1-D tensor';
  }
  return `onnxruntime has no integer kernel for ${node.opType} that Whittle targets`;
}

/**
 * Replaces Transpose nodes of float32 initializers by transposed initializers, so a MatMul that
 * reads `Transpose(W)` (PyTorch's Linear in some exports) sees a constant weight.
 *
 * ```ts
 * const m = foldWeightTransposes(model);
 * ```
 */
export function foldWeightTransposes(model: Model): Model {
  const g = model.graph.clone();
  const outputs = new Set(g.outputs.map((o) => o.name));
  g.nodes = g.nodes.filter((n) => {
    const w = n.opType === 'Transpose' ? g.initializers.get(n.inputs[0] ?? '') : undefined;
    const out = n.outputs[0] as string;
    if (w === undefined || w.dtype !== 'float32' || outputs.has(out)) return true;
    const perm = getInts(n, 'perm') ?? w.dims.map((_, i) => w.dims.length - 1 - i);
    g.initializers.set(out, transpose(w, perm));
    return false;
  });
  dropUnusedInitializers(g);
  return { ...model, graph: g };
}

/** A float32 tensor with its axes permuted. */
function transpose(t: Tensor, perm: readonly number[]): Tensor {
  const dims = perm.map((p) => t.dims[p] as number);
  const src = t.data as Float32Array;
  const out = new Float32Array(src.length);
  const inStrides = t.dims.map((_, i) => t.dims.slice(i + 1).reduce((a, b) => a * b, 1));
  const idx = new Array<number>(dims.length).fill(0);
  for (let o = 0; o < out.length; o++) {
    let off = 0;
    for (let a = 0; a < dims.length; a++) off += (idx[a] as number) * (inStrides[perm[a] as number] as number);
    out[o] = src[off] as number;
    for (let a = dims.length - 1; a >= 0; a--) {
      idx[a] = (idx[a] as number) + 1;
      if ((idx[a] as number) < (dims[a] as number)) break;
      idx[a] = 0;
    }
  }
  return new Tensor('float32', dims, out);
}

/**
 * The domain for QuantizeLinear/DequantizeLinear in a model: the default one from opset 13 (axis
 * for per-channel weights), else onnxruntime's com.microsoft versions, which take an axis at any
 * opset (the default-domain ops do not exist before opset 10 and are per-tensor before 13).
 */
export function qdqDomain(model: Model): '' | 'com.microsoft' {
  return opsetOf(model) >= 13 ? '' : 'com.microsoft';
}

/** The model's opset imports with com.microsoft added when a transform used it. */
export function withMicrosoftDomain(model: Model, g: Graph): Model['opsetImports'] {
  const used = g.nodes.some((n) => n.domain === 'com.microsoft');
  return used && !model.opsetImports.some((i) => i.domain === 'com.microsoft')
    ? [...model.opsetImports, { domain: 'com.microsoft', version: 1 }]
    : model.opsetImports;
}

/**
 * Visits every subgraph (If branches, Loop and Scan bodies, nested too) of `g` as a private copy
 * put back into its node, with the float weights it reads from enclosing graphs made visible as
 * its own initializers for the visit (those left unchanged are removed again afterwards: the
 * enclosing graph still holds them).
 */
export function forEachSubgraph(
  g: Graph,
  types: ReadonlyMap<string, DType | undefined>,
  visit: (sub: Graph, types: Map<string, DType | undefined>) => void,
  visible: ReadonlyMap<string, Tensor> = g.initializers,
): void {
  for (const n of g.nodes) {
    for (const [key, a] of Object.entries(n.attributes)) {
      if (a.type !== 'graph') continue;
      const sub = a.value.clone();
      n.attributes[key] = attr.graph(sub);
      const defined = new Set([...sub.inputs.map((v) => v.name), ...sub.initializers.keys(), ...sub.nodes.flatMap((x) => x.outputs)]);
      const borrowed = new Map<string, Tensor>();
      for (const x of sub.nodes)
        for (const i of x.inputs) {
          const t = visible.get(i);
          if (!defined.has(i) && t !== undefined) borrowed.set(i, t);
        }
      for (const [k, t] of borrowed) sub.initializers.set(k, t);
      const subTypes = graphValueTypes(sub, types);
      visit(sub, subTypes);
      forEachSubgraph(sub, subTypes, visit, new Map([...visible, ...sub.initializers]));
      for (const [k, t] of borrowed) if (sub.initializers.get(k) === t) sub.initializers.delete(k);
      const used = new Set(sub.nodes.flatMap((x) => [...x.inputs, ...implicitInputs(x)]));
      for (const o of sub.outputs) used.add(o.name);
      for (const k of [...sub.initializers.keys()]) if (!used.has(k)) sub.initializers.delete(k);
    }
  }
}

/** One quantized layer, as a quantization result reports it. */
export interface LayerReport {
  name: string;
  op: string;
  bits: number;
  params: number;
  /** Bytes of the stored weight (and bias) in the output model. */
  bytes: number;
  /** Share of the weights that are exactly zero (ternary codes 0); absent: 0. */
  sparsity?: number;
}

export interface QuantizeResult {
  model: Model;
  layers: LayerReport[];
  /** Compute ops left in float32, and why. */
  skipped?: SkippedNode[];
  /** Choices a user should know about (e.g. per-tensor weights forced by an old opset). */
  notes?: string[];
}
