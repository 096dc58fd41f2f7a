// Pruning with its fine-tuning schedule as one library call: unstructured weights or whole
// neurons/filters, one-shot, iterative or gradual (AGP), optionally after sparsity-inducing
// training (L1 / group lasso), optionally to a FLOPs budget.
import type { Dataset, TensorDataset } from '../data/index.js';
import { WhittleError } from '../ir/errors.js';
import type { Model } from '../ir/graph.js';
import { dependencyGroups } from '../graph/dependency.js';
import type { PruneGroup } from '../graph/dependency.js';
import { checkSparsity, requirePrunableLayers } from '../compress/prune/layers.js';
import { magnitudePrune } from '../compress/prune/magnitude.js';
import { agpChannelPrune, agpPrune, fineTuneMasked, iterativePrune } from '../compress/prune/schedule.js';
import type { IterationRecord, PruneStep } from '../compress/prune/schedule.js';
import type { ChannelRoundTo } from '../compress/prune/structured.js';
import { checkRounding, pruneChannels } from '../compress/prune/structured.js';
import type { ChannelPruneOptions, ChannelRounding, GroupResult } from '../compress/prune/structured.js';
import { sparsityForFlops } from '../compress/prune/budget.js';
import type { FlopsBudgetResult } from '../compress/prune/budget.js';
import { groupLassoRegularizer, l1Regularizer } from '../compress/regularize/index.js';
import { evaluate } from '../train/evaluate.js';
import { train } from '../train/trainer.js';
import type { PipelineListener, TrainSettings } from './events.js';
import { runOptions } from './events.js';

export const PRUNE_METHODS = ['magnitude', 'activation', 'apoz', 'l1', 'group-lasso'] as const;
export type PruneMethod = (typeof PRUNE_METHODS)[number];
export const PRUNE_GRANULARITIES = ['weight', 'neuron', 'filter', 'head', 'channel'] as const;
export type PruneGranularity = (typeof PRUNE_GRANULARITIES)[number];
export const PRUNE_SCHEDULES = ['oneshot', 'iterative', 'agp'] as const;
export type PruneSchedule = (typeof PRUNE_SCHEDULES)[number];

export interface PruneModelOptions {
  /** Importance: magnitude (default), activation, apoz, l1 (λ·Σ|w| training), group-lasso (λ·Σ‖w_g‖ training). */
  method?: PruneMethod;
  /** weight (unstructured) | neuron | filter | channel; default weight for magnitude/l1, channel otherwise. */
  granularity?: PruneGranularity;
  /** Fraction removed in [0, 1): of the weights, or of each group's neurons/filters. */
  sparsity?: number;
  /** Explicit sparsity per layer, e.g. { fc1: 0.92, fc2: 0.91 }. */
  perLayer?: Readonly<Record<string, number>>;
  /** Neurons/filters: keep at most this fraction of the FLOPs per sample; the sparsity is searched. */
  flops?: number;
  /** One threshold per layer (default) or one ranking across all layers. */
  scope?: 'layer' | 'global';
  /** oneshot (default) | iterative (prune, fine-tune, validate, repeat) | agp (gradual, during training). */
  schedule?: PruneSchedule;
  /** Fine-tuning epochs (iterative: per step; l1/group-lasso: the regularized epochs); default 0. */
  fineTuneEpochs?: number;
  /** l1/group-lasso: fine-tuning epochs after thresholding; default 1. */
  recoverEpochs?: number;
  /** iterative: prune/fine-tune rounds; default 4. */
  steps?: number;
  /** iterative: stop when validation accuracy falls below this, keeping the previous model. */
  accuracyFloor?: number;
  /** l1/group-lasso: regularization strength λ; default 1e-4. */
  lambda?: number;
  /** activation/apoz: training samples the activations are measured on; default 1024. */
  calibrationSamples?: number;
  /** Structured: keep a multiple of this many channels per group (`ChannelPruneOptions.roundTo`). */
  roundTo?: ChannelRoundTo;
  /** Structured: 'up' (default) or 'nearest' multiple of `roundTo` (`ChannelPruneOptions.rounding`). */
  rounding?: ChannelRounding;
  /** Trainer settings of every fine-tuning run. */
  train: TrainSettings;
  onEvent?: PipelineListener;
}

