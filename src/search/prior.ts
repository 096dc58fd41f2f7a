// The prior: each layer changed alone, without fine-tuning, measured on validation samples
// (`sensitivity`'s curves for sparsity and width, the same for k-means bits and int8). The greedy
// allocator reads the cost of each decision from these curves.
import type { Dataset, Normalization, TensorDataset } from '../data/index.js';
import { resolveWeight } from '../compress/kmeans/index.js';
import { kmeansShareWeights } from '../compress/kmeans/index.js';
import { sensitivity } from '../compress/prune/index.js';
import type { Model } from '../ir/graph.js';
import { evaluate } from '../train/evaluate.js';
import type { SearchSpace } from './space.js';
import { gridShareWeights } from './grid.js';
import { isGridFormat, kmeansBits } from './types.js';
import type { ChannelRoundTo } from '../compress/prune/index.js';

export interface LayerPrior {
  name: string;
  /** Validation accuracy with the layer pruned alone to each sparsity of its space. */
  sparsity: Record<string, number>;
  /** ... with only its width reduced. */
  width: Record<string, number>;
  /** ... with only its weights k-means shared at each format's bits (other formats: baseline). */
  format: Record<string, number>;
}

export interface Prior {
  baseline: number;
  layers: LayerPrior[];
}

/**
 * Measures the prior of every layer of `space` on `validation`.
 *
 * ```ts
 * const prior = await measurePrior(model, space, validation, 'x/255');
 * ```
 */
export async function measurePrior(
  model: Model,
  space: SearchSpace,
  validation: Dataset | TensorDataset,
  normalization: Normalization,
  options: {
    /** Thinned layers keep multiples of this (as the trials will). */
    roundTo?: ChannelRoundTo;
    /** Called after each layer is measured: `done` of `total` layers, `name` the one just measured. */
    onLayer?: (done: number, total: number, name: string) => void;
  } = {},
): Promise<Prior> {
  const roundTo = options.roundTo ?? 1;
  const acc = async (m: Model): Promise<number> => (await evaluate(m, validation, { normalization, threads: 1 })).accuracy;
  const baseline = await acc(model);
  const layers: LayerPrior[] = [];
  for (const l of space.layers) {
    const p: LayerPrior = { name: l.name, sparsity: { '0': baseline }, width: { '1': baseline }, format: {} };
    const sparsities = l.sparsities.filter((s) => s > 0);
    if (sparsities.length > 0) {
      const curve = await sensitivity(model, { sparsities, layers: [l.name], evaluate: acc });
      for (const pt of curve.layers[0]?.points ?? []) p.sparsity[String(pt.sparsity)] = pt.accuracy;
    }
    const narrower = l.widths.filter((w) => w < 1);
    if (narrower.length > 0) {
      const curve = await sensitivity(model, { sparsities: narrower.map((w) => 1 - w), layers: [l.name], granularity: 'channel', roundTo, evaluate: acc });
      for (const pt of curve.layers[0]?.points ?? []) p.width[String(Math.round((1 - pt.sparsity) * 1000) / 1000)] = pt.accuracy;
    }
    for (const f of l.formats) {
      const b = kmeansBits(f);
      const w = resolveWeight(model, l.name).weight;
      if (isGridFormat(f)) p.format[f] = await acc(gridShareWeights(model, new Map([[w, f]])).model);
      else p.format[f] = b === undefined ? baseline : await acc(kmeansShareWeights(model, new Map([[w, b]])).model);
    }
    layers.push(p);
    options.onLayer?.(layers.length, space.layers.length, l.name);
  }
  return { baseline, layers };
}

/** The prior's accuracy drop of one decision (0 when not measured or not worse). */
export function priorDrop(prior: Prior, layer: string, kind: 'sparsity' | 'width' | 'format', value: number | string): number {
  const l = prior.layers.find((x) => x.name === layer);
  const a = l?.[kind][String(value)];
  return a === undefined ? 0 : Math.max(0, prior.baseline - a);
}
