// Neuron merging: find pairs of units of a Dense layer that compute (nearly) the same thing,
// keep one, fold the other's outgoing weights into it, and thin both layers. Scoring (which pairs,
// what scale) is separate from the mutation (fold + thin), as in structured pruning.
import type { Dataset, Normalization, TensorDataset } from '../../data/index.js';
import { WhittleError } from '../../ir/errors.js';
import type { Model } from '../../ir/graph.js';
import { Tensor } from '../../ir/tensor.js';
import type { ChainWeights, DenseChain } from './dense.js';
import { denseChain, readChain, selectUnits, writeChain } from './dense.js';
import { activationsOf } from './activations.js';
import { dependencyGroups } from '../../graph/dependency.js';
import { thinChannels } from '../../graph/thin.js';
import type { PruneGroup } from '../../graph/dependency.js';
import { GroupWeights, mergeableGroup, perChannel } from './group.js';

export { denseChain, readChain, selectUnits, writeChain } from './dense.js';
export type { ChainWeights, DenseChain } from './dense.js';
export { activationsOf, maxAbsOutputChange } from './activations.js';

export type MergeCriterion = 'weight' | 'activation';

export interface MergeOptions {
  /**
   * The layer whose units merge (node name): a Dense layer's neurons or a Conv's filters, as
   * structured pruning's dependency analysis groups them (e.g. 'fc1', 'conv2').
   */
  layer: string;
  /** How many units to remove; or `ratio` of the layer's units. */
  count?: number;
  ratio?: number;
  /**
   * 'weight' (default): pair units by their incoming [weights, bias]; 'activation': by their
   * activations on calibration samples (correlation, with a least-squares scale and offset).
   * Pairs are merged greedily, cheapest first: ‖outgoing weights‖² × the residual of the fit
   * (for activations, variance × (1 − correlation²)), so a merge never costs more than removing
   * the unit outright.
   */
  criterion?: MergeCriterion;
  /** For 'weight': cosine (default; a scaled copy merges exactly through ReLU) or L2 distance. */
  similarity?: 'cosine' | 'l2';
  /** Samples whose activations score and scale the pairs ('activation' only). */
  calibration?: { data: Dataset | TensorDataset; normalization: Normalization; samples?: number; threads?: number };
}

/** One merge: unit `removed` (original index) folded into unit `kept` with this scale. */
export interface MergeStep {
  kept: number;
  removed: number;
  scale: number;
  /** Estimated output change: ‖outgoing weights‖² × the residual of the fit. */
  cost: number;
}

export interface MergeResult {
  model: Model;
  steps: MergeStep[];
  widthBefore: number;
  widthAfter: number;
}

/** Activations for which a(s·z) = s·a(z), s ≥ 0: a unit's scaled copy folds into it exactly. */
const HOMOGENEOUS = new Set(['Relu', 'LeakyRelu']);

/** The number of units `options` asks to remove, validated against the layer's width. */
export function mergeCount(width: number, options: Pick<MergeOptions, 'count' | 'ratio' | 'layer'>): number {
  const { count, ratio } = options;
  if ((count === undefined) === (ratio === undefined))
    throw new WhittleError('BAD_ARGUMENT', 'give exactly one of count (units to remove) or ratio (fraction of the units)');
  if (ratio !== undefined && !(ratio > 0 && ratio < 1)) throw new WhittleError('BAD_ARGUMENT', `ratio must be in (0, 1), got ${ratio}`);
  const k = count ?? Math.round((ratio as number) * width);
  if (!Number.isInteger(k) || k < 1 || k >= width) {
    throw new WhittleError(
      'BAD_ARGUMENT',
      `cannot remove ${k} of the ${width} units of "${options.layer}": the count must be an integer from 1 to ${width - 1}`,
    );
  }
  return k;
}

/**
 * How well each unit is explained by each other one: `residual(r, k)` is the squared error left
 * when unit r is replaced by `scale(r, k)` times unit k (plus `offset(r, k)`, folded into the next
 * bias). Merging r into k changes the output by about ‖outgoing_r‖² · residual(r, k).
 */
interface PairModel {
  residual(r: number, k: number): number;
  fit(r: number, k: number): { scale: number; offset: number };
}

/** Unit-major vectors (rows) and their Gram matrix. */
function gram(vecs: Float64Array, units: number, len: number): Float64Array {
  const G = new Float64Array(units * units);
  for (let i = 0; i < units; i++) {
    for (let j = i; j < units; j++) {
      let dot = 0;
      for (let t = 0; t < len; t++) dot += (vecs[i * len + t] as number) * (vecs[j * len + t] as number);
      G[i * units + j] = dot;
      G[j * units + i] = dot;
    }
  }
  return G;
}

/** Incoming [weights, bias] vectors: cosine (project r onto k) or L2 (r ≈ k). */
/** Incoming [weights, bias] of each unit of a Dense chain, unit-major. */
function chainVectors(w: ChainWeights): { vecs: Float64Array; len: number } {
  const f = w.inFeatures + 1;
  const vecs = new Float64Array(w.width * f);
  for (let u = 0; u < w.width; u++) {
    for (let t = 0; t < w.inFeatures; t++) vecs[u * f + t] = w.incoming[u * w.inFeatures + t] as number;
    vecs[u * f + w.inFeatures] = w.bias[u] as number;
  }
  return { vecs, len: f };
}

