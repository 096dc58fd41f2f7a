// The fixed-grid formats of the size space, stored in the container like k-means shared weights
// (a codebook and one index per kept weight): int4, a uniform symmetric grid of 16 levels with one
// scale per layer; ternary, Ternary Weight Networks' {−a, 0, +a} (Li & Liu 2016): weights under
// 0.7·mean|w| become zeros (pruned positions), the rest ±a with a the mean magnitude of the kept.
import type { SharedWeight } from '../compress/codec/index.js';
import { withSharedValues } from '../compress/kmeans/index.js';
import { WhittleError } from '../ir/errors.js';
import type { Model } from '../ir/graph.js';
import type { GridFormat } from './types.js';

/** One weight on the format's grid; exact zeros stay pruned (index −1). */
export function gridShare(data: Float32Array, dims: readonly number[], format: GridFormat): SharedWeight {
  const assignment = new Int32Array(data.length).fill(-1);
  let maxAbs = 0;
  let sumAbs = 0;
  let nonzero = 0;
  for (const v of data)
    if (v !== 0) {
      maxAbs = Math.max(maxAbs, Math.abs(v));
      sumAbs += Math.abs(v);
      nonzero++;
    }
  if (format === 'int4') {
    const scale = maxAbs > 0 ? maxAbs / 7 : 1;
    const codebook = Float32Array.from({ length: 16 }, (_, i) => (i - 8) * scale);
    data.forEach((v, i) => {
      if (v !== 0) assignment[i] = Math.max(0, Math.min(15, Math.round(v / scale) + 8));
    });
    return { dims: [...dims], bits: 4, codebook, assignment };
  }
  const delta = nonzero > 0 ? (0.7 * sumAbs) / nonzero : 0;
  let kept = 0;
  let keptAbs = 0;
  for (const v of data)
    if (v !== 0 && Math.abs(v) > delta) {
      kept++;
      keptAbs += Math.abs(v);
    }
  const a = kept > 0 ? keptAbs / kept : 0;
  data.forEach((v, i) => {
    if (v !== 0 && Math.abs(v) > delta) assignment[i] = v < 0 ? 0 : 1;
  });
  return { dims: [...dims], bits: 1, codebook: Float32Array.from([-a, a]), assignment };
}

/**
 * Shares the named weights on their grids and returns the model with those values.
 *
 * ```ts
 * const { model: m, shared } = gridShareWeights(model, new Map([['fc1.weight', 'ternary']]));
 * ```
 */
export function gridShareWeights(model: Model, formats: ReadonlyMap<string, GridFormat>): { model: Model; shared: Map<string, SharedWeight> } {
  const shared = new Map<string, SharedWeight>();
  for (const [name, f] of formats) {
    const t = model.graph.initializers.get(name);
    if (t === undefined || t.dtype !== 'float32') throw new WhittleError('BAD_ARGUMENT', `cannot store "${name}" as ${f}: no float32 weight of that name`);
    shared.set(name, gridShare(t.data as Float32Array, t.dims, f));
  }
  return { model: withSharedValues(model, shared), shared };
}
