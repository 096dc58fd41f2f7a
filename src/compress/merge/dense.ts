// Dense chains Gemm → (activation) → Gemm, and the per-unit edits merging and growing make on
// them: read, write, drop and append a unit (a row of the layer, a column of the next layer).
// A small stand-in for structured pruning's dependency analysis, limited to this one pattern.
import { WhittleError } from '../../ir/errors.js';
import type { Graph, Node } from '../../ir/graph.js';
import { getFloat, getInt } from '../../ir/graph.js';
import { Tensor } from '../../ir/tensor.js';

/** A Dense layer whose units feed, through at most one elementwise activation, one Dense layer. */
export interface DenseChain {
  layer: Node;
  activation: Node | undefined;
  next: Node;
  /** Units of `layer` (its output width). */
  width: number;
  inFeatures: number;
}

const ACTIVATIONS = new Set(['Relu', 'LeakyRelu', 'Sigmoid', 'Tanh']);

function denseLayers(graph: Graph): string[] {
  return graph.nodes.filter((n) => n.opType === 'Gemm' && graph.initializers.has(n.inputs[1] ?? '')).map((n) => n.name);
}

function weightOf(graph: Graph, n: Node): Tensor {
  const w = graph.initializers.get(n.inputs[1] ?? '');
  if (w === undefined || w.dtype !== 'float32' || w.dims.length !== 2) {
    throw new WhittleError('BAD_ARGUMENT', `Gemm "${n.name}" needs a float32 2-D weight initializer`);
  }
  return w;
}

/**
 * Finds the chain that starts at the Gemm named `layer` (node name, or the name of its weight
 * such as 'fc1.weight'); throws BAD_ARGUMENT listing the Dense layers when there is none.
 */
export function denseChain(graph: Graph, layer: string): DenseChain {
  const node = graph.nodes.find((n) => n.opType === 'Gemm' && (n.name === layer || n.inputs[1] === layer || n.inputs[1] === `${layer}.weight`));
  const candidates = (): string => denseLayers(graph).join(', ') || '(none)';
  if (node === undefined) throw new WhittleError('BAD_ARGUMENT', `no Dense (Gemm) layer "${layer}"; Dense layers: ${candidates()}`);
  if (getInt(node, 'transA', 0) !== 0 || getFloat(node, 'alpha', 1) !== 1) {
    throw new WhittleError('BAD_ARGUMENT', `Gemm "${node.name}" uses transA or alpha ≠ 1; Whittle edits plain Dense layers only`);
  }
  const w = weightOf(graph, node);
  const transB = getInt(node, 'transB', 0) === 1;
  const width = (transB ? w.dims[0] : w.dims[1]) as number;
  const inFeatures = (transB ? w.dims[1] : w.dims[0]) as number;
  const out = node.outputs[0] as string;
  const isOutput = (v: string): boolean => graph.outputs.some((o) => o.name === v);
  const only = (v: string): Node | undefined => {
    const c = graph.consumersOf(v);
    return c.length === 1 && !isOutput(v) ? c[0] : undefined;
  };
  let activation = only(out);
  let next = activation;
  if (activation !== undefined && ACTIVATIONS.has(activation.opType)) next = only(activation.outputs[0] as string);
  else activation = undefined;
  if (next === undefined || next.opType !== 'Gemm' || next.inputs[0] !== (activation?.outputs[0] ?? out) || !graph.initializers.has(next.inputs[1] ?? '')) {
    throw new WhittleError(
      'BAD_ARGUMENT',
      `Dense layer "${node.name}" must feed exactly one Dense layer (optionally through Relu/LeakyRelu/Sigmoid/Tanh) to be merged or widened; the last layer cannot be. Dense layers: ${candidates()}`,
    );
  }
  const nw = weightOf(graph, next);
  if (getInt(next, 'transA', 0) !== 0 || (getInt(next, 'transB', 0) === 1 ? nw.dims[1] : nw.dims[0]) !== width) {
    throw new WhittleError('SHAPE_MISMATCH', `Gemm "${next.name}" does not read the ${width} units of "${node.name}" as its input features`);
  }
  return { layer: node, activation, next, width, inFeatures };
}

