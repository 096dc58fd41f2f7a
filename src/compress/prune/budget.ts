// Structured pruning to a FLOPs budget: the channel sparsity is searched, not guessed. Thinning
// is cheap and FLOPs fall as the sparsity rises, so a bisection over the sparsity finds the
// smallest one whose thinned model fits the budget.
import { WhittleError } from '../../ir/errors.js';
import type { Model } from '../../ir/graph.js';
import { modelStats } from '../../ir/stats.js';
import { withConstantShapes } from '../../graph/thin.js';
import { SHAPE_RULES } from '../../ops/index.js';

export interface FlopsBudgetResult {
  /** The sparsity to prune with (a multiple of 1/1000). */
  sparsity: number;
  /** FLOPs per sample before and after thinning at that sparsity. */
  flopsBefore: number;
  flops: number;
}

/**
 * The smallest sparsity whose thinned model keeps at most `fraction` of the FLOPs per sample;
 * `thin(s)` prunes the model at sparsity s (any scope, importance or set of layers).
 *
 * ```ts
 * const thin = async (s: number) => (await pruneChannels(lenet5, { sparsity: s })).model;
 * const { sparsity } = await sparsityForFlops(lenet5, 0.25, thin);
 * ```
 */
export async function sparsityForFlops(model: Model, fraction: number, thin: (sparsity: number) => Promise<Model>): Promise<FlopsBudgetResult> {
  if (!(fraction > 0 && fraction < 1)) throw new WhittleError('BAD_ARGUMENT', `a FLOPs budget is a fraction of the model's FLOPs in (0, 1), got ${fraction}`);
  // Counted with static attention shapes, as the thinned candidates are.
  const flopsBefore = modelStats(withConstantShapes(model), SHAPE_RULES).flops;
  /** FLOPs at sparsity s/1000, or undefined where thinning that far would disconnect the graph. */
  const seen = new Map<number, number | undefined>();
  const flopsAt = async (permille: number): Promise<number | undefined> => {
    if (seen.has(permille)) return seen.get(permille);
    let flops: number | undefined;
    try {
      flops = modelStats(await thin(permille / 1000), SHAPE_RULES).flops;
    } catch (e) {
      if (!(e instanceof WhittleError && e.code === 'BAD_ARGUMENT' && /disconnect/.test(e.message))) throw e;
    }
    seen.set(permille, flops);
    return flops;
  };
  // The largest feasible sparsity (removing more would leave a group without channels).
  let top = 999;
  if ((await flopsAt(top)) === undefined) {
    let ok = 0;
    while (top - ok > 1) {
      const mid = (ok + top) >> 1;
      if ((await flopsAt(mid)) !== undefined) ok = mid;
      else top = mid;
    }
    top = ok;
  }
  const best = (await flopsAt(top)) ?? flopsBefore;
  if (best > fraction * flopsBefore) {
    throw new WhittleError(
      'BAD_ARGUMENT',
      `no channel sparsity brings "${model.graph.name}" to ${(100 * fraction).toFixed(1)}% of its FLOPs: the furthest, ${(top / 10).toFixed(1)}% of the channels, leaves ${((100 * best) / flopsBefore).toFixed(1)}%. Raise the budget or prune weights too`,
    );
  }
  // Bisection: lo does not fit the budget, hi does.
  let lo = 0;
  let hi = top;
  let flops = best;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    const f = await flopsAt(mid);
    if (f !== undefined && f <= fraction * flopsBefore) {
      hi = mid;
      flops = f;
    } else lo = mid;
  }
  return { sparsity: hi / 1000, flopsBefore, flops };
}
