// Structured pruning: score each coupled group's channels, keep the best, thin the model.
import type { Dataset, TensorDataset } from '../../data/index.js';
import { WhittleError } from '../../ir/errors.js';
import type { Graph, Model } from '../../ir/graph.js';
import type { CalibrationOptions } from './activations.js';
import { activationStats } from './activations.js';
import type { PruneGroup } from '../../graph/dependency.js';
import { dependencyGroups } from '../../graph/dependency.js';
import type { ImportanceKind } from './importance.js';
import { activationImportance, magnitudeImportance, topChannels } from './importance.js';
import { checkSparsity } from './layers.js';
import { thinChannels } from '../../graph/thin.js';

export interface ChannelPruneOptions {
  /** Fraction of each group's channels to remove, in [0, 1). */
  sparsity?: number;
  /**
   * 'layer' (default): each group loses the same fraction. 'global': the `sparsity` fraction of
   * all channels goes, the lowest-ranked across groups, each group's scores divided by their mean
   * so that layers of different scale compare; every group keeps at least one channel.
   */
  scope?: 'layer' | 'global';
  /** With scope 'global': rank only these groups (names as in perLayer); default every prunable group. */
  layers?: readonly string[];
  /** Explicit fraction per group, named by its first producing layer (e.g. { conv1: 0.5, fc1: 0.6 }). */
  perLayer?: Readonly<Record<string, number>>;
  /** Default 'l1'. 'activation' and 'apoz' need `calibration`. */
  importance?: ImportanceKind;
  calibration?: { data: Dataset | TensorDataset } & CalibrationOptions;
  /**
   * Keep a multiple of this many channels in each group, rounding the kept count up (default 1:
   * no rounding; a group where the rounded count would exceed its channels keeps the unrounded
   * one). onnxruntime's x86 convolutions run in a blocked layout (8 or 16 channels) only for
   * channel counts it divides: MobileNetV3's 5×5 depthwise convs thinned to 75 channels ran 2.1×
   * slower than unpruned, at 80 they ran 1.28× faster. 8 or 16 suits x86 CPUs. Not the default:
   * it removes fewer channels than asked, and the measured gain is onnxruntime's x86 layout.
   * 'auto': multiples of 8 (AUTO_CONV_ROUND_TO) for groups a convolution produces, none for the
   * rest (fully connected neurons, heads, recurrent units), whose matrix products have no such
   * cliff (`groupRoundTo`).
   */
  roundTo?: ChannelRoundTo;
  /**
   * How `roundTo` rounds the kept count: 'up' (default; never removes more than asked) or
   * 'nearest' (the closest multiple, at least `roundTo`; a tie keeps more).
   */
  rounding?: ChannelRounding;
}

export type ChannelRounding = 'up' | 'nearest';

/** A multiple every thinned group keeps, or 'auto': 8 for groups a convolution produces, 1 for the rest. */
export type ChannelRoundTo = number | 'auto';

/**
 * The multiple 'auto' rounds convolution channels to. onnxruntime's x86 convolutions run in a
 * blocked layout only for channel counts it divides; a one-shot 30% channel prune of a PyTorch
 * ResNet-20 export (batch 64, `whittle bench`) ran 0.55× / 0.35× the unpruned model's speed at 1 /
 * 2 threads unrounded, 0.95× / 1.02× at multiples of 8; LeNet-5 1.55× / 1.20× against 1.97× /
 * 1.89×. Fully connected layers show no such cliff: LeNet-300-100 thinned 30% / 70% ran 1.58× /
 * 2.78× unrounded, 1.37× / 2.78× at multiples of 8 (1 thread; 2 threads within 2%).
 */
export const AUTO_CONV_ROUND_TO = 8;

/**
 * The multiple group `g` of `graph` keeps under `roundTo`: the number itself, or for 'auto'
 * AUTO_CONV_ROUND_TO where a Conv or ConvTranspose produces the group's channels, else 1.
 *
 * ```ts
 * groupRoundTo(lenet5.graph, conv2Group, 'auto'); // 8
 * groupRoundTo(lenet5.graph, fc1Group, 'auto');   // 1
 * ```
 */
export function groupRoundTo(graph: Graph, g: PruneGroup, roundTo: ChannelRoundTo | undefined): number {
  return roundToOf(graph, roundTo)(g);
}

/** groupRoundTo for every group of `graph`, the graph's convolutions found once (for loops over groups). */
export function roundToOf(graph: Graph, roundTo: ChannelRoundTo | undefined): (g: PruneGroup) => number {
  if (roundTo !== 'auto') return () => roundTo ?? 1;
  const convs = new Set(graph.nodes.filter((n) => (n.opType === 'Conv' || n.opType === 'ConvTranspose') && n.domain === '').map((n) => n.name));
  return (g) => (g.producers.some((p) => convs.has(p)) ? AUTO_CONV_ROUND_TO : 1);
}

/** True when 'auto' rounding rounds some prunable group of `graph` (a convolution's channels). */
export function autoRoundsAny(graph: Graph): boolean {
  const multiple = roundToOf(graph, 'auto');
  return dependencyGroups(graph).some((g) => g.prunable && multiple(g) > 1);
}
export const CHANNEL_ROUNDINGS: readonly ChannelRounding[] = ['up', 'nearest'];