export interface PruneModelData {
  /** Fine-tuning and calibration samples. */
  train: Dataset | TensorDataset;
  /** What the schedules choose on (the iterative floor, AGP's and fine-tuning's validation). */
  validation: Dataset | TensorDataset;
  /** Accuracy before and after, reported only (never chosen on). */
  test: Dataset | TensorDataset;
}

export interface PruneModelResult {
  model: Model;
  method: PruneMethod;
  granularity: PruneGranularity;
  schedule: PruneSchedule;
  /** Test accuracy of the input model. */
  accuracyBefore: number;
  /** One-shot: test accuracy right after pruning, before fine-tuning; undefined for gradual schedules. */
  accuracyPruned: number | undefined;
  /** Test accuracy of the result. */
  accuracy: number;
  /** The sparsity asked for, or the one the FLOPs search chose. */
  sparsity: number | undefined;
  /** With `flops`: what the search found. */
  budget: FlopsBudgetResult | undefined;
  /** Structured: channels before and after per group. */
  groups: GroupResult[] | undefined;
  /** Iterative: each step's sparsity and validation accuracy. */
  history: IterationRecord[] | undefined;
}

/**
 * What one structured step removes: `s` of every group named by the granularity (or of all of
 * them, ranked together, with scope 'global'), unless `perLayer` names the sparsities.
 */
function channelTargets(
  o: Pick<PruneModelOptions, 'scope' | 'perLayer' | 'roundTo' | 'rounding'>,
  groupNames: string[] | undefined,
  s: number | undefined,
): Pick<ChannelPruneOptions, 'sparsity' | 'perLayer' | 'scope' | 'layers' | 'roundTo' | 'rounding'> {
  const global = o.scope === 'global';
  const per = global
    ? undefined
    : (o.perLayer ?? (groupNames !== undefined && s !== undefined ? Object.fromEntries(groupNames.map((n) => [n, s])) : undefined));
  return {
    sparsity: per === undefined ? s : undefined,
    perLayer: per,
    scope: global ? 'global' : 'layer',
    layers: global ? groupNames : undefined,
    roundTo: o.roundTo,
    rounding: o.rounding,
  };
}

/** Sparsities of the iterative schedule: equal ratios of the remaining density. */
function iterativeTargets(final: number, steps: number): number[] {
  return Array.from({ length: steps }, (_, i) => 1 - (1 - final) ** ((i + 1) / steps));
}

/** Structured groups the granularity allows (all of them for 'channel'). */
function groupFilter(model: Model, granularity: PruneGranularity): string[] | undefined {
  if (granularity === 'channel') return undefined;
  const opOf = new Map(model.graph.nodes.map((n) => [n.name, n.opType]));
  const all = dependencyGroups(model.graph);
  const wanted = (g: PruneGroup): boolean => {
    if (granularity === 'head') return g.unit === 'head';
    if (g.unit === 'head') return false;
    // Recurrent hidden units are neurons too.
    return granularity === 'filter' ? opOf.get(g.name) === 'Conv' : g.unit === 'hidden' || ['Gemm', 'MatMul'].includes(opOf.get(g.name) ?? '');
  };
  const names = all.filter((g) => g.prunable && wanted(g)).map((g) => g.name);
  if (names.length === 0) {
    const what = { filter: 'convolution filters', head: 'attention heads', neuron: 'neurons' }[granularity as string] ?? granularity;
    const blocked = all.filter((g) => !g.prunable && wanted(g)).map((g) => `${g.name} (${g.reason ?? 'not prunable'})`);
    throw new WhittleError(
      'BAD_ARGUMENT',
      `options.granularity '${granularity}': the model has no prunable ${what}${blocked.length > 0 ? `; blocked: ${blocked.slice(0, 3).join('; ')}` : ''}`,
    );
  }
  return names;
}