/** Row-major [units, features] view of a Gemm's weight (transposed copy when transB = 0). */
function unitsMajor(graph: Graph, n: Node): { data: Float32Array; units: number; features: number } {
  const w = weightOf(graph, n);
  const [r, c] = w.dims as [number, number];
  const src = w.data as Float32Array;
  if (getInt(n, 'transB', 0) === 1) return { data: src.slice(), units: r, features: c };
  const data = new Float32Array(r * c);
  for (let i = 0; i < r; i++) for (let j = 0; j < c; j++) data[j * r + i] = src[i * c + j] as number;
  return { data, units: c, features: r };
}

function storeUnitsMajor(graph: Graph, n: Node, data: Float32Array, units: number, features: number): void {
  if (getInt(n, 'transB', 0) === 1) {
    graph.initializers.set(n.inputs[1] as string, new Tensor('float32', [units, features], data));
    return;
  }
  const t = new Float32Array(units * features);
  for (let u = 0; u < units; u++) for (let f = 0; f < features; f++) t[f * units + u] = data[u * features + f] as number;
  graph.initializers.set(n.inputs[1] as string, new Tensor('float32', [features, units], t));
}

/**
 * Editable copy of a chain's numbers: `incoming` [width, inFeatures] and `bias` [width] of the
 * layer, `outgoing` [width, outFeatures] (the next layer's weight, unit-major).
 */
export interface ChainWeights {
  incoming: Float32Array;
  bias: Float32Array;
  outgoing: Float32Array;
  width: number;
  inFeatures: number;
  outFeatures: number;
}

export function readChain(graph: Graph, chain: DenseChain): ChainWeights {
  const inc = unitsMajor(graph, chain.layer);
  const next = unitsMajor(graph, chain.next);
  // The next layer is unit-major over *its* units; we want it over our units (its features).
  const outgoing = new Float32Array(next.units * next.features);
  for (let o = 0; o < next.units; o++) for (let u = 0; u < next.features; u++) outgoing[u * next.units + o] = next.data[o * next.features + u] as number;
  const biasName = chain.layer.inputs[2];
  const bias = biasName ? (graph.initializers.get(biasName)?.data as Float32Array | undefined)?.slice() : undefined;
  if (bias !== undefined && bias.length !== chain.width) {
    throw new WhittleError('BAD_ARGUMENT', `Gemm "${chain.layer.name}": bias must have ${chain.width} elements (one per unit)`);
  }
  return { incoming: inc.data, bias: bias ?? new Float32Array(chain.width), outgoing, width: chain.width, inFeatures: inc.features, outFeatures: next.units };
}

/** Writes `w` back into `graph` (shapes may have changed: thinning or widening). */
export function writeChain(graph: Graph, chain: DenseChain, w: ChainWeights): void {
  storeUnitsMajor(graph, chain.layer, w.incoming, w.width, w.inFeatures);
  const biasName = chain.layer.inputs[2];
  if (biasName) graph.initializers.set(biasName, new Tensor('float32', [w.width], w.bias));
  else if (w.bias.some((v) => v !== 0)) throw new WhittleError('INVALID_GRAPH', `Gemm "${chain.layer.name}" has no bias to hold the new values`);
  const next = new Float32Array(w.outFeatures * w.width);
  for (let u = 0; u < w.width; u++) for (let o = 0; o < w.outFeatures; o++) next[o * w.width + u] = w.outgoing[u * w.outFeatures + o] as number;
  storeUnitsMajor(graph, chain.next, next, w.outFeatures, w.width);
  // Recorded shapes of the thinned values are stale; let consumers re-infer them.
  for (const v of [chain.layer.outputs[0], chain.activation?.outputs[0]]) if (v !== undefined) graph.valueInfo.delete(v);
}

/** Keeps only the units in `keep` (in that order): thinning. */
export function selectUnits(w: ChainWeights, keep: readonly number[]): ChainWeights {
  const incoming = new Float32Array(keep.length * w.inFeatures);
  const outgoing = new Float32Array(keep.length * w.outFeatures);
  const bias = new Float32Array(keep.length);
  keep.forEach((u, i) => {
    incoming.set(w.incoming.subarray(u * w.inFeatures, (u + 1) * w.inFeatures), i * w.inFeatures);
    outgoing.set(w.outgoing.subarray(u * w.outFeatures, (u + 1) * w.outFeatures), i * w.outFeatures);
    bias[i] = w.bias[u] as number;
  });
  return { ...w, incoming, outgoing, bias, width: keep.length };
}
