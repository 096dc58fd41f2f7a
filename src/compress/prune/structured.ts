// Structured pruning: score each coupled group's channels, keep the best, thin the model.
import type { Dataset } from '../../data/index.js';
import { WhittleError } from '../../ir/errors.js';
import type { Model } from '../../ir/graph.js';
import type { CalibrationOptions } from './activations.js';
import { activationStats } from './activations.js';
import type { PruneGroup } from './dependency.js';
import { dependencyGroups } from './dependency.js';
import type { ImportanceKind } from './importance.js';
import { activationImportance, magnitudeImportance, topChannels } from './importance.js';
import { checkSparsity } from './layers.js';
import { thinChannels } from './thin.js';

export interface ChannelPruneOptions {
  /** Fraction of each group's channels to remove, in [0, 1). */
  sparsity?: number;
  /** Explicit fraction per group, named by its first producing layer (e.g. { conv1: 0.5, fc1: 0.6 }). */
  perLayer?: Readonly<Record<string, number>>;
  /** Default 'l1'. 'activation' and 'apoz' need `calibration`. */
  importance?: ImportanceKind;
  calibration?: { data: Dataset } & CalibrationOptions;
}

export interface GroupResult {
  name: string;
  channelsBefore: number;
  channelsAfter: number;
}

export interface ChannelPruneResult {
  model: Model;
  groups: GroupResult[];
}

/** The prunable groups by name, with a clear error for an unknown or coupled-to-output one. */
function resolveGroups(groups: readonly PruneGroup[], names: readonly string[]): PruneGroup[] {
  return names.map((n) => {
    const g = groups.find((x) => x.name === n || x.producers.includes(n));
    const valid = groups.filter((x) => x.prunable).map((x) => x.name);
    if (g === undefined) throw new WhittleError('BAD_ARGUMENT', `no channel group named "${n}"; prunable groups: ${valid.join(', ') || '(none)'}`);
    if (!g.prunable) throw new WhittleError('BAD_ARGUMENT', `the channels of "${n}" cannot be removed: ${g.reason ?? ''}; prunable groups: ${valid.join(', ') || '(none)'}`);
    return g;
  });
}

/**
 * Removes the least important filters/neurons of every coupled group and thins the model.
 *
 * ```ts
 * const { model: small } = await pruneChannels(model, { sparsity: 0.5, importance: 'l1' });
 * ```
 */
export async function pruneChannels(model: Model, o: ChannelPruneOptions): Promise<ChannelPruneResult> {
  const all = dependencyGroups(model.graph);
  const prunable = all.filter((g) => g.prunable);
  if (prunable.length === 0) throw new WhittleError('BAD_ARGUMENT', `model "${model.graph.name}" has no prunable channel groups (every layer's channels reach the output or an op Whittle cannot slice)`);
  if (o.sparsity !== undefined) checkSparsity(o.sparsity);
  const targets = new Map<PruneGroup, number>();
  for (const [name, s] of Object.entries(o.perLayer ?? {})) targets.set(resolveGroups(all, [name])[0] as PruneGroup, checkSparsity(s, `sparsity of "${name}"`));
  if (o.sparsity !== undefined) for (const g of prunable) if (!targets.has(g)) targets.set(g, o.sparsity);
  if (targets.size === 0) throw new WhittleError('BAD_ARGUMENT', 'give a sparsity or per-layer sparsities');
  const kind = o.importance ?? 'l1';
  let stats: Awaited<ReturnType<typeof activationStats>> | undefined;
  if (kind === 'activation' || kind === 'apoz') {
    if (o.calibration === undefined) throw new WhittleError('BAD_ARGUMENT', `importance "${kind}" needs calibration data`);
    stats = await activationStats(model, [...targets.keys()], o.calibration.data, o.calibration);
  }
  const keep = new Map<number, number[]>();
  const results: GroupResult[] = [];
  for (const g of all) {
    const s = targets.get(g);
    if (s === undefined) continue;
    const keepCount = g.channels - Math.round(s * g.channels);
    if (keepCount < 1) throw new WhittleError('BAD_ARGUMENT', `removing ${Math.round(s * g.channels)} of ${g.channels} channels of "${g.name}" would disconnect the graph; lower its sparsity`);
    const st = stats?.get(g.id);
    const scores = st !== undefined ? activationImportance(st, kind as 'activation' | 'apoz') : magnitudeImportance(model.graph, g, kind === 'l2' ? 'l2' : 'l1');
    keep.set(g.id, topChannels(scores, keepCount));
    results.push({ name: g.name, channelsBefore: g.channels, channelsAfter: keepCount });
  }
  return { model: thinChannels(model, all, keep), groups: results };
}
