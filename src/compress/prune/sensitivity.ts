// Sensitivity analysis: prune one layer at a time at several sparsities, measure accuracy, and
// propose per-layer sparsities from the curves.
import { WhittleError } from '../../ir/errors.js';
import type { Model } from '../../ir/graph.js';
import { checkSparsity, requirePrunableLayers, resolveLayers } from './layers.js';
import { magnitudePrune } from './magnitude.js';
import type { ChannelRounding } from './structured.js';
import type { ChannelRoundTo } from './structured.js';
import { checkRounding, pruneChannels } from './structured.js';

export interface SensitivityPoint {
  /** The sparsity asked for; with `roundTo` the group keeps `channels`, as `pruneChannels` would. */
  sparsity: number;
  accuracy: number;
  /** 'channel' granularity: the channels the group kept (after rounding). */
  channels?: number;
}

export interface LayerSensitivity {
  name: string;
  params: number;
  points: SensitivityPoint[];
}

export interface SensitivityOptions {
  sparsities: readonly number[];
  /** Default: every prunable layer ('weight') or every prunable group ('channel'). */
  layers?: readonly string[];
  /** 'weight': magnitude pruning; 'channel': L1 filter/neuron pruning with thinning. Default 'weight'. */
  granularity?: 'weight' | 'channel';
  /** 'channel': keep a multiple of this many channels, as `ChannelPruneOptions.roundTo` (so prune applies what was measured). */
  roundTo?: ChannelRoundTo;
  /** 'channel': how `roundTo` rounds ('up' default, or 'nearest'), as `ChannelPruneOptions.rounding`. */
  rounding?: ChannelRounding;
  /** Accuracy of a candidate model (e.g. on a held-out subset). */
  evaluate: (model: Model) => Promise<number>;
}

/**
 * Accuracy versus sparsity for each layer pruned alone (no fine-tuning).
 *
 * ```ts
 * const curves = await sensitivity(model, { sparsities: [0.5, 0.8, 0.9], evaluate: async (m) => (await evaluate(m, test, { normalization: 'x/255', limit: 2000 })).accuracy });
 * ```
 */
export async function sensitivity(model: Model, o: SensitivityOptions): Promise<{ baseline: number; layers: LayerSensitivity[] }> {
  if (o.sparsities.length === 0) throw new WhittleError('BAD_ARGUMENT', 'give at least one sparsity to try');
  o.sparsities.forEach((s) => checkSparsity(s));
  checkRounding(o.roundTo, o.rounding);
  if ((o.granularity ?? 'weight') === 'weight' && (o.roundTo ?? 1) !== 1)
    throw new WhittleError('BAD_ARGUMENT', "roundTo applies to channel granularity; set granularity 'channel' or drop roundTo");
  const layers = o.layers !== undefined ? resolveLayers(model.graph, o.layers) : requirePrunableLayers(model.graph);
  const baseline = await o.evaluate(model);
  const out: LayerSensitivity[] = [];
  // Channel groups already measured: a layer coupled into one (an SE block's fc2) would repeat its curve.
  const measured = new Set<string>();
  for (const l of layers) {
    const points: SensitivityPoint[] = [];
    for (const s of o.sparsities) {
      let pruned: Model | undefined;
      let channels: number | undefined;
      if ((o.granularity ?? 'weight') === 'weight') pruned = magnitudePrune(model, { perLayer: { [l.name]: s } }).model;
      else {
        try {
          const r = await pruneChannels(model, { perLayer: { [l.name]: s }, roundTo: o.roundTo, rounding: o.rounding });
          const group = r.groups[0]?.name ?? l.name;
          if (o.layers === undefined && points.length === 0 && measured.has(group)) break;
          measured.add(group);
          pruned = r.model;
          channels = r.groups[0]?.channelsAfter;
        } catch (e) {
          // Layers whose channels cannot go (the output layer) have no channel curve.
          if (o.layers === undefined) break;
          throw e;
        }
      }
      // Rounding can map two sparsities to one model: measure it once.
      const same = channels !== undefined ? points.find((p) => p.channels === channels) : undefined;
      points.push({ sparsity: s, accuracy: same?.accuracy ?? (await o.evaluate(pruned)), ...(channels !== undefined ? { channels } : {}) });
    }
    if (points.length > 0) out.push({ name: l.name, params: l.dims.reduce((a, d) => a * d, 1), points });
  }
  return { baseline, layers: out };
}

/**
 * Per-layer sparsities from sensitivity curves: for each layer the largest tried sparsity whose
 * accuracy stays within `maxDrop` of the baseline.
 *
 * ```ts
 * proposeSparsities(curves, 0.005); // { fc1: 0.95, fc2: 0.9, fc3: 0.7 }
 * ```
 */
export function proposeSparsities(result: { baseline: number; layers: readonly LayerSensitivity[] }, maxDrop: number): Record<string, number> {
  const out: Record<string, number> = {};
  for (const l of result.layers) {
    let best = 0;
    for (const p of l.points) if (p.accuracy >= result.baseline - maxDrop && p.sparsity > best) best = p.sparsity;
    out[l.name] = best;
  }
  return out;
}

/**
 * Per-layer sparsities that reach an overall weight sparsity `target`: starting dense, raise
 * one layer at a time to its next measured sparsity, always the step that costs the least
 * accuracy per weight removed (accuracy losses of separate layers taken as additive).
 *
 * ```ts
 * proposeForTarget(curves, 0.9); // { fc1: 0.95, fc2: 0.8, fc3: 0.5 }
 * ```
 */
export function proposeForTarget(result: { baseline: number; layers: readonly LayerSensitivity[] }, target: number): Record<string, number> {
  checkSparsity(target, 'target sparsity');
  const total = result.layers.reduce((a, l) => a + l.params, 0);
  const level = new Map(result.layers.map((l) => [l.name, -1]));
  const sparsityOf = (l: LayerSensitivity): number => l.points[level.get(l.name) as number]?.sparsity ?? 0;
  const accuracyOf = (l: LayerSensitivity): number => l.points[level.get(l.name) as number]?.accuracy ?? result.baseline;
  let removed = 0;
  while (removed < target * total) {
    let best: { l: LayerSensitivity; cost: number } | undefined;
    for (const l of result.layers) {
      const next = l.points[(level.get(l.name) as number) + 1];
      if (next === undefined || next.sparsity <= sparsityOf(l)) continue;
      const gain = (next.sparsity - sparsityOf(l)) * l.params;
      const cost = Math.max(0, accuracyOf(l) - next.accuracy) / gain;
      if (best === undefined || cost < best.cost) best = { l, cost };
    }
    if (best === undefined) throw new WhittleError('BAD_ARGUMENT', `the measured sparsities cannot reach ${target} overall; add higher sparsities to try`);
    removed += (best.l.points[(level.get(best.l.name) as number) + 1]?.sparsity as number) * best.l.params - sparsityOf(best.l) * best.l.params;
    level.set(best.l.name, (level.get(best.l.name) as number) + 1);
  }
  return Object.fromEntries(result.layers.map((l) => [l.name, sparsityOf(l)]));
}
