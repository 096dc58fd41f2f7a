// "Grow when stuck": train, and whenever validation accuracy stops improving, widen the named
// layers a step toward their target widths (function-preserving), then continue training.
//
// Growth changes parameter shapes, so the training graph, its session and the optimizer state
// must be rebuilt. The policy therefore runs successive `train()` calls, one per phase between
// growth events (a callback watches validation accuracy and stops the call when stuck), rather
// than mutating a live session: the trainer's state map and Loop graph are built for fixed
// shapes. A phase change costs one session build (~50 ms) and restarts the momentum buffers; the
// learning-rate schedule restarts from the current rate over the epochs left.
import type { Dataset, TensorDataset } from '../../data/index.js';
import { concatSamples } from '../../data/index.js';
import { WhittleError } from '../../ir/errors.js';
import type { Model } from '../../ir/graph.js';
import { evaluate } from '../../train/evaluate.js';
import type { TrainCallback, TrainOptions } from '../../train/trainer.js';
import { train } from '../../train/trainer.js';
import { layerWidth, widen } from './index.js';

export interface GrowPolicy {
  /** Target width of each layer to grow, e.g. { fc1: 300, fc2: 100 }. */
  targets: Record<string, number>;
  /** Decides when training is stuck (the training set is not used for it). */
  validation: Dataset | TensorDataset;
  /** Growth events to go from the start widths to the targets; default 3. */
  steps?: number;
  /** Validation checks per epoch (growth can happen at any check); default 1. */
  checksPerEpoch?: number;
  /** Checks without a validation-accuracy gain of `minDelta` that count as stuck; default 1. */
  patience?: number;
  /** Default 0.001 (0.1 point). */
  minDelta?: number;
  /** Every growth event has happened by this epoch (may be fractional); default half the epochs. */
  deadline?: number;
  /** With init 'replicate': zero-sum noise on the split outgoing weights (see `widen`); default 0.5 (best of 0.05 and 0.5 tried on MNIST). */
  noise?: number;
  /** How new units start (see `widen`); default 'random' (ahead of 'replicate' in every matched MNIST run). */
  init?: 'replicate' | 'random';
  /** After a growth event the learning rate restarts from the base rate (default) or continues its schedule. */
  lrAfterGrowth?: 'continue' | 'restart';
  /**
   * Once the last growth has happened nothing more is decided on the validation samples, so they
   * join the training set for the rest of the run (default true; the epochs left are kept, so the
   * run takes as many more steps as the extra samples need).
   */
  reuseValidation?: boolean;
}

export interface GrowEvent {
  /** Training progress in epochs (fractional with several checks per epoch). */
  epoch: number;
  reason: 'stuck' | 'deadline';
  widths: Record<string, number>;
}

export interface GrowResult {
  model: Model;
  events: GrowEvent[];
  /** Validation accuracy and widths at each check (and at the end). */
  history: { epoch: number; valAccuracy: number; widths: Record<string, number> }[];
}

function widthsOf(model: Model, layers: readonly string[]): Record<string, number> {
  return Object.fromEntries(layers.map((l) => [l, layerWidth(model, l)]));
}

/**
 * Trains `model` for `options.epochs`, widening `policy.targets`' layers in `policy.steps` equal
 * steps, each when validation accuracy plateaus (or when the deadline forces it).
 *
 * ```ts
 * const { model: grown, events } = await growWhenStuck(createModel('mlp:784-50-20-10'), split.train, options, {
 *   targets: { fc1: 300, fc2: 100 }, validation: split.validation,
 * });
 * ```
 */
