// Small graph edits the quantization passes share: which input of an op is its weight, and
// rewiring a value's readers.
import type { Graph, Node } from '../../ir/graph.js';
import { getFloat, getInt } from '../../ir/graph.js';
import type { Tensor } from '../../ir/tensor.js';

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

/** Removes initializers no node reads. */
export function dropUnusedInitializers(g: Graph): void {
  const used = new Set(g.nodes.flatMap((n) => n.inputs));
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
