// The layers pruning can act on: Gemm, MatMul and Conv nodes whose weight is an initializer, the
// input (W) and recurrent (R) weights of LSTM, GRU and RNN nodes, and embedding tables (a Gather
// of rows of a float initializer). Layers are named after their node (zoo models: 'fc1', 'conv2';
// PyTorch exports: '/fc/Gemm', '/embed/Gather'; a recurrent node's two weights: '/lstm/LSTM.W',
// '/lstm/LSTM.R').
import { WhittleError } from '../../ir/errors.js';
import type { Graph } from '../../ir/graph.js';
import { getInt } from '../../ir/graph.js';

export interface PrunableLayer {
  /** The node's name (a recurrent node's weights: `NODE.W`, `NODE.R`), the name users give on the command line. */
  name: string;
  opType: 'Gemm' | 'MatMul' | 'Conv' | 'LSTM' | 'GRU' | 'RNN' | 'Gather';
  /** Initializer holding the weight. */
  weight: string;
  bias: string | undefined;
  dims: readonly number[];
}

const PRUNABLE = new Set(['Gemm', 'MatMul', 'Conv']);
const RECURRENT = new Set(['LSTM', 'GRU', 'RNN']);

/** Whether a layer is a Gemm, MatMul or Conv (whose weight has output channels), not a recurrent weight or an embedding table. */
export function isLinearLayer(l: PrunableLayer): boolean {
  return PRUNABLE.has(l.opType);
}

/**
 * The weight layers of a graph, in node order.
 *
 * ```ts
 * prunableLayers(createModel('lenet-5').graph).map((l) => l.name); // ['conv1', 'conv2', 'fc1', 'fc2']
 * ```
 */
export function prunableLayers(graph: Graph): PrunableLayer[] {
  const out: PrunableLayer[] = [];
  const floatWeight = (name: string | undefined) => {
    const w = graph.initializers.get(name ?? '');
    return w !== undefined && (w.dtype === 'float32' || w.dtype === 'float64') && w.dims.length >= 2 ? w : undefined;
  };
  for (const n of graph.nodes) {
    if (RECURRENT.has(n.opType) && n.domain === '') {
      // W [directions, gates·hidden, input] and R [directions, gates·hidden, hidden]; the bias B packs both.
      for (const [slot, suffix] of [
        [1, 'W'],
        [2, 'R'],
      ] as const) {
        const w = floatWeight(n.inputs[slot]);
        if (w !== undefined)
          out.push({
            name: `${n.name}.${suffix}`,
            opType: n.opType as PrunableLayer['opType'],
            weight: n.inputs[slot] as string,
            bias: undefined,
            dims: [...w.dims],
          });
      }
      continue;
    }
    if (n.opType === 'Gather' && n.domain === '') {
      // An embedding: rows of a float table picked by ids (axis 0).
      const table = floatWeight(n.inputs[0]);
      const axis = getInt(n, 'axis', 0);
      if (table !== undefined && axis === 0)
        out.push({ name: n.name, opType: 'Gather', weight: n.inputs[0] as string, bias: undefined, dims: [...table.dims] });
      continue;
    }
    if (!PRUNABLE.has(n.opType)) continue;
    const w = floatWeight(n.inputs[1]);
    if (w === undefined) continue;
    const b = n.inputs[2] ? n.inputs[2] : undefined;
    out.push({
      name: n.name,
      opType: n.opType as PrunableLayer['opType'],
      weight: n.inputs[1] as string,
      bias: b !== undefined && graph.initializers.has(b) ? b : undefined,
      dims: [...w.dims],
    });
  }
  return out;
}

/** The prunable layers, or a clear error when there are none. */
export function requirePrunableLayers(graph: Graph): PrunableLayer[] {
  const layers = prunableLayers(graph);
  if (layers.length === 0) {
    throw new WhittleError(
      'BAD_ARGUMENT',
      `model "${graph.name}" has no prunable layers (Gemm, MatMul, Conv, LSTM, GRU or RNN with a constant float weight, or an embedding Gather)`,
    );
  }
  return layers;
}

/** Resolves layer names (node name or weight name), listing the valid ones when one is unknown. */
export function resolveLayers(graph: Graph, names: readonly string[]): PrunableLayer[] {
  const layers = requirePrunableLayers(graph);
  return names.map((n) => {
    const l = layers.find((x) => x.name === n || x.weight === n);
    if (l === undefined) throw new WhittleError('BAD_ARGUMENT', `no prunable layer named "${n}"; valid layers: ${layers.map((x) => x.name).join(', ')}`);
    return l;
  });
}

/** Throws unless 0 ≤ s < 1. */
export function checkSparsity(s: number, what = 'sparsity'): number {
  if (!(Number.isFinite(s) && s >= 0 && s < 1)) throw new WhittleError('BAD_ARGUMENT', `${what} must be in [0, 1) (the fraction of weights removed), got ${s}`);
  return s;
}
