// Pruning schedules around one training loop: masked fine-tuning, the iterative
// prune → fine-tune → evaluate loop with an accuracy floor, and gradual pruning (AGP, Zhu & Gupta
// 2017) of weights or of whole channels as a training callback.
import { maskName } from '../../autodiff/train-step.js';
import type { Dataset, TensorDataset } from '../../data/index.js';
import { WhittleError } from '../../ir/errors.js';
import type { Model } from '../../ir/graph.js';
import { Tensor } from '../../ir/tensor.js';
import { evaluate } from '../../train/evaluate.js';
import type { StepContext, TrainCallback, TrainOptions, TrainResult } from '../../train/trainer.js';
import { train } from '../../train/trainer.js';
import type { MagnitudeOptions } from './magnitude.js';
import { magnitudePrune } from './magnitude.js';
import { checkSparsity } from './layers.js';
import type { PruneGroup } from '../../graph/dependency.js';
import { dependencyGroups } from '../../graph/dependency.js';
import { magnitudeImportance, topChannels } from './importance.js';
import type { ChannelRounding, GroupResult } from './structured.js';
import type { ChannelRoundTo } from './structured.js';
import { checkRounding, roundedKeep, roundToOf } from './structured.js';
import { thinChannels } from '../../graph/thin.js';

/**
 * Fine-tunes a pruned model with its masks in the training graph: pruned weights stay exactly
 * zero and get no updates.
 *
 * ```ts
 * const { model: sparse, masks } = magnitudePrune(model, { sparsity: 0.9 });
 * const { model: tuned } = await fineTuneMasked(sparse, masks, mnist.train, { epochs: 3, batchSize: 64, lr: 0.01, optimizer: { kind: 'sgd', momentum: 0.9 }, normalization: 'x/255' });
 * ```
 */
export async function fineTuneMasked(
  model: Model,
  masks: ReadonlyMap<string, Tensor>,
  data: Dataset | TensorDataset,
  options: TrainOptions,
): Promise<TrainResult> {
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
  return [
    ...magnitudePrune(model, {
      sparsity: o.sparsity === undefined ? undefined : 0,
      perLayer: o.perLayer && Object.fromEntries(Object.keys(o.perLayer).map((k) => [k, 0])),
      scope: o.scope,
      layers: o.layers,
    }).masks.keys(),
  ];
}

/**
 * Gradual magnitude pruning during training: sparsity follows the AGP cubic from `startStep` to
 * `endStep` (defaults: 0 and 3/4 of the run), then the masks stay fixed while training goes on.
 *
 * ```ts
 * const { model: sparse } = await agpPrune(model, mnist.train, { sparsity: 0.95 }, trainOptions);
 * ```
 */
export async function agpPrune(
  model: Model,
  data: Dataset | TensorDataset,
  o: Omit<AgpOptions, 'startStep' | 'endStep'> & Partial<Pick<AgpOptions, 'startStep' | 'endStep'>>,
  options: TrainOptions,
): Promise<TrainResult> {
  const stepsPerEpoch = Math.floor(data.count / Math.min(options.batchSize, data.count));
  const total = stepsPerEpoch * options.epochs;
  const full: AgpOptions = {
    ...o,
    startStep: o.startStep ?? 0,
    endStep: o.endStep ?? Math.round(0.75 * total),
    every: o.every ?? Math.max(1, Math.round(stepsPerEpoch / 10)),
  };
  const masked = agpMaskedWeights(model, full);
  const cb = agpCallback(full);
  return train(model, data, {
    ...options,
    step: { ...options.step, masked: [...new Set([...(options.step?.masked ?? []), ...masked])] },
    callbacks: [...(options.callbacks ?? []), cb],
  });
}

/** One pruning step for the iterative loop: prune `model` to `sparsity`. */
export type PruneStep = (
  model: Model,
  sparsity: number,
) => { model: Model; masks?: ReadonlyMap<string, Tensor> } | Promise<{ model: Model; masks?: ReadonlyMap<string, Tensor> }>;