function weightModel(vecs: Float64Array, n: number, len: number, similarity: 'cosine' | 'l2', activation: string | undefined): PairModel {
  // A scaled copy folds exactly only through a linear or positively homogeneous activation.
  const scaled = similarity === 'cosine' && (activation === undefined || HOMOGENEOUS.has(activation));
  const clampNegative = activation !== undefined;
  const G = gram(vecs, n, len);
  const fit = (r: number, k: number): { scale: number; offset: number } => {
    if (!scaled) return { scale: 1, offset: 0 };
    const kk = G[k * n + k] as number;
    let scale = kk < 1e-30 ? 0 : (G[r * n + k] as number) / kk;
    // Only a non-negative scale passes through a ReLU-like activation unchanged.
    if (clampNegative && scale < 0) scale = 0;
    return { scale, offset: 0 };
  };
  return {
    fit,
    residual: (r, k) => {
      const { scale } = fit(r, k);
      return Math.max(0, (G[r * n + r] as number) - 2 * scale * (G[r * n + k] as number) + scale * scale * (G[k * n + k] as number));
    },
  };
}

/** Post-activation values on calibration samples ([samples, width]): least squares with intercept. */
function activationModel(h: Float32Array, samples: number, width: number): PairModel {
  const mean = new Float64Array(width);
  for (let s = 0; s < samples; s++) for (let u = 0; u < width; u++) mean[u] = (mean[u] as number) + (h[s * width + u] as number) / samples;
  const centered = new Float64Array(width * samples);
  for (let s = 0; s < samples; s++) for (let u = 0; u < width; u++) centered[u * samples + s] = (h[s * width + u] as number) - (mean[u] as number);
  const C = gram(centered, width, samples);
  const fit = (r: number, k: number): { scale: number; offset: number } => {
    const kk = C[k * width + k] as number;
    const scale = kk < 1e-12 ? 0 : (C[r * width + k] as number) / kk;
    return { scale, offset: (mean[r] as number) - scale * (mean[k] as number) };
  };
  return {
    fit,
    residual: (r, k) => {
      const { scale } = fit(r, k);
      return Math.max(0, (C[r * width + r] as number) - scale * (C[r * width + k] as number));
    },
  };
}

/**
 * Writes the folded weights and removes the merged units: through structured pruning's
 * dependency analysis and `thinChannels` when it sees the layer as one prunable group (it also
 * thins whatever else is coupled), else directly on the Dense chain.
 */
function thin(model: Model, chain: DenseChain, w: ChainWeights, keep: readonly number[]): Model {
  writeChain(model.graph, chain, w);
  const group = dependencyGroups(model.graph).find((gr) => gr.producers.length === 1 && gr.producers[0] === chain.layer.name && gr.channels === chain.width);
  if (group?.prunable) return thinChannels(model, [group], new Map([[group.id, keep]]));
  writeChain(model.graph, chain, selectUnits(w, keep));
  return model;
}

/**
 * Merges units (neurons of a Dense layer, filters of a Conv) into others and thins the layer and
 * its consumers. Identical units merge with no change in output. Returns a new model; the input
 * is not modified.
 *
 * ```ts
 * const { model: smaller } = await mergeNeurons(model, { layer: 'fc1', ratio: 0.5, criterion: 'activation',
 *   calibration: { data: mnist.train, normalization: 'x/255' } });
 * ```
 */
export async function mergeNeurons(model: Model, options: MergeOptions): Promise<MergeResult> {
  const groups = dependencyGroups(model.graph);
  const group = groups.find((gr) => gr.producers.includes(options.layer) || gr.name === options.layer);
  if (group !== undefined && mergeableGroup(group)) return mergeGroup(model, group, options);
  if (!model.graph.nodes.some((n) => n.opType === 'Gemm' && n.name === options.layer)) {
    throw new WhittleError(
      'BAD_ARGUMENT',
      `no layer "${options.layer}" whose neurons or filters can merge; layers that can: ${
        groups
          .filter(mergeableGroup)
          .map((gr) => gr.name)
          .join(', ') || '(none)'
      }`,
    );
  }
  const g = model.graph.clone();
  const chain: DenseChain = denseChain(g, options.layer);
  const k = mergeCount(chain.width, options);
  const w = readChain(g, chain);
  const criterion = options.criterion ?? 'weight';
  const nextBiasName = chain.next.inputs[2];
  const nextBias = nextBiasName ? (g.initializers.get(nextBiasName)?.data as Float32Array | undefined)?.slice() : undefined;

  let pairs: PairModel;
  if (criterion === 'activation') {
    const cal = options.calibration;
    if (cal === undefined) throw new WhittleError('BAD_ARGUMENT', 'activation-based merging needs calibration data (calibration.data)');
    const n = Math.min(cal.samples ?? 1000, cal.data.count);
    const value = chain.activation?.outputs[0] ?? (chain.layer.outputs[0] as string);
    pairs = activationModel(await activationsOf(model, value, cal.data, { normalization: cal.normalization, limit: n, threads: cal.threads }), n, chain.width);
  } else {
    const { vecs, len } = chainVectors(w);
    pairs = weightModel(vecs, chain.width, len, options.similarity ?? 'cosine', chain.activation?.opType);
  }

  const of = w.outFeatures;
  const dense: Foldable = {
    width: chain.width,
    outgoingNorm2: (u) => {
      let q = 0;
      for (let o = 0; o < of; o++) q += (w.outgoing[u * of + o] as number) ** 2;
      return q;
    },
    fold: (removed, kept, scale, offset) => {
      for (let o = 0; o < of; o++) {
        const wr = w.outgoing[removed * of + o] as number;
        w.outgoing[kept * of + o] = (w.outgoing[kept * of + o] as number) + scale * wr;
        if (nextBias !== undefined) nextBias[o] = (nextBias[o] as number) + offset * wr;
      }
    },
  };
  const { steps, keep } = mergeGreedy(dense, pairs, k);
  if (nextBias !== undefined && nextBiasName) g.initializers.set(nextBiasName, new Tensor('float32', [nextBias.length], nextBias));
  return { model: thin({ ...model, graph: g, metadata: { ...model.metadata } }, chain, w, keep), steps, widthBefore: chain.width, widthAfter: keep.length };
}