/** Throws a BAD_ARGUMENT unless `roundTo` is a whole number ≥ 1 and `rounding` a known mode. */
export function checkRounding(roundTo: ChannelRoundTo | undefined, rounding: ChannelRounding | undefined): void {
  if (roundTo !== undefined && roundTo !== 'auto' && (!Number.isInteger(roundTo) || roundTo < 1))
    throw new WhittleError('BAD_ARGUMENT', `roundTo must be a whole number of channels, 1 or more (e.g. 8), or 'auto'; got ${String(roundTo)}`);
  if (rounding !== undefined && !CHANNEL_ROUNDINGS.includes(rounding))
    throw new WhittleError('BAD_ARGUMENT', `rounding must be 'up' or 'nearest'; got ${String(rounding)}`);
}

/**
 * The channels a group keeps once `counted` is rounded to a multiple of `roundTo`. A group that
 * keeps all its channels, or whose channels cannot hold the multiple, keeps `counted` unrounded.
 *
 * ```ts
 * roundedKeep(75, 120, 8, 'up'); // 80
 * roundedKeep(75, 120, 16, 'nearest'); // 80
 * roundedKeep(10, 20, 32, 'up'); // 10
 * ```
 */
export function roundedKeep(counted: number, channels: number, roundTo: number, rounding: ChannelRounding = 'up'): number {
  checkRounding(roundTo, rounding);
  if (counted < 1 || counted >= channels || roundTo === 1) return counted;
  const up = Math.ceil(counted / roundTo) * roundTo;
  const nearest = Math.max(roundTo, Math.round(counted / roundTo) * roundTo);
  const rounded = rounding === 'nearest' ? nearest : up;
  if (rounded <= channels) return rounded;
  // The multiple below, when nearest rounding allows it and the group can hold one.
  return rounding === 'nearest' && up - roundTo >= roundTo ? up - roundTo : counted;
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
    if (g === undefined) {
      // A layer whose channels belong to another layer's group (a depthwise conv, a head's out-projection).
      const owner = groups.find((x) => x.members.some((m) => m.node === n && m.role === 'out'));
      if (owner !== undefined)
        throw new WhittleError(
          'BAD_ARGUMENT',
          `"${n}" has no channel group of its own: its channels are coupled to group "${owner.name}" (${[...new Set(owner.members.map((m) => m.node))].join(', ')}); prune that group instead`,
        );
      throw new WhittleError('BAD_ARGUMENT', `no channel group named "${n}"; prunable groups: ${valid.join(', ') || '(none)'}`);
    }
    if (!g.prunable)
      throw new WhittleError('BAD_ARGUMENT', `the channels of "${n}" cannot be removed: ${g.reason ?? ''}; prunable groups: ${valid.join(', ') || '(none)'}`);
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
  if (prunable.length === 0) {
    const why = [...new Set(all.map((g) => g.reason).filter((r): r is string => r !== undefined))].slice(0, 3);
    throw new WhittleError(
      'BAD_ARGUMENT',
      `model "${model.graph.name}" has no prunable channel groups (every layer's channels reach the output or an op Whittle cannot slice${why.length > 0 ? `: ${why.join('; ')}` : ''})`,
    );
  }
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
  const scoresOf = (g: PruneGroup): Float64Array => {
    const st = stats?.get(g.id);
    return st !== undefined ? activationImportance(st, kind as 'activation' | 'apoz') : magnitudeImportance(model.graph, g, kind === 'l2' ? 'l2' : 'l1');
  };
  const keepCounts = new Map<PruneGroup, number>();
  if (o.scope === 'global') {
    if (o.sparsity === undefined || o.perLayer !== undefined)
      throw new WhittleError('BAD_ARGUMENT', 'global channel ranking takes one options.sparsity (not options.perLayer)');
    // Every channel of every group, by its score relative to its group's mean; the lowest go.
    const ranked: { g: PruneGroup; score: number }[] = [];
    const ranks = o.layers === undefined ? [...targets.keys()] : resolveGroups(all, o.layers);
    for (const g of ranks) {
      const sc = scoresOf(g);
      const mean = sc.reduce((a, v) => a + v, 0) / sc.length || 1;
      for (const v of sc) ranked.push({ g, score: v / mean });
      keepCounts.set(g, g.channels);
    }
    ranked.sort((a, b) => a.score - b.score);
    let remove = Math.round(o.sparsity * ranked.length);
    for (const r of ranked) {
      if (remove === 0) break;
      const left = keepCounts.get(r.g) as number;
      if (left <= 1) continue;
      keepCounts.set(r.g, left - 1);
      remove--;
    }
  } else {
    for (const [g, s] of targets) keepCounts.set(g, g.channels - Math.round(s * g.channels));
  }
  checkRounding(o.roundTo, o.rounding);
  const multiple = roundToOf(model.graph, o.roundTo);
  const keep = new Map<number, number[]>();
  const results: GroupResult[] = [];
  for (const g of all) {
    const counted = keepCounts.get(g);
    if (counted === undefined) continue;
    const keepCount = roundedKeep(counted, g.channels, multiple(g), o.rounding);
    if (keepCount < 1)
      throw new WhittleError(
        'BAD_ARGUMENT',
        `removing ${g.channels - keepCount} of ${g.channels} channels of "${g.name}" would disconnect the graph; lower its sparsity`,
      );
    keep.set(g.id, topChannels(scoresOf(g), keepCount));
    results.push({ name: g.name, channelsBefore: g.channels, channelsAfter: keepCount });
  }
  return { model: thinChannels(model, all, keep), groups: results };
}
