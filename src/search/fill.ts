// The budget fill: the search's winner often leaves part of a size budget unspent (a trial's
// sparsity is a notch on a grid, and variational dropout drops more than its floor). These
// candidates spend those bytes on accuracy — more weights kept, more bits, on every layer or on the
// most sensitive one — each sized by the real writer to fit the budget; the search then runs them
// as trials and keeps whichever is best on validation.
import { priorDrop } from './prior.js';
import type { Prior } from './prior.js';
import type { SearchSpace } from './space.js';
import type { Candidate, LayerPolicy, WeightFormat } from './types.js';
import { sharedBits } from './types.js';

/** Bytes of the file a candidate's structure gives (no fine-tune), as the container writer counts them. */
export type MeasureBytes = (c: Candidate) => Promise<number>;

export interface FillOptions {
  /** The bytes to fit: the budget less a margin for what fine-tuning changes in the entropy coding. */
  target: number;
  /** Bisection steps per fill (default 8). */
  steps?: number;
}

/** Sparsities are rounded so that a fill's key (and its journal entry) is the same in every run. */
function roundSparsity(s: number): number {
  return Math.max(0, Math.round(s * 10000) / 10000);
}

/** `c` with the kept fraction of the `layers` multiplied by `f` (capped at dense), every sparsity exact. */
function keepMore(c: Candidate, layers: readonly string[], f: number): Candidate {
  const out: Candidate = { ...c, layers: structuredClone(c.layers), ...(c.mode === 'variational' ? { exact: true as const } : {}) };
  for (const name of layers) {
    const p = out.layers[name] as LayerPolicy;
    if (sharedBits(p.format) !== undefined) p.sparsity = roundSparsity(1 - (1 - p.sparsity) * f);
  }
  return out;
}

/** One format notch toward more bits among the shared formats of the layer's space (never to float). */
function moreBits(formats: readonly WeightFormat[], f: WeightFormat): WeightFormat {
  const i = formats.indexOf(f);
  const up = formats[i - 1];
  return i > 0 && up !== undefined && sharedBits(up) !== undefined ? up : f;
}

/**
 * The largest kept-fraction factor in [lo, hi] whose candidate fits `target` bytes (bisection on
 * the real writer's bytes); undefined when even `lo` does not fit.
 */
async function largestFitting(
  make: (f: number) => Candidate,
  measure: MeasureBytes,
  target: number,
  lo: number,
  hi: number,
  steps: number,
): Promise<Candidate | undefined> {
  if ((await measure(make(hi))) <= target) return make(hi);
  if ((await measure(make(lo))) > target) return undefined;
  for (let i = 0; i < steps; i++) {
    const mid = (lo + hi) / 2;
    if ((await measure(make(mid))) <= target) lo = mid;
    else hi = mid;
  }
  return make(lo);
}

/**
 * Fill (1) alone: `best` with every shared layer's kept fraction multiplied by the largest factor
 * whose structure fits `o.target` bytes (every sparsity exact); undefined when no shared layer can
 * keep more or even `best` does not fit. The final fine-tune spends the budget with it.
 *
 * ```ts
 * const grown = await keepMoreFill(best, space, (c) => bytesOf(c), { target: 0.94 * 17000 });
 * ```
 */
export async function keepMoreFill(best: Candidate, space: SearchSpace, measure: MeasureBytes, o: FillOptions): Promise<Candidate | undefined> {
  const shared = space.layers.map((l) => l.name).filter((n) => sharedBits((best.layers[n] as LayerPolicy).format) !== undefined);
  if (shared.length === 0) return undefined;
  // The factor that makes every shared layer dense.
  const dense = Math.max(...shared.map((n) => 1 / Math.max(1e-4, 1 - (best.layers[n] as LayerPolicy).sparsity)));
  const c = await largestFitting((f) => keepMore(best, shared, f), measure, o.target, 1, dense, o.steps ?? 8);
  return c === undefined || JSON.stringify(c.layers) === JSON.stringify(best.layers) ? undefined : c;
}

/**
 * Up to three candidates that spend the bytes `best` leaves under `o.target`: (1) every layer
 * keeps more weights, (2) every layer one format notch more bits, then keeps as many weights as
 * still fit, (3) the layer the prior finds most hurt by its setting keeps more weights alone.
 * Only those that change `best` and fit are returned, in that order.
 *
 * ```ts
 * const fills = await budgetFills(best, space, prior, (c) => bytesOf(c), { target: 17500 * 0.97 });
 * ```
 */
export async function budgetFills(best: Candidate, space: SearchSpace, prior: Prior, measure: MeasureBytes, o: FillOptions): Promise<Candidate[]> {
  const steps = o.steps ?? 8;
  const names = space.layers.map((l) => l.name);
  const shared = names.filter((n) => sharedBits((best.layers[n] as LayerPolicy).format) !== undefined);
  if (shared.length === 0) return [];
  // The factor that makes every shared layer dense.
  const dense = Math.max(...shared.map((n) => 1 / Math.max(1e-4, 1 - (best.layers[n] as LayerPolicy).sparsity)));
  const out: Candidate[] = [];
  const add = (c: Candidate | undefined): void => {
    if (c === undefined) return;
    const key = JSON.stringify(c.layers);
    if (key === JSON.stringify(best.layers) || out.some((d) => JSON.stringify(d.layers) === key)) return;
    out.push(c);
  };

  add(await keepMoreFill(best, space, measure, o));

  const bits: Candidate = { ...best, layers: structuredClone(best.layers) };
  for (const l of space.layers) {
    const p = bits.layers[l.name] as LayerPolicy;
    p.format = moreBits(l.formats, p.format);
  }
  // More bits may cost more than the room: then fewer weights pay for them (down to half).
  add(await largestFitting((f) => keepMore(bits, shared, f), measure, o.target, 0.5, dense, steps));

  const hurt = (n: string): number => {
    const p = best.layers[n] as LayerPolicy;
    return priorDrop(prior, n, 'sparsity', p.sparsity) + priorDrop(prior, n, 'format', p.format);
  };
  const worst = [...shared].sort((a, b) => hurt(b) - hurt(a) || a.localeCompare(b))[0] as string;
  const alone = 1 / Math.max(1e-4, 1 - (best.layers[worst] as LayerPolicy).sparsity);
  add(await largestFitting((f) => keepMore(best, [worst], f), measure, o.target, 1, alone, steps));
  return out;
}
