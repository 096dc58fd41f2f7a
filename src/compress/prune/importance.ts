// Channel importance: pure functions from a group (and weights or activation statistics) to one
// score per channel; higher means keep. Mutation lives in thin.ts.
import type { Graph } from '../../ir/graph.js';
import type { Tensor } from '../../ir/tensor.js';
import type { PruneGroup } from '../../graph/dependency.js';

export type ImportanceKind = 'l1' | 'l2' | 'activation' | 'apoz';

/** Per-channel activation statistics of a group's probe value over a calibration set. */
export interface ActivationStats {
  /** Mean |a| per channel. */
  meanAbs: Float64Array;
  /** Fraction of zero (≤ 0) entries per channel: APoZ. */
  zeroFraction: Float64Array;
}

/** Sum over the group's members of |w|^p over each channel's slice (the group norm, Torch-Pruning style). */
function sliceNorms(graph: Graph, group: PruneGroup, p: 1 | 2, roles: ReadonlySet<string>): Float64Array {
  const scores = new Float64Array(group.channels);
  for (const m of group.members) {
    if (!roles.has(m.role)) continue;
    const t = graph.initializers.get(m.tensor) as Tensor;
    const d = t.data as Float32Array | Float64Array;
    const n = t.dims[m.axis] as number;
    const inner = t.dims.slice(m.axis + 1).reduce((a, x) => a * x, 1);
    const outer = t.size / (n * inner);
    for (let o = 0; o < outer; o++) {
      for (let c = 0; c < group.channels; c++) {
        const from = (o * n + m.offset + c * m.repeat) * inner;
        const to = from + m.repeat * inner;
        let s = 0;
        for (let i = from; i < to; i++) s += p === 1 ? Math.abs(d[i] as number) : (d[i] as number) ** 2;
        scores[c] = (scores[c] as number) + s;
      }
    }
  }
  return scores;
}

/**
 * Magnitude importance of each channel of a group: the L1 or L2 norm of every weight slice that
 * goes with it (producers' filters, consumers' input columns, BatchNorm scales).
 *
 * ```ts
 * const scores = magnitudeImportance(model.graph, group, 'l2');
 * ```
 */
export function magnitudeImportance(graph: Graph, group: PruneGroup, kind: 'l1' | 'l2' = 'l1'): Float64Array {
  const s = sliceNorms(graph, group, kind === 'l1' ? 1 : 2, new Set(['out', 'in']));
  if (kind === 'l2') for (let i = 0; i < s.length; i++) s[i] = Math.sqrt(s[i] as number);
  return s;
}

/** Importance from activations: mean |a| ('activation') or 1 − APoZ ('apoz'). */
export function activationImportance(stats: ActivationStats, kind: 'activation' | 'apoz'): Float64Array {
  return kind === 'activation' ? Float64Array.from(stats.meanAbs) : stats.zeroFraction.map((z) => 1 - z);
}

/** The channels to keep: the `keepCount` highest scores, in channel order (ties keep the lower index). */
export function topChannels(scores: Float64Array, keepCount: number): number[] {
  const order = Array.from(scores.keys()).sort((a, b) => (scores[b] as number) - (scores[a] as number) || a - b);
  return order.slice(0, Math.max(0, keepCount)).sort((a, b) => a - b);
}