/** Checks a combination of options before any work; returns the granularity to use. */
export function checkPruneOptions(o: Omit<PruneModelOptions, 'train' | 'onEvent'>): PruneGranularity {
  const method = o.method ?? 'magnitude';
  const schedule = o.schedule ?? 'oneshot';
  const scope = o.scope ?? 'layer';
  const fineTuneEpochs = o.fineTuneEpochs ?? 0;
  const granularity = o.granularity ?? (method === 'magnitude' || method === 'l1' ? 'weight' : 'channel');
  const structured = granularity !== 'weight';
  if ((method === 'activation' || method === 'apoz' || method === 'group-lasso') && !structured)
    throw new WhittleError(
      'BAD_ARGUMENT',
      `options.method '${method}' removes whole neurons or filters; set options.granularity to 'neuron', 'filter' or 'channel'`,
    );
  if (method === 'l1' && structured)
    throw new WhittleError('BAD_ARGUMENT', "options.method 'l1' sparsifies single weights; for whole neurons/filters use options.method 'group-lasso'");
  if (structured && schedule === 'agp' && (method !== 'magnitude' || scope === 'global'))
    throw new WhittleError(
      'BAD_ARGUMENT',
      "options.schedule 'agp' for neurons/filters ranks them by magnitude within each layer: use options.method 'magnitude' and options.scope 'layer'",
    );
  checkRounding(o.roundTo, o.rounding);
  if (((o.roundTo ?? 1) !== 1 || o.rounding !== undefined) && !structured)
    throw new WhittleError(
      'BAD_ARGUMENT',
      "options.roundTo rounds the neurons/filters each layer keeps: set options.granularity to 'neuron', 'filter' or 'channel'",
    );
  if (o.sparsity !== undefined) checkSparsity(o.sparsity, 'options.sparsity');
  for (const [name, s] of Object.entries(o.perLayer ?? {})) checkSparsity(s, `options.perLayer ${name}`);
  if (o.flops !== undefined && !structured)
    throw new WhittleError(
      'BAD_ARGUMENT',
      "options.flops removes whole neurons or filters to meet the budget: set options.granularity to 'neuron', 'filter' or 'channel'",
    );
  if (o.flops !== undefined && !(o.flops > 0 && o.flops <= 1))
    throw new WhittleError('BAD_ARGUMENT', `options.flops is the fraction of the FLOPs kept, in (0, 1]; got ${o.flops}`);
  if (o.flops !== undefined && (o.sparsity !== undefined || o.perLayer !== undefined))
    throw new WhittleError('BAD_ARGUMENT', 'options.flops chooses the sparsity itself; drop options.sparsity and options.perLayer');
  if (o.sparsity === undefined && o.perLayer === undefined && o.flops === undefined)
    throw new WhittleError('BAD_ARGUMENT', 'give options.sparsity, options.perLayer or (neurons/filters) options.flops');
  if (o.sparsity !== undefined && o.perLayer !== undefined && scope === 'global')
    throw new WhittleError('BAD_ARGUMENT', "options.perLayer and options.scope 'global' exclude each other");
  if (schedule === 'iterative' && o.perLayer !== undefined)
    throw new WhittleError('BAD_ARGUMENT', "options.schedule 'iterative' ramps options.sparsity; drop options.perLayer or use 'oneshot' or 'agp'");
  if ((method === 'l1' || method === 'group-lasso') && fineTuneEpochs < 1)
    throw new WhittleError('BAD_ARGUMENT', `options.method '${method}' trains with the regularizer first; set options.fineTuneEpochs ≥ 1`);
  if (schedule === 'agp' && fineTuneEpochs < 1)
    throw new WhittleError('BAD_ARGUMENT', "options.schedule 'agp' prunes during training; set options.fineTuneEpochs ≥ 1");
  return granularity;
}

/**
 * Prunes a trained model and fine-tunes it on a schedule; every choice (the iterative floor, the
 * fine-tuning's validation) is made on `data.validation`, and `data.test` is only reported.
 *
 * ```ts
 * const r = await pruneModel(model, { train, validation, test }, {
 *   sparsity: 0.9, schedule: 'iterative', fineTuneEpochs: 1,
 *   train: { batchSize: 64, lr: 0.01, optimizer: { kind: 'sgd', momentum: 0.9 }, normalization: 'x/255' },
 * });
 * console.log(r.accuracyBefore, r.accuracy);
 * ```
 */
