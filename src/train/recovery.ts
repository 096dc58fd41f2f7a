// Recovery from a non-finite loss: the trainer keeps the state before each of its last few
// session runs (references only: a run returns new tensors and callbacks replace entries, so
// nothing is copied); on NaN/Inf it goes back to a state whose loss was still finite, halves the
// learning rate and runs the same batches again.
import type { Tensor } from '../ir/tensor.js';

/** One recovery: where the loss went non-finite or blew up, and the learning rate training continued with. */
export interface Recovery {
  epoch: number;
  /** The global step (1-based) whose loss was not finite, or blew up. */
  step: number;
  /** `non-finite`: NaN or ±Infinity; `blow-up`: finite but `BLOW_UP_FACTOR` × the recent loss and above the run's first. */
  reason: 'non-finite' | 'blow-up';
  /** The loss at `step` (null in JSON when not finite). */
  loss: number;
  /** The global step training went back to (steps completed at the restored state). */
  restoredStep: number;
  /** The base learning rate from then on (the schedule scales it as before). */
  lr: number;
}

/** Halvings of the learning rate before a run that keeps producing NaN gives up. */
export const DEFAULT_MAX_RECOVERIES = 8;

/** A finite loss this many times every recent one (and above the run's first) is a blow-up. */
export const BLOW_UP_FACTOR = 100;

/**
 * Watches the per-step losses for a finite blow-up: a loss `BLOW_UP_FACTOR` × the largest of the
 * last `WINDOW` accepted ones that is also above the run's first loss, which a descending run
 * does not reach again. Scale-free, so regularized and distillation losses work too; judged
 * against the recent maximum, not the average, so the odd hard batch of a well-fit model (0.003
 * on average, one batch at 0.3) is not mistaken for one.
 */
export class BlowUpDetector {
  /** Steps seen before the check starts, and the window of recent losses it compares with. */
  static readonly WINDOW = 16;
  #first: number | undefined;
  #recent: number[] = [];

  /** True when `loss` blew up; otherwise records it. */
  check(loss: number): boolean {
    if (this.#recent.length >= BlowUpDetector.WINDOW && loss > BLOW_UP_FACTOR * Math.max(...this.#recent) && loss > (this.#first ?? Number.POSITIVE_INFINITY))
      return true;
    this.#first ??= loss;
    this.#recent.push(loss);
    if (this.#recent.length > BlowUpDetector.WINDOW) this.#recent.shift();
    return false;
  }

  /** After going back: the window refills from the replayed steps (the first loss stays). */
  reset(): void {
    this.#recent = [];
  }
}

/** Everything a run changes, as it was before the run. */
export interface TrainSnapshot {
  state: Map<string, Tensor>;
  extraFeeds: Map<string, Tensor>;
  stepInEpoch: number;
  globalStep: number;
  partial: { lossSum: number; correct: number; seen: number };
}

/**
 * States before runs of the current epoch, at least `spacing` steps apart, the newest `keep`.
 * A diverging run's loss typically climbs for a dozen steps before it overflows (LeNet-5 at
 * lr 0.05 without warm-up: 0.4 at step 36, 4.3 at 39, 110 at 46, NaN at 51), so the state right
 * before the failing run is already on its way out: recovery goes back to the oldest one kept.
 */
export class SnapshotRing {
  readonly #keep: number;
  readonly #spacing: number;
  #items: TrainSnapshot[] = [];

  constructor(o: { keep: number; spacing: number }) {
    this.#keep = Math.max(1, o.keep);
    this.#spacing = Math.max(1, o.spacing);
  }

  /** Starts a new epoch: states of earlier epochs are not gone back to (their records are written). */
  clear(): void {
    this.#items = [];
  }

  /** Keeps the state before a run when it is `spacing` steps past the newest kept (or none is). */
  offer(s: TrainSnapshot): void {
    const newest = this.#items[this.#items.length - 1];
    if (newest !== undefined && s.globalStep - newest.globalStep < this.#spacing) return;
    this.#items.push({ ...s, state: new Map(s.state), extraFeeds: new Map(s.extraFeeds), partial: { ...s.partial } });
    if (this.#items.length > this.#keep) this.#items.shift();
  }

  /** The oldest state kept, to go back to after a non-finite loss; the newer ones are dropped. */
  rollback(): TrainSnapshot {
    const oldest = this.#items[0];
    if (oldest === undefined) throw new Error('SnapshotRing.rollback before any offer');
    this.#items = [];
    return oldest;
  }
}
