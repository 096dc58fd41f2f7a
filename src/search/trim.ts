// The final model pruned on until its file fits a size budget: the longer final fine-tune moves
// the entropy-coded bytes (a few percent over the trial's), and a budget is a promise.
import type { Dataset, Normalization, TensorDataset } from '../data/index.js';
import { resolveWeight } from '../compress/kmeans/index.js';
import type { Model } from '../ir/graph.js';
import type { CompressedCandidate } from './compress.js';
import { compressCandidate } from './compress.js';
import type { Candidate } from './types.js';

/** Fraction of each layer's remaining weights the trim may prune at most. */
const MAX_TRIM = 0.5;

/**
 * `model` (the fine-tuned candidate `c`, already thinned) pruned further until the writer's file
 * fits `budget`: the same fraction of every layer's remaining weights (smallest magnitudes first),
 * k-means codebooks re-fitted to what is left, no fine-tune; the fraction bisected on the real
 * file's bytes. Undefined when pruning half of what is left does not fit.
 *
 * ```ts
 * const fit = await trimToBudget(final.model, chosen, 17000, probe, { batchSize: 64, normalization, seed: 1 });
 * fit?.compressed.file.length; // ≤ 17000
 * ```
 */
export async function trimToBudget(
  model: Model,
  c: Candidate,
  budget: number,
  probe: Dataset | TensorDataset,
  s: { batchSize: number; normalization: Normalization; seed: number },
): Promise<{ compressed: CompressedCandidate; fraction: number } | undefined> {
  const kept = new Map<string, number>();
  for (const l of Object.keys(c.layers)) {
    const v = model.graph.initializers.get(resolveWeight(model, l).weight)?.data;
    if (!(v instanceof Float32Array) || v.length === 0) continue;
    let nz = 0;
    for (const x of v) if (x !== 0) nz++;
    kept.set(l, nz / v.length);
  }
  // The widths are the model's own now; magnitude pruning to exact sparsities, so no mode.
  const at = (t: number): Candidate => ({
    lr: c.lr,
    layers: Object.fromEntries(Object.entries(c.layers).map(([l, p]) => [l, { width: 1, sparsity: 1 - (kept.get(l) ?? 1) * (1 - t), format: p.format }])),
  });
  const run = (t: number): Promise<CompressedCandidate> =>
    compressCandidate(model, at(t), probe, { epochs: 0, batchSize: s.batchSize, normalization: s.normalization, seed: s.seed, threads: 1 });
  let hi = MAX_TRIM;
  let best = await run(hi);
  if (best.file.length > budget) return undefined;
  let lo = 0;
  for (let i = 0; i < 10; i++) {
    const mid = (lo + hi) / 2;
    const r = await run(mid);
    if (r.file.length <= budget) {
      hi = mid;
      best = r;
    } else lo = mid;
  }
  return { compressed: best, fraction: hi };
}