export async function growWhenStuck(model: Model, data: Dataset | TensorDataset, options: TrainOptions, policy: GrowPolicy): Promise<GrowResult> {
  const layers = Object.keys(policy.targets);
  if (layers.length === 0) throw new WhittleError('BAD_ARGUMENT', 'name at least one layer to grow in targets, e.g. { fc1: 300 }');
  const start = widthsOf(model, layers);
  for (const l of layers) {
    const t = policy.targets[l] as number;
    if (!Number.isInteger(t) || t <= (start[l] as number)) {
      throw new WhittleError('BAD_ARGUMENT', `cannot grow "${l}" to ${t} units: it has ${start[l]}; give a larger integer width`);
    }
  }
  const steps = policy.steps ?? 3;
  const patience = policy.patience ?? 1;
  const minDelta = policy.minDelta ?? 0.001;
  const deadline = policy.deadline ?? Math.max(1, Math.floor(options.epochs / 2));
  if (!Number.isInteger(steps) || steps < 1 || !(deadline > 0) || deadline > options.epochs) {
    throw new WhittleError('BAD_ARGUMENT', `grow policy: need steps ≥ 1 (got ${steps}) and 0 < deadline (${deadline}) ≤ epochs (${options.epochs})`);
  }
  const checks = policy.checksPerEpoch ?? 1;
  if (!Number.isInteger(checks) || checks < 1) throw new WhittleError('BAD_ARGUMENT', `checksPerEpoch must be a positive integer, got ${checks}`);
  const spe = Math.floor(data.count / Math.min(options.batchSize, data.count));
  const checkSteps = Math.max(1, Math.floor(spe / checks));
  const budget = options.epochs * spe;
  const deadlineSteps = deadline * spe;
  let current = model;
  let lr = options.lr;
  let done = 0;
  const events: GrowEvent[] = [];
  const history: GrowResult['history'] = [];
  while (done < budget) {
    const left = steps - events.length;
    // Fully grown: the held-out samples train too, for the epochs left (no more checks).
    const final = left === 0 && (policy.reuseValidation ?? true);
    const phaseData = final ? concatSamples<Dataset | TensorDataset>(data, policy.validation) : data;
    const phaseBudget = final
      ? Math.round(((budget - done) / spe) * Math.floor(phaseData.count / Math.min(options.batchSize, phaseData.count)))
      : budget - done;
    let best = -1;
    let bad = 0;
    let grow: GrowEvent['reason'] | undefined;
    let phaseSteps = 0;
    let nextCheck = checkSteps;
    const widths = widthsOf(current, layers);
    const watch: TrainCallback = {
      onStepEnd: async (ctx) => {
        phaseSteps = ctx.globalStep;
        if (final || phaseSteps < nextCheck || phaseSteps >= phaseBudget) return;
        nextCheck += checkSteps;
        const v = await evaluate(ctx.currentModel(), policy.validation, { normalization: options.normalization, threads: options.threads });
        const at = done + phaseSteps;
        history.push({ epoch: at / spe, valAccuracy: v.accuracy, widths });
        if (v.accuracy >= best + minDelta) {
          best = v.accuracy;
          bad = 0;
        } else bad++;
        if (left === 0) return;
        if (bad >= patience) grow = 'stuck';
        // Late checks (a run of K steps overshoots) still grow: every step is taken by the deadline or at the first check after it.
        else if (Math.floor(Math.max(0, deadlineSteps - at) / checkSteps) <= left - 1) grow = 'deadline';
      },
    };
    // One session per phase; its schedule restarts over the steps left.
    const r = await train(current, phaseData, {
      ...options,
      epochs: Math.ceil(phaseBudget / Math.floor(phaseData.count / Math.min(options.batchSize, phaseData.count))),
      lr,
      seed: (options.seed ?? 0) + 7919 * done,
      validation: undefined,
      callbacks: [...(options.callbacks ?? []), watch],
      shouldStop: () => grow !== undefined || phaseSteps >= phaseBudget || (options.shouldStop?.() ?? false),
      checkpointPath: undefined,
      resume: false,
    });
    current = r.model;
    done += final ? budget - done : phaseSteps;
    lr = (policy.lrAfterGrowth ?? 'restart') === 'restart' ? options.lr : (r.history[r.history.length - 1]?.lr ?? lr);
    if (grow === undefined || phaseSteps === 0) break;
    const next: Record<string, number> = {};
    for (const l of layers) {
      const now = widths[l] as number;
      const target = policy.targets[l] as number;
      next[l] = left === 1 ? target : now + Math.ceil((target - now) / left);
      current = widen(current, {
        layer: l,
        width: next[l] as number,
        noise: policy.noise ?? 0.5,
        init: policy.init ?? 'random',
        seed: (options.seed ?? 0) + done,
      });
    }
    events.push({ epoch: done / spe, reason: grow, widths: next });
  }
  if (!(policy.reuseValidation ?? true) || events.length < steps) {
    const v = await evaluate(current, policy.validation, { normalization: options.normalization, threads: options.threads });
    history.push({ epoch: done / spe, valAccuracy: v.accuracy, widths: widthsOf(current, layers) });
  }
  return { model: current, events, history };
}