/** What the greedy loop needs from a layer: squared norms of outgoing weights, and the fold. */
interface Foldable {
  width: number;
  outgoingNorm2(u: number): number;
  fold(removed: number, kept: number, scale: number, offset: number): void;
}

/** Greedy merging, cheapest first, with the outgoing weights as they are after the earlier merges. */
function mergeGreedy(layer: Foldable, pairs: PairModel, count: number): { steps: MergeStep[]; keep: number[] } {
  const width = layer.width;
  const outNorm2 = Float64Array.from({ length: width }, (_, u) => layer.outgoingNorm2(u));
  const alive = new Uint8Array(width).fill(1);
  const steps: MergeStep[] = [];
  while (steps.length < count) {
    let best = { r: -1, k: -1, cost: Number.POSITIVE_INFINITY };
    for (let r = 0; r < width; r++) {
      if (!alive[r]) continue;
      for (let q = 0; q < width; q++) {
        if (q === r || !alive[q]) continue;
        const cost = (outNorm2[r] as number) * pairs.residual(r, q);
        if (cost < best.cost) best = { r, k: q, cost };
      }
    }
    const { r: removed, k: kept } = best;
    const { scale, offset } = pairs.fit(removed, kept);
    layer.fold(removed, kept, scale, offset);
    outNorm2[kept] = layer.outgoingNorm2(kept);
    alive[removed] = 0;
    steps.push({ kept, removed, scale, cost: best.cost });
  }
  return { steps, keep: [...alive.keys()].filter((u) => alive[u]) };
}

/** Merging over a coupled group of structured pruning: Dense neurons or Conv filters. */
async function mergeGroup(model: Model, group: PruneGroup, options: MergeOptions): Promise<MergeResult> {
  const g = model.graph.clone();
  const k = mergeCount(group.channels, options);
  const gw = new GroupWeights(g, group);
  let pairs: PairModel;
  if ((options.criterion ?? 'weight') === 'activation') {
    const cal = options.calibration;
    if (cal === undefined) throw new WhittleError('BAD_ARGUMENT', 'activation-based merging needs calibration data (calibration.data)');
    if (group.probe === undefined) throw new WhittleError('BAD_ARGUMENT', `no value carries the channels of "${group.name}" alone; use the weight criterion`);
    const n = Math.min(cal.samples ?? 1000, cal.data.count);
    const h = perChannel(
      await activationsOf(model, group.probe, cal.data, { normalization: cal.normalization, limit: n, threads: cal.threads }),
      n,
      group.channels,
    );
    pairs = activationModel(h.values, h.rows, group.channels);
  } else {
    const vectors = Array.from({ length: group.channels }, (_, u) => gw.incoming(u));
    const len = vectors[0]?.length ?? 0;
    const vecs = new Float64Array(group.channels * len);
    vectors.forEach((v, u) => vecs.set(v, u * len));
    const producer = g.nodes.find((n) => n.name === group.producers[0]);
    const consumers = producer ? g.consumersOf(producer.outputs[0] as string) : [];
    const act =
      consumers.length === 1 && ['Relu', 'LeakyRelu', 'Sigmoid', 'Tanh', 'MaxPool'].includes(consumers[0]?.opType ?? '') ? consumers[0]?.opType : undefined;
    // MaxPool commutes with a positive scale like a ReLU does.
    pairs = weightModel(vecs, group.channels, len, options.similarity ?? 'cosine', act === 'MaxPool' ? 'Relu' : act);
  }
  const { steps, keep } = mergeGreedy(gw, pairs, k);
  gw.commit(g);
  const merged = thinChannels({ ...model, graph: g, metadata: { ...model.metadata } }, [group], new Map([[group.id, keep]]));
  return { model: merged, steps, widthBefore: group.channels, widthAfter: keep.length };
}
