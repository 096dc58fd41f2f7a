// Pruning schedules around one training loop: masked fine-tuning, the iterative
// prune → fine-tune → evaluate loop with an accuracy floor, and gradual pruning (AGP, Zhu & Gupta
// 2017) as a training callback.
import { maskName } from '../../autodiff/train-step.js';
import type { Dataset } from '../../data/index.js';
import { WhittleError } from '../../ir/errors.js';
import type { Model } from '../../ir/graph.js';
import type { Tensor } from '../../ir/tensor.js';
import { evaluate } from '../../train/evaluate.js';
import type { StepContext, TrainCallback, TrainOptions, TrainResult } from '../../train/trainer.js';
import { train } from '../../train/trainer.js';
import type { MagnitudeOptions } from './magnitude.js';
import { magnitudePrune } from './magnitude.js';
import { checkSparsity } from './layers.js';

/**
 * Fine-tunes a pruned model with its masks in the training graph: pruned weights stay exactly
 * zero and get no updates.
 *
 * ```ts
 * const { model: sparse, masks } = magnitudePrune(model, { sparsity: 0.9 });
 * const { model: tuned } = await fineTuneMasked(sparse, masks, mnist.train, { epochs: 3, batchSize: 64, lr: 0.01, optimizer: { kind: 'sgd', momentum: 0.9 }, normalization: 'x/255' });
 * ```
 */
export async function fineTuneMasked(model: Model, masks: ReadonlyMap<string, Tensor>, data: Dataset, options: TrainOptions): Promise<TrainResult> {
  const masked = [...new Set([...(options.step?.masked ?? []), ...masks.keys()])];
  const extraFeeds = new Map(options.extraFeeds ?? []);
  for (const [w, m] of masks) extraFeeds.set(maskName(w), m);
  return train(model, data, { ...options, step: { ...options.step, masked }, extraFeeds });
}

/** Zhu & Gupta's cubic: s(t) = s_f + (s_i − s_f)·(1 − (t − t0)/(t1 − t0))³, clamped to [t0, t1]. */
export function agpSparsity(step: number, o: { initial: number; final: number; startStep: number; endStep: number }): number {
  if (step <= o.startStep) return o.initial;
  if (step >= o.endStep) return o.final;
  const p = (step - o.startStep) / Math.max(1, o.endStep - o.startStep);
  return o.final + (o.initial - o.final) * (1 - p) ** 3;
}

export interface AgpOptions {
  /** Final sparsity (with `perLayer`: the scale 1.0 reaches every layer's own final value). */
  sparsity?: number;
  perLayer?: Readonly<Record<string, number>>;
  scope?: MagnitudeOptions['scope'];
  layers?: readonly string[];
  initialSparsity?: number;
  /** Steps over which the sparsity ramps; pruning happens at most every `every` steps. */
  startStep: number;
  endStep: number;
  every?: number;
}

/**
 * A training callback that raises magnitude sparsity along the AGP cubic, rewriting the masks
 * and zeroing the newly pruned weights between runs. Train with `step.masked` listing the same
 * weights (see `agpMaskedWeights`).
 *
 * ```ts
 * const cb = agpCallback({ sparsity: 0.95, startStep: 0, endStep: 3000 });
 * ```
 */
export function agpCallback(o: AgpOptions): TrainCallback & { current(): number } {
  const initial = o.initialSparsity ?? 0;
  if (o.sparsity !== undefined) checkSparsity(o.sparsity);
  let current = -1;
  let lastStep = -Infinity;
  const every = Math.max(1, o.every ?? 1);
  return {
    current: () => current,
    onStepEnd(ctx: StepContext): void {
      // Prune every `every` steps, and once more when the ramp ends so the final sparsity is exact.
      const due = ctx.globalStep - lastStep >= every || (ctx.globalStep >= o.endStep && current < 1);
      if (!due) return;
      const frac = agpSparsity(ctx.globalStep, { initial, final: 1, startStep: o.startStep, endStep: o.endStep });
      if (frac === current) return;
      lastStep = ctx.globalStep;
      current = frac;
      const perLayer = o.perLayer && Object.fromEntries(Object.entries(o.perLayer).map(([k, v]) => [k, initial + (v - initial) * frac]));
      const sparsity = o.sparsity !== undefined ? initial + (o.sparsity - initial) * frac : undefined;
      const r = magnitudePrune(ctx.currentModel(), { sparsity, perLayer, scope: o.scope, layers: o.layers });
      for (const [w, m] of r.masks) {
        ctx.extraFeeds.set(maskName(w), m);
        ctx.state.set(w, r.model.graph.initializers.get(w) as Tensor);
      }
    },
  };
}

