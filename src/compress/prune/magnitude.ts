// Unstructured magnitude pruning (Han et al. 2015): zero the weights of smallest |w|, per layer,
// with one threshold across layers, or with an explicit sparsity per layer. Pure: returns a new
// model and the 0/1 masks that keep the zeros in place during fine-tuning.
import { WhittleError } from '../../ir/errors.js';
import type { Model } from '../../ir/graph.js';
import { Tensor } from '../../ir/tensor.js';
import type { PrunableLayer } from './layers.js';
import { checkSparsity, requirePrunableLayers, resolveLayers } from './layers.js';

export type PruneScope = 'layer' | 'global';

export interface MagnitudeOptions {
  /** Fraction of weights to zero in [0, 1): in each layer ('layer') or over all of them ('global'). */
  sparsity?: number;
  /** Default 'layer'. */
  scope?: PruneScope;
  /** Explicit sparsity per layer (node or weight name), e.g. `{ fc1: 0.92, fc2: 0.91 }`; other layers get `sparsity`, or stay dense. */
  perLayer?: Readonly<Record<string, number>>;
  /** Prune only these layers (default: every Gemm, MatMul and Conv weight). */
  layers?: readonly string[];
}

export interface LayerSparsity {
  name: string;
  weight: string;
  shape: number[];
  params: number;
  nonzero: number;
  sparsity: number;
}

export interface MaskedModel {
  /** A new model whose pruned weights are exactly zero (the input is untouched). */
  model: Model;
  /** 0/1 mask per pruned weight initializer, same shape and dtype. */
  masks: Map<string, Tensor>;
  layers: LayerSparsity[];
}

type Floats = Float32Array | Float64Array;

/** Indices of the `k` smallest-magnitude entries over several arrays, as 0/1 keep masks. */
function keepMasks(arrays: readonly Floats[], k: number): Uint8Array[] {
  const total = arrays.reduce((a, x) => a + x.length, 0);
  const mags = new Float32Array(total);
  let o = 0;
  for (const a of arrays) for (let i = 0; i < a.length; i++) mags[o++] = Math.abs(a[i] as number);
  const keep = arrays.map((a) => new Uint8Array(a.length).fill(1));
  if (k <= 0) return keep;
  const order = new Uint32Array(total);
  for (let i = 0; i < total; i++) order[i] = i;
  // Ties broken by index so the result is deterministic.
  order.sort((a, b) => (mags[a] as number) - (mags[b] as number) || a - b);
  const starts: number[] = [];
  let s = 0;
  for (const a of arrays) {
    starts.push(s);
    s += a.length;
  }
  for (let j = 0; j < Math.min(k, total); j++) {
    const flat = order[j] as number;
    let t = arrays.length - 1;
    while ((starts[t] as number) > flat) t--;
    (keep[t] as Uint8Array)[flat - (starts[t] as number)] = 0;
  }
  return keep;
}

function countNonzero(d: ArrayLike<number>): number {
  let n = 0;
  for (let i = 0; i < d.length; i++) if (d[i] !== 0) n++;
  return n;
}

/** Per-layer sparsity figures of the given weights in `model`. */
export function layerSparsity(model: Model, layers: readonly PrunableLayer[]): LayerSparsity[] {
  return layers.map((l) => {
    const t = model.graph.initializers.get(l.weight) as Tensor;
    const nz = countNonzero(t.data as Floats);
    return { name: l.name, weight: l.weight, shape: [...t.dims], params: t.size, nonzero: nz, sparsity: 1 - nz / t.size };
  });
}

/**
 * Zeros the smallest-magnitude weights.
 *
 * ```ts
 * const { model: sparse, masks } = magnitudePrune(model, { sparsity: 0.9, scope: 'global' });
 * const { model: tuned } = magnitudePrune(model, { perLayer: { fc1: 0.92, fc2: 0.91, fc3: 0.74 } });
 * ```
 */
export function magnitudePrune(model: Model, options: MagnitudeOptions): MaskedModel {
  const scope = options.scope ?? 'layer';
  if (scope !== 'layer' && scope !== 'global') throw new WhittleError('BAD_ARGUMENT', `scope must be 'layer' or 'global', got "${String(scope)}"`);
  const all = requirePrunableLayers(model.graph);
  const perLayer = new Map<PrunableLayer, number>();
  for (const [name, s] of Object.entries(options.perLayer ?? {}))
    perLayer.set(resolveLayers(model.graph, [name])[0] as PrunableLayer, checkSparsity(s, `sparsity of layer "${name}"`));
  if (options.sparsity !== undefined) checkSparsity(options.sparsity);
  if (options.sparsity === undefined && perLayer.size === 0) throw new WhittleError('BAD_ARGUMENT', 'give a sparsity or per-layer sparsities');
  if (scope === 'global' && perLayer.size > 0)
    throw new WhittleError('BAD_ARGUMENT', 'per-layer sparsities and a global threshold exclude each other; drop one');
  const chosen = options.layers !== undefined ? resolveLayers(model.graph, options.layers) : all;

  const g = model.graph.clone();
  const masks = new Map<string, Tensor>();
  const apply = (l: PrunableLayer, keep: Uint8Array): void => {
    const w = g.initializers.get(l.weight) as Tensor;
    const data = (w.data as Floats).slice();
    const mask = new Tensor(w.dtype, w.dims);
    const m = mask.data as Floats;
    for (let i = 0; i < data.length; i++) {
      m[i] = keep[i] as number;
      if (keep[i] === 0) data[i] = 0;
    }
    g.initializers.set(l.weight, new Tensor(w.dtype, w.dims, data));
    masks.set(l.weight, mask);
  };
  const weights = (l: PrunableLayer): Floats => (g.initializers.get(l.weight) as Tensor).data as Floats;

  if (scope === 'global') {
    const targets = chosen;
    const arrays = targets.map(weights);
    const total = arrays.reduce((a, x) => a + x.length, 0);
    const keeps = keepMasks(arrays, Math.round((options.sparsity as number) * total));
    targets.forEach((l, i) => apply(l, keeps[i] as Uint8Array));
  } else {
    for (const l of chosen) {
      const s = perLayer.get(l) ?? options.sparsity;
      if (s === undefined) continue;
      const w = weights(l);
      apply(l, keepMasks([w], Math.round(s * w.length))[0] as Uint8Array);
    }
    for (const l of perLayer.keys())
      if (!chosen.includes(l)) apply(l, keepMasks([weights(l)], Math.round((perLayer.get(l) as number) * weights(l).length))[0] as Uint8Array);
  }
  const result: Model = { ...model, graph: g, metadata: { ...model.metadata } };
  const pruned = all.filter((l) => masks.has(l.weight));
  return { model: result, masks, layers: layerSparsity(result, pruned) };
}

/** 0/1 masks marking the nonzero entries of the given weights (or of every prunable weight). */
export function masksFromZeros(model: Model, weights?: readonly string[]): Map<string, Tensor> {
  const names = weights ?? requirePrunableLayers(model.graph).map((l) => l.weight);
  const masks = new Map<string, Tensor>();
  for (const n of names) {
    const w = model.graph.initializers.get(n);
    if (w === undefined) throw new WhittleError('BAD_ARGUMENT', `no initializer "${n}" to mask`);
    const m = new Tensor(w.dtype, w.dims);
    const md = m.data as Floats;
    const wd = w.data as Floats;
    for (let i = 0; i < wd.length; i++) md[i] = wd[i] !== 0 ? 1 : 0;
    masks.set(n, m);
  }
  return masks;
}