export async function pruneModel(model: Model, data: PruneModelData, options: PruneModelOptions): Promise<PruneModelResult> {
  const granularity = checkPruneOptions(options);
  const method = options.method ?? 'magnitude';
  const schedule = options.schedule ?? 'oneshot';
  const scope = options.scope ?? 'layer';
  const fineTuneEpochs = options.fineTuneEpochs ?? 0;
  const perLayer = options.perLayer;
  const settings = options.train;
  const onEvent = options.onEvent;
  const structured = granularity !== 'weight';
  requirePrunableLayers(model.graph);
  const groupNames = structured ? groupFilter(model, granularity) : undefined;
  const { normalization, threads } = settings;

  const structuredStep = async (m: Model, s: number): Promise<{ model: Model; groups: GroupResult[] }> => {
    const importance = method === 'activation' || method === 'apoz' ? method : method === 'group-lasso' ? 'l2' : 'l1';
    const r = await pruneChannels(m, {
      ...channelTargets(options, groupNames, s),
      importance,
      calibration: { data: data.train, normalization, samples: options.calibrationSamples ?? 1024, threads },
    });
    return { model: r.model, groups: r.groups };
  };
  let sparsity = options.sparsity;
  let budget: FlopsBudgetResult | undefined;
  if (options.flops !== undefined) {
    budget = await sparsityForFlops(model, options.flops, async (s) => (await structuredStep(model, s)).model);
    sparsity = budget.sparsity;
    onEvent?.({
      type: 'note',
      message: `${(100 * budget.sparsity).toFixed(1)}% of the ${scope === 'global' ? 'channels (global ranking)' : 'channels of each group'} leaves ${((100 * budget.flops) / budget.flopsBefore).toFixed(1)}% of the FLOPs (budget ${(100 * options.flops).toFixed(1)}%)`,
    });
  }
  // Names and feasibility are checked on the model before any training.
  if (structured && scope === 'global')
    await pruneChannels(model, { sparsity, scope: 'global', layers: groupNames, roundTo: options.roundTo, rounding: options.rounding });
  else if (structured)
    await pruneChannels(model, {
      sparsity,
      perLayer: perLayer ?? (groupNames && sparsity !== undefined ? Object.fromEntries(groupNames.map((n) => [n, sparsity as number])) : undefined),
      roundTo: options.roundTo,
      rounding: options.rounding,
    });
  else magnitudePrune(model, { sparsity, perLayer, scope });

  const t0 = performance.now();
  const stage = (name: string, accuracy: number): void => onEvent?.({ type: 'stage', stage: name, accuracy, seconds: (performance.now() - t0) / 1000 });
  const accuracyOf = async (m: Model): Promise<number> => (await evaluate(m, data.test, { normalization, threads })).accuracy;
  const accuracyBefore = await accuracyOf(model);
  stage('before', accuracyBefore);

  let current = model;
  let history: IterationRecord[] | undefined;
  let groups: GroupResult[] | undefined;
  let accuracyPruned: number | undefined;
  // Sparsity-inducing training first: λR(W) in the objective, then threshold.
  if (method === 'l1' || method === 'group-lasso') {
    const lambda = options.lambda ?? 1e-4;
    // Group lasso acts on the neurons/filters that can go: the producers of prunable groups.
    const producers = dependencyGroups(model.graph)
      .filter((g) => g.prunable && (groupNames === undefined || groupNames.includes(g.name)))
      .flatMap((g) => g.producers);
    const step = method === 'l1' ? l1Regularizer(model.graph, lambda) : groupLassoRegularizer(model.graph, lambda, producers);
    current = (
      await train(current, data.train, { ...runOptions(settings, fineTuneEpochs, `${method} λ=${lambda}`, onEvent, { validation: data.validation }), step })
    ).model;
  }
  const tuneEpochs = method === 'l1' || method === 'group-lasso' ? (options.recoverEpochs ?? 1) : fineTuneEpochs;
  const tuning = (epochs: number, label: string) => runOptions(settings, epochs, label, onEvent, { validation: data.validation });

  if (schedule === 'agp' && structured) {
    const r = await agpChannelPrune(
      current,
      data.train,
      { sparsity: perLayer === undefined ? sparsity : undefined, perLayer, layers: groupNames, roundTo: options.roundTo, rounding: options.rounding },
      tuning(tuneEpochs, 'agp'),
    );
    groups = r.groups;
    current = r.model;
  } else if (schedule === 'agp') {
    current = (await agpPrune(current, data.train, { sparsity, perLayer, scope }, tuning(tuneEpochs, 'agp'))).model;
  } else if (schedule === 'iterative') {
    const targets = iterativeTargets(sparsity as number, options.steps ?? 4);
    // The structured step prunes a fraction of what is left: relative to the previous target.
    let prev = 0;
    const step: PruneStep = structured
      ? async (m, s) => {
          const rel = 1 - (1 - s) / (1 - prev);
          prev = s;
          const r = await structuredStep(m, rel);
          groups =
            groups === undefined
              ? r.groups
              : groups.map((g) => ({ ...g, channelsAfter: r.groups.find((x) => x.name === g.name)?.channelsAfter ?? g.channelsAfter }));
          return { model: r.model };
        }
      : (m, s) => magnitudePrune(m, { sparsity: s, scope });
    const r = await iterativePrune(current, data.train, step, {
      sparsities: targets,
      train: runOptions(settings, Math.max(1, tuneEpochs), 'fine-tune', onEvent),
      validation: data.validation,
      accuracyFloor: options.accuracyFloor,
    });
    history = r.history;
    current = r.model;
    for (const h of r.history) stage(`sparsity ${(100 * h.sparsity).toFixed(1)}%${h.accepted ? '' : ' (rejected)'}`, h.accuracy);
  } else if (structured) {
    const r = await structuredStep(current, sparsity ?? 0);
    groups = r.groups;
    current = r.model;
    if (tuneEpochs > 0) {
      accuracyPruned = await accuracyOf(current);
      current = (await train(current, data.train, tuning(tuneEpochs, 'fine-tune'))).model;
    }
  } else {
    const r = magnitudePrune(current, { sparsity, perLayer, scope });
    current = r.model;
    if (tuneEpochs > 0) {
      accuracyPruned = await accuracyOf(current);
      current = (await fineTuneMasked(current, r.masks, data.train, tuning(tuneEpochs, 'fine-tune'))).model;
    }
  }
  const accuracy = await accuracyOf(current);
  // One-shot without fine-tuning: the pruned accuracy is the final one.
  if (schedule === 'oneshot' && accuracyPruned === undefined) accuracyPruned = accuracy;
  if (accuracyPruned !== undefined && accuracyPruned !== accuracy) stage('pruned', accuracyPruned);
  stage('final', accuracy);
  return { model: current, method, granularity, schedule, accuracyBefore, accuracyPruned, accuracy, sparsity, budget, groups, history };
}