/** The weights an AGP run masks: those magnitudePrune would prune with these options. */
export function agpMaskedWeights(model: Model, o: AgpOptions): string[] {
  return [...magnitudePrune(model, { sparsity: o.sparsity === undefined ? undefined : 0, perLayer: o.perLayer && Object.fromEntries(Object.keys(o.perLayer).map((k) => [k, 0])), scope: o.scope, layers: o.layers }).masks.keys()];
}

/**
 * Gradual magnitude pruning during training: sparsity follows the AGP cubic from `startStep` to
 * `endStep` (defaults: 0 and 3/4 of the run), then the masks stay fixed while training goes on.
 *
 * ```ts
 * const { model: sparse } = await agpPrune(model, mnist.train, { sparsity: 0.95 }, trainOptions);
 * ```
 */
export async function agpPrune(model: Model, data: Dataset, o: Omit<AgpOptions, 'startStep' | 'endStep'> & Partial<Pick<AgpOptions, 'startStep' | 'endStep'>>, options: TrainOptions): Promise<TrainResult> {
  const stepsPerEpoch = Math.floor(data.count / Math.min(options.batchSize, data.count));
  const total = stepsPerEpoch * options.epochs;
  const full: AgpOptions = { ...o, startStep: o.startStep ?? 0, endStep: o.endStep ?? Math.round(0.75 * total), every: o.every ?? Math.max(1, Math.round(stepsPerEpoch / 10)) };
  const masked = agpMaskedWeights(model, full);
  const cb = agpCallback(full);
  return train(model, data, { ...options, step: { ...options.step, masked: [...new Set([...(options.step?.masked ?? []), ...masked])] }, callbacks: [...(options.callbacks ?? []), cb] });
}

/** One pruning step for the iterative loop: prune `model` to `sparsity`. */
export type PruneStep = (model: Model, sparsity: number) => { model: Model; masks?: ReadonlyMap<string, Tensor> } | Promise<{ model: Model; masks?: ReadonlyMap<string, Tensor> }>;

export interface IterativeOptions {
  /** Sparsities to reach in turn, increasing (e.g. [0.5, 0.75, 0.875, 0.94]). */
  sparsities: readonly number[];
  /** Fine-tuning after each step (epochs: per step). */
  train: TrainOptions;
  /** Where accuracy is measured after each step. */
  validation: Dataset;
  /** Stop, keeping the last model at or above it, when accuracy falls below this floor. */
  accuracyFloor?: number;
}

export interface IterationRecord {
  sparsity: number;
  accuracy: number;
  accepted: boolean;
}

/**
 * The loop train → prune → fine-tune → evaluate → repeat, stopping when the accuracy falls below
 * a floor (the previous model is kept) or the last sparsity is reached.
 *
 * ```ts
 * const r = await iterativePrune(model, mnist.train, (m, s) => magnitudePrune(m, { sparsity: s }), { sparsities: [0.5, 0.8, 0.9], train: opts, validation: mnist.test, accuracyFloor: 0.98 });
 * ```
 */
export async function iterativePrune(model: Model, data: Dataset, step: PruneStep, o: IterativeOptions): Promise<{ model: Model; accuracy: number; history: IterationRecord[] }> {
  if (o.sparsities.length === 0) throw new WhittleError('BAD_ARGUMENT', 'iterative pruning needs at least one sparsity step');
  o.sparsities.forEach((s) => checkSparsity(s));
  let best = model;
  let bestAccuracy = Number.NaN;
  const history: IterationRecord[] = [];
  for (const s of o.sparsities) {
    const pruned = await step(best, s);
    const tuned = pruned.masks !== undefined ? await fineTuneMasked(pruned.model, pruned.masks, data, o.train) : await train(pruned.model, data, o.train);
    const { accuracy } = await evaluate(tuned.model, o.validation, { normalization: o.train.normalization, threads: o.train.threads });
    const accepted = o.accuracyFloor === undefined || accuracy >= o.accuracyFloor;
    history.push({ sparsity: s, accuracy, accepted });
    if (!accepted) break;
    best = tuned.model;
    bestAccuracy = accuracy;
  }
  return { model: best, accuracy: bestAccuracy, history };
}
