// Recovery from a diverging run: the trainer keeps the state before each of its last few session
// runs (references only: a run returns new tensors and callbacks replace entries, so nothing is
// copied); on NaN/Inf, a finite blow-up or a collapse of the training accuracy it goes back to a
// state from before, halves the learning rate and runs the same batches again.
import type { Tensor } from '../ir/tensor.js';

/** One recovery: where the loss went non-finite, blew up or collapsed, and the learning rate training continued with. */
export interface Recovery {
  epoch: number;
  /** The global step (1-based) whose loss was not finite, or blew up. */
  step: number;
  /**
   * `non-finite`: NaN or ±Infinity; `blow-up`: finite but `BLOW_UP_FACTOR` × the recent loss and
   * above the run's first; `collapse`: the smoothed training accuracy lost more than half of what
   * it had gained over chance (`CollapseDetector`).
   */
  reason: 'non-finite' | 'blow-up' | 'collapse';
  /** The loss at `step` (null in JSON when not finite). */
  loss: number;
  /** The global step training went back to (steps completed at the restored state). */
  restoredStep: number;
  /** The base learning rate from then on (the schedule scales it as before). */
  lr: number;
  /** `collapse` only: the smoothed training accuracy at `step`, and the best it had reached. */
  accuracy?: number;
  bestAccuracy?: number;
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

/**
 * Watches the training accuracy for a silent collapse: a run whose loss stays finite but whose
 * accuracy falls back towards chance (LeNet-300-100 at mean/std inputs, batch 16 lr 0.05, one
 * epoch: the 32-step training accuracy reached 80%, fell under 45% as the loss climbed back to
 * ~2.3, and the run ended at 45.4% on validation, with no NaN for the loss checks to see). Accuracy, unlike the loss, is on one scale
 * whatever extra loss terms a run adds, and bounded, so its noise at a well-fit level (fine-tuning,
 * 99%) is far from a collapse. Collapsed: the accuracy, averaged over the last `SPAN` steps
 * (exponentially), once above chance by `LEARNED` of the way to 100%, has lost more than half its
 * gain over chance.
 */
export class CollapseDetector {
  /** Steps averaged (an exponential moving average of span `SPAN`), and seen before the check starts. */
  static readonly SPAN = 32;
  /** The part of the way from chance to 100% the best average must have reached before a collapse counts. */
  static readonly LEARNED = 0.25;
  /** Steps averaged before the first check: enough that one lucky batch is not taken for learning. */
  static readonly FIRST = 8;
  readonly #chance: number;
  #seen = 0;
  #level = 0;
  #best = 0;

  /** `classes`: the number of classes (chance is 1 / classes). */
  constructor(classes: number) {
    this.#chance = 1 / Math.max(1, classes);
  }

  /** The smoothed accuracy and the best it reached (after `check`). */
  get level(): number {
    return this.#level;
  }
  get best(): number {
    return this.#best;
  }

  /** True when the accuracy collapsed with this step (`accuracy`: the step's batch accuracy, 0–1). */
  check(accuracy: number): boolean {
    const n = CollapseDetector.SPAN;
    this.#seen++;
    // The first SPAN steps seed the average with their plain mean.
    this.#level += (accuracy - this.#level) / Math.min(this.#seen, n);
    // Judged from FIRST steps on, not SPAN: a fine-tune starts well fit and can fall to chance
    // within its first 32 steps (a centroid fine-tune at too high a rate did), where a check that
    // began at step 32 would take the collapsed level for the best.
    if (this.#seen < CollapseDetector.FIRST) return false;
    this.#best = Math.max(this.#best, this.#level);
    const c = this.#chance;
    return this.#best - c >= CollapseDetector.LEARNED * (1 - c) && this.#level - c < (this.#best - c) / 2;
  }

  /** Forgets the history: after going back to an earlier state, or when a callback changed the weights or masks. */
  reset(): void {
    this.#seen = 0;
    this.#level = 0;
    this.#best = 0;
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