export type PruneWithoutDataOptions = Pick<PruneModelOptions, 'granularity' | 'sparsity' | 'perLayer' | 'flops' | 'scope' | 'roundTo' | 'rounding'>;

export interface PruneWithoutDataResult {
  model: Model;
  granularity: PruneGranularity;
  /** The sparsity asked for, or the one the FLOPs search chose. */
  sparsity: number | undefined;
  budget: FlopsBudgetResult | undefined;
  /** Structured: channels before and after per group. */
  groups: GroupResult[] | undefined;
}

/**
 * One-shot magnitude pruning that reads no data: the smallest weights (unstructured), or the
 * neurons/filters with the smallest L1 norm (structured, thinned away), of any model with
 * prunable layers. What it costs is measured by comparing the result with the input
 * (`compareModels`), with or without labels.
 *
 * ```ts
 * const r = await pruneWithoutData(loadModel('segmenter.onnx'), { granularity: 'channel', sparsity: 0.25 });
 * ```
 */
export async function pruneWithoutData(model: Model, options: PruneWithoutDataOptions): Promise<PruneWithoutDataResult> {
  const granularity = checkPruneOptions({ ...options, method: 'magnitude', schedule: 'oneshot' });
  requirePrunableLayers(model.graph);
  const scope = options.scope ?? 'layer';
  if (granularity === 'weight') {
    if (options.flops !== undefined) throw new WhittleError('BAD_ARGUMENT', 'a FLOPs budget removes whole neurons/filters: choose a structured granularity');
    const r = magnitudePrune(model, { sparsity: options.sparsity, perLayer: options.perLayer, scope });
    return { model: r.model, granularity, sparsity: options.sparsity, budget: undefined, groups: undefined };
  }
  const groupNames = groupFilter(model, granularity);
  const step = (s: number | undefined) => pruneChannels(model, { ...channelTargets(options, groupNames, s), importance: 'l1' });
  const budget = options.flops === undefined ? undefined : await sparsityForFlops(model, options.flops, async (s) => (await step(s)).model);
  const sparsity = budget?.sparsity ?? options.sparsity;
  const r = await step(sparsity);
  return { model: r.model, granularity, sparsity, budget, groups: r.groups };
}
