// The Pareto front of the trials: validation accuracy (higher is better) against size and latency
// (lower is better). A trial is on the front when no other is at least as good on all three and
// better on one.
import type { Trial } from './types.js';

function dominates(a: Trial, b: Trial): boolean {
  const ge = a.result.valAccuracy >= b.result.valAccuracy && a.result.bytes <= b.result.bytes && a.latencyMs <= b.latencyMs;
  const gt = a.result.valAccuracy > b.result.valAccuracy || a.result.bytes < b.result.bytes || a.latencyMs < b.latencyMs;
  return ge && gt;
}

/**
 * The non-dominated trials, smallest first (ties: by index).
 *
 * ```ts
 * paretoFront(trials).map((t) => [t.result.valAccuracy, t.result.bytes]);
 * ```
 */
export function paretoFront(trials: readonly Trial[]): Trial[] {
  const front = trials.filter((t) => !trials.some((o) => o !== t && dominates(o, t)));
  // Identical measurements: keep the first trial that produced them.
  const seen = new Set<string>();
  const unique = front.filter((t) => {
    const k = `${t.result.valAccuracy}|${t.result.bytes}|${t.latencyMs}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
  return unique.sort((a, b) => a.result.bytes - b.result.bytes || a.index - b.index);
}