export interface IterativeOptions {
  /** Sparsities to reach in turn, increasing (e.g. [0.5, 0.75, 0.875, 0.94]). */
  sparsities: readonly number[];
  /** Fine-tuning after each step (epochs: per step). */
  train: TrainOptions;
  /** Where accuracy is measured after each step: held out of the training data, never the test set. */
  validation: Dataset | TensorDataset;
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
 * const { train, validation } = splitValidation(mnist.train, 0.1, { seed: 0 });
 * const r = await iterativePrune(model, train, (m, s) => magnitudePrune(m, { sparsity: s }), { sparsities: [0.5, 0.8, 0.9], train: opts, validation, accuracyFloor: 0.98 });
 * ```
 */
export async function iterativePrune(
  model: Model,
  data: Dataset | TensorDataset,
  step: PruneStep,
  o: IterativeOptions,
): Promise<{ model: Model; accuracy: number; history: IterationRecord[] }> {
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

export interface AgpChannelOptions {
  /** Final fraction of each group's channels removed (with `perLayer`, per group). */
  sparsity?: number;
  /** Per group (named by its first producing layer), e.g. { conv1: 0.5, fc1: 0.6 }. */
  perLayer?: Readonly<Record<string, number>>;
  /** Groups to prune with `sparsity` (default every prunable group). */
  layers?: readonly string[];
  /** The final kept count of each group is a multiple of this (`ChannelPruneOptions.roundTo`); the masks ramp towards it. */
  roundTo?: ChannelRoundTo;
  /** 'up' (default) or 'nearest', as `ChannelPruneOptions.rounding`. */
  rounding?: ChannelRounding;
  startStep?: number;
  endStep?: number;
  every?: number;
}

/**
 * Gradual structured pruning: during training each group's weakest channels (L1 of their weights)
 * are masked out along the AGP cubic — the producers' filters, biases and BatchNorm scale/shift,
 * so a masked channel outputs exactly zero — and the model is thinned at the end.
 *
 * ```ts
 * const { model: thin, groups } = await agpChannelPrune(lenet5, mnist.train, { sparsity: 0.55 }, trainOptions);
 * ```
 */
export async function agpChannelPrune(
  model: Model,
  data: Dataset | TensorDataset,
  o: AgpChannelOptions,
  options: TrainOptions,
): Promise<{ model: Model; groups: GroupResult[]; training: TrainResult }> {
  const all = dependencyGroups(model.graph);
  const targets = new Map<PruneGroup, number>();
  const byName = (n: string): PruneGroup => {
    const g = all.find((x) => x.name === n || x.producers.includes(n));
    const valid = all.filter((x) => x.prunable).map((x) => x.name);
    if (g === undefined || !g.prunable)
      throw new WhittleError('BAD_ARGUMENT', `no prunable channel group "${n}"; prunable groups: ${valid.join(', ') || '(none)'}`);
    return g;
  };
  for (const [n, s] of Object.entries(o.perLayer ?? {})) targets.set(byName(n), checkSparsity(s, `sparsity of "${n}"`));
  if (o.sparsity !== undefined) {
    checkSparsity(o.sparsity);
    for (const g of o.layers !== undefined ? o.layers.map(byName) : all.filter((x) => x.prunable)) if (!targets.has(g)) targets.set(g, o.sparsity);
  }
  if (targets.size === 0) throw new WhittleError('BAD_ARGUMENT', 'give a sparsity or per-layer sparsities');
  checkRounding(o.roundTo, o.rounding);
  const multiple = roundToOf(model.graph, o.roundTo);
  // Channels each group drops by the end; the ramp removes `fraction` of them.
  const finalDrop = new Map<PruneGroup, number>();
  for (const [g, s] of targets) {
    finalDrop.set(g, g.channels - roundedKeep(g.channels - Math.round(s * g.channels), g.channels, multiple(g), o.rounding));
    if (g.channels - Math.round(s * g.channels) < 1)
      throw new WhittleError(
        'BAD_ARGUMENT',
        `removing ${Math.round(s * g.channels)} of ${g.channels} channels of "${g.name}" would disconnect the graph; lower its sparsity`,
      );
    if (g.members.some((m) => m.role === 'const'))
      throw new WhittleError('BAD_ARGUMENT', `"${g.name}" adds a per-channel constant, which masking cannot silence; prune it one-shot or iteratively`);
  }
  // The tensors a channel's output depends on: producers' weights and biases, BatchNorm scale and shift.
  const masked = new Map<string, { group: PruneGroup; axis: number; offset: number; repeat: number }[]>();
  for (const g of targets.keys()) {
    for (const m of g.members) {
      // A BatchNorm's scale and shift (inputs 1 and 2), not its running statistics.
      const bn = m.role === 'norm' ? model.graph.nodes.find((n) => n.name === m.node) : undefined;
      if (m.role !== 'out' && !(bn !== undefined && (bn.inputs[1] === m.tensor || bn.inputs[2] === m.tensor))) continue;
      const list = masked.get(m.tensor) ?? [];
      list.push({ group: g, axis: m.axis, offset: m.offset, repeat: m.repeat });
      masked.set(m.tensor, list);
    }
  }
  const stepsPerEpoch = Math.floor(data.count / Math.min(options.batchSize, data.count));
  const total = stepsPerEpoch * options.epochs;
  const startStep = o.startStep ?? 0;
  const endStep = o.endStep ?? Math.round(0.75 * total);
  const every = Math.max(1, o.every ?? Math.round(stepsPerEpoch / 10));
  const dropped = new Map<PruneGroup, number[]>([...targets.keys()].map((g) => [g, []]));
  const masksFor = (m: Model): Map<string, Tensor> => {
    const out = new Map<string, Tensor>();
    for (const [name, slices] of masked) {
      const w = m.graph.initializers.get(name) as Tensor;
      const mask = new Float32Array(w.size).fill(1);
      for (const s of slices) {
        const n = w.dims[s.axis] as number;
        const inner = w.dims.slice(s.axis + 1).reduce((a, d) => a * d, 1);
        const outer = w.size / (n * inner);
        for (const c of dropped.get(s.group) ?? [])
          for (let oi = 0; oi < outer; oi++) mask.fill(0, (oi * n + s.offset + c * s.repeat) * inner, (oi * n + s.offset + (c + 1) * s.repeat) * inner);
      }
      out.set(name, new Tensor(w.dtype, w.dims, mask));
    }
    return out;
  };
  let last = -Infinity;
  let fraction = -1;
  const cb: TrainCallback = {
    onStepEnd(ctx: StepContext): void {
      if (!(ctx.globalStep - last >= every || (ctx.globalStep >= endStep && fraction < 1))) return;
      const frac = agpSparsity(ctx.globalStep, { initial: 0, final: 1, startStep, endStep });
      if (frac === fraction) return;
      last = ctx.globalStep;
      fraction = frac;
      const current = ctx.currentModel();
      for (const [g, s] of targets) {
        // Without rounding the historical count, so unrounded runs keep their figures.
        const drop = multiple(g) === 1 ? Math.round(s * frac * g.channels) : Math.round(frac * (finalDrop.get(g) as number));
        const keep = new Set(topChannels(magnitudeImportance(current.graph, g, 'l1'), g.channels - drop));
        dropped.set(
          g,
          Array.from({ length: g.channels }, (_, c) => c).filter((c) => !keep.has(c)),
        );
      }
      for (const [name, mask] of masksFor(current)) {
        ctx.extraFeeds.set(maskName(name), mask);
        const w = current.graph.initializers.get(name) as Tensor;
        ctx.state.set(
          name,
          new Tensor(
            w.dtype,
            w.dims,
            (w.data as Float32Array).map((v, i) => v * (mask.data[i] as number)),
          ),
        );
      }
    },
  };
  const extraFeeds = new Map(options.extraFeeds ?? []);
  for (const [name, mask] of masksFor(model)) extraFeeds.set(maskName(name), mask);
  const training = await train(model, data, {
    ...options,
    extraFeeds,
    step: { ...options.step, masked: [...new Set([...(options.step?.masked ?? []), ...masked.keys()])] },
    callbacks: [...(options.callbacks ?? []), cb],
  });
  const keep = new Map<number, number[]>();
  const groups: GroupResult[] = [];
  for (const g of all) {
    const d = dropped.get(g);
    if (d === undefined) continue;
    const gone = new Set(d);
    keep.set(
      g.id,
      Array.from({ length: g.channels }, (_, c) => c).filter((c) => !gone.has(c)),
    );
    groups.push({ name: g.name, channelsBefore: g.channels, channelsAfter: g.channels - d.length });
  }
  return { model: thinChannels(training.model, all, keep), groups, training };
}
