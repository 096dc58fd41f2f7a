// The training loop: feeds batches and the carried state (parameters, optimizer state, BatchNorm
// statistics) into the training-step graph, reads the next state back, and checkpoints.
import { existsSync } from 'node:fs';
import type { OptimizerConfig } from '../autodiff/optimizer.js';
import type { StepExtensions, TrainStep, TrainStepOptions } from '../autodiff/train-step.js';
import { buildTrainStep, trainableParameters } from '../autodiff/train-step.js';
import { foldConstants } from '../ir/fold.js';
import { SHAPE_RULES } from '../ops/index.js';
import { buildLoopTrainStep } from '../autodiff/loop.js';
import { byteInput } from '../autodiff/byte-input.js';
import type { Dataset, Normalization, TensorDataset } from '../data/index.js';
import type { Rng } from '../data/index.js';
import { createRng, deriveSeed, epochOrder, imageSource, isTensorDataset, normalizationAffine, shiftImages, tensorSource } from '../data/index.js';
import { WhittleError } from '../ir/errors.js';
import type { Model } from '../ir/graph.js';
import { Tensor } from '../ir/tensor.js';
import { defaultThreads, Session } from '../runtime/session.js';
import { loadCheckpoint, saveCheckpoint } from './checkpoint.js';
import { withLabelSmoothing } from './label-smoothing.js';
import type { Recovery, TrainSnapshot } from './recovery.js';
import { BlowUpDetector, CollapseDetector, DEFAULT_MAX_RECOVERIES, SnapshotRing } from './recovery.js';
import { checkInputShape, evaluate, inputDims } from './evaluate.js';
import type { PlateauState, ScheduleOptions } from './schedule.js';
import { initialPlateauState, learningRate, updatePlateau } from './schedule.js';

export interface TrainOptions {
  epochs: number;
  batchSize: number;
  lr: number;
  optimizer: OptimizerConfig;
  schedule?: ScheduleOptions;
  /** Clip each step's gradient to this global L2 norm before the update (PyTorch's `clip_grad_norm_`); default none. */
  clipNorm?: number;
  /** How image bytes become floats (in the step's graph); a `TensorDataset`'s values are fed as they are. */
  normalization: Normalization;
  seed?: number;
  threads?: number;
  /**
   * Held-out samples evaluated after every epoch (accuracy, loss; drives plateau schedules and
   * early stopping). Hold them out of the training data (`splitValidation`), never the test set.
   */
  validation?: Dataset | TensorDataset;
  /** Stop when validation loss has not improved for this many epochs. */
  earlyStoppingPatience?: number;
  /** Written atomically after every epoch and on interruption. */
  checkpointPath?: string;
  /** Continue from `checkpointPath` if it exists. */
  resume?: boolean;
  /**
   * Training steps per session.run (an ONNX Loop over K stacked batches; 1: one step per run).
   * Same result either way; K > 1 saves the per-run overhead that dominates small models.
   */
  stepsPerRun?: number;
  /**
   * On a non-finite loss, a finite one that blew up (100× every recent one and above the first),
   * or a collapse of the training accuracy towards chance with a finite loss (`CollapseDetector`;
   * cross-entropy runs), go back to a state kept from before (the oldest of the last four runs'
   * starting states, within the epoch: 48–64 steps back at 16 steps per run, up to four runs back
   * at more), halve the learning rate and replay the same batches (default true); false: throw
   * NAN_LOSS at the first non-finite loss or collapse.
   */
  recover?: boolean;
  /** Halvings of the learning rate before a recurring non-finite loss stops training (default 8). */
  maxRecoveries?: number;
  /** Compression hooks in the training graph: masks, extra loss terms, forward rewrites. */
  step?: StepExtensions;
  /**
   * Augmentation: every training image translated by up to this many pixels in x and y (each
   * image its own random shift, seeded by seed, epoch and step; border filled with 0). Default 0:
   * none. Validation images are never shifted.
   */
  shift?: number;
  /** Label smoothing ε of the cross-entropy, in [0, 1) (default 0: off); see `withLabelSmoothing`. */
  labelSmoothing?: number;
  /** Initial values of the step's extra inputs (e.g. `${param}.mask`); masks default to all ones. */
  extraFeeds?: ReadonlyMap<string, Tensor>;
  /** Policies run between session runs (pruning schedules, growing, ...). */
  callbacks?: readonly TrainCallback[];
  /** Polled between steps; return true to save a checkpoint and stop (Ctrl-C). */
  shouldStop?: () => boolean;
  onProgress?: (e: ProgressEvent) => void;
}

/** What a callback sees and may change between runs. */
export interface StepContext {
  epoch: number;
  /** Steps completed so far in the whole run. */
  globalStep: number;
  stepsPerEpoch: number;
  totalSteps: number;
  /** Current parameters, optimizer state and BatchNorm statistics by input name; replace entries to change them. */
  state: Map<string, Tensor>;
  /** Current extra inputs (masks, ...) by name; replace entries to change them. */
  extraFeeds: Map<string, Tensor>;
  /** The model with the current parameters. */
  currentModel(): Model;
}

export interface EpochContext extends StepContext {
  record: EpochRecord;
}

/** A training policy: compression during training is a callback with one context argument. */
export interface TrainCallback {
  /** After each session run (K steps when stepsPerRun = K). */
  onStepEnd?(ctx: StepContext): void | Promise<void>;
  /** After each epoch, once validation has run. */
  onEpochEnd?(ctx: EpochContext): void | Promise<void>;
}

export type ProgressEvent =
  | { type: 'start'; epochs: number; stepsPerEpoch: number; startEpoch: number; startStep: number }
  | { type: 'step'; epoch: number; step: number; stepsPerEpoch: number; loss: number; accuracy: number; lr: number }
  | { type: 'epoch'; record: EpochRecord }
  | { type: 'recovery'; recovery: Recovery };

export interface EpochRecord {
  epoch: number;
  loss: number;
  trainAccuracy: number;
  valLoss?: number;
  valAccuracy?: number;
  lr: number;
  seconds: number;
  samplesPerSec: number;
}

export interface TrainResult {
  model: Model;
  history: EpochRecord[];
  /** Epochs completed. */
  epochs: number;
  status: 'completed' | 'interrupted' | 'early-stopped';
  /** Median training throughput over the epochs run in this call. */
  samplesPerSec: number;
  /** Non-finite losses recovered from (learning rate halved each time), oldest first. */
  recoveries: Recovery[];
}

/**
 * Per-run overhead (state in and out of onnxruntime, batch gathering, the Loop's setup) dominates
 * small models: LeNet-300-100 at 1 thread ran ~1.5× faster at 64 steps per run than at 16
 * (CPU-time medians, interleaved runs); 128 gained nothing more.
 */
export const DEFAULT_STEPS_PER_RUN = 64;

/** The random stream of the image shifts (per epoch: SHIFT_STREAM + epoch), apart from the shuffle's. */
const SHIFT_STREAM = 0x5f1f7;

/**
 * The generator of the image shifts of step `step` (counted within the epoch) of epoch `epoch`
 * (from 0): `TrainOptions.shift` draws each batch's shifts from it with `shiftImages`.
 *
 * ```ts
 * shiftImages(bytes, 64, [1, 28, 28], 2, shiftRng(seed, 0, 0)); // the shifts of the first batch
 * ```
 */
export function shiftRng(seed: number, epoch: number, step: number): Rng {
  return createRng(deriveSeed(deriveSeed(seed, SHIFT_STREAM + epoch), step));
}

/** Recovery goes back to the oldest of four states before runs, 16 or more steps apart (kept by reference): 48–64 steps at 16 steps per run, up to 4 runs at more. */
const SNAPSHOTS = { keep: 4, spacing: 16 };

interface CheckpointMeta {
  epoch: number;
  stepInEpoch: number;
  globalStep: number;
  plateau: PlateauState;
  history: EpochRecord[];
  partial: { lossSum: number; correct: number; seen: number };
  bestValLoss: number;
  badEpochs: number;
  /** The learning rate's factor after recoveries (1: none). */
  lrScale: number;
  recoveries: Recovery[];
  fingerprint: string;
}

function fingerprint(o: TrainOptions, step: TrainStep): string {
  const smoothing = o.labelSmoothing ? [o.labelSmoothing] : [];
  const shift = o.shift ? [{ shift: o.shift }] : [];
  const clip = o.clipNorm !== undefined ? [{ clipNorm: o.clipNorm }] : [];
  return JSON.stringify([
    o.batchSize,
    o.lr,
    o.optimizer,
    o.schedule,
    o.seed ?? 0,
    o.normalization,
    step.carried.map((c) => [c.input, c.dims]),
    ...smoothing,
    ...shift,
    ...clip,
  ]);
}

function median(xs: number[]): number {
  if (xs.length === 0) return 0;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
}

function pct(x: number): string {
  return `${(100 * x).toFixed(1)}%`;
}

function sameValues(a: readonly Tensor[], b: readonly Tensor[]): boolean {
  return a.length === b.length && a.every((t, i) => t === b[i]);
}

/** A collapse watch for a cross-entropy step (it counts correct predictions) over a known number of classes. */
function collapseDetector(model: Model, step: TrainStep): CollapseDetector | undefined {
  const classes = model.graph.outputs[0]?.shape.at(-1);
  return step.correct !== undefined && typeof classes === 'number' && classes >= 2 ? new CollapseDetector(classes) : undefined;
}

/** The model with `state`'s parameter and BatchNorm values as its initializers. */
function materialize(model: Model, step: TrainStep, state: Map<string, Tensor>): Model {
  const g = model.graph.clone();
  for (const c of step.carried) {
    if (c.init.kind === 'initializer') g.initializers.set(c.init.name, state.get(c.input) as Tensor);
  }
  return { ...model, graph: g, metadata: { ...model.metadata } };
}

/**
 * The training step; where a gradient needs spatial sizes the model leaves symbolic (an input of
 * any height and width, as PaddleOCR exports; or a ShuffleNet's channel shuffle: Reshape to a
 * shape made of Shape/Gather/Concat of a value with a symbolic batch), it is built again for the
 * shapes training feeds (every step's batch has `batch` samples of `sample` dims) with the shape
 * computations folded to constants. The parameters keep their names, so the trained values go
 * back into the model as given, its symbolic dims untouched.
 */
function buildStepAnyShape(model: Model, batch: number, sample: readonly number[], options: TrainStepOptions): TrainStep {
  try {
    return buildTrainStep(model, options);
  } catch (e) {
    if (!(e instanceof WhittleError && e.code === 'UNSUPPORTED_OP' && e.message.includes('needs fixed spatial sizes'))) throw e;
    const g = model.graph.clone();
    const fed = g.inputs.filter((i) => !g.initializers.has(i.name));
    const symbolic = fed.filter((i) => i.shape.some((d) => typeof d !== 'number'));
    if (symbolic.length === 0) throw e;
    // The data feeds the first input [batch, ...sample]; any other takes the batch only.
    for (const i of symbolic) i.shape = i === fed[0] && sample.length === i.shape.length - 1 ? [batch, ...sample] : [batch, ...i.shape.slice(1)];
    // The parameters are values at run time, not constants: held out of the fold (as inputs), so a
    // computation on weights alone (QAT's fake quantization of a weight) stays in the graph.
    const params = new Set(trainableParameters(model.graph));
    const held = new Map([...params].map((p) => [p, g.initializers.get(p) as Tensor]));
    for (const [p, t] of held) {
      g.initializers.delete(p);
      g.inputs.push({ name: p, dtype: t.dtype, shape: [...t.dims] });
    }
    const folded = foldConstants(g, SHAPE_RULES);
    folded.inputs = folded.inputs.filter((i) => !held.has(i.name));
    for (const [p, t] of held) folded.initializers.set(p, t);
    const fixed: Model = { ...model, graph: folded };
    // A float value the fold computed from constants alone (k-means sharing's Unsqueeze of its
    // codebook layout) is a constant of the graph, as it was before folding: frozen, not trained.
    const computed = trainableParameters(fixed.graph).filter((p) => !params.has(p));
    try {
      return buildTrainStep(fixed, computed.length > 0 ? { ...options, frozen: [...(options.frozen ?? []), ...computed] } : options);
    } catch {
      throw e;
    }
  }
}

/**
 * Trains a classifier with an in-graph optimizer, on image bytes (MNIST, CIFAR: normalized in the
 * step's graph) or on a labelled `TensorDataset` of the model's one float32 input (an .npz of
 * x and y, an image folder with class sub-folders, read already normalized).
 *
 * ```ts
 * const { model: trained } = await train(createModel('lenet-300-100'), mnist.train, {
 *   epochs: 10, batchSize: 64, lr: 0.05, optimizer: { kind: 'sgd', momentum: 0.9 }, normalization: 'x/255',
 * });
 * ```
 */
export async function train(model: Model, data: Dataset | TensorDataset, o: TrainOptions): Promise<TrainResult> {
  if (!(o.epochs >= 1)) throw new WhittleError('BAD_ARGUMENT', `epochs must be ≥ 1, got ${o.epochs}`);
  if (!(o.batchSize >= 1)) throw new WhittleError('BAD_ARGUMENT', `batch size must be ≥ 1, got ${o.batchSize}`);
  if (!(o.lr > 0)) throw new WhittleError('BAD_ARGUMENT', `learning rate must be > 0, got ${o.lr}`);
  checkInputShape(model, data);
  const tensors = isTensorDataset(data) ? data : undefined;
  const floatInput = tensors?.inputs.find((t) => t.shared !== true);
  // Float samples, or integer ids where the model takes them (token ids into an embedding Gather).
  const wanted = model.graph.inputs[0]?.dtype;
  const ids = wanted === 'int64' || wanted === 'int32';
  if (floatInput !== undefined && floatInput.dtype !== (ids ? wanted : 'float32'))
    throw new WhittleError(
      'BAD_DATA',
      `${tensors?.source}: the model's input "${model.graph.inputs[0]?.name}" takes ${ids ? wanted : 'float32'}, "${floatInput.name}" holds ${floatInput.dtype}; convert it (x.astype('${ids ? wanted : 'float32'}'))`,
    );
  if (tensors !== undefined && (o.shift ?? 0) > 0)
    throw new WhittleError('BAD_ARGUMENT', `shift augments image bytes (MNIST, CIFAR); ${tensors.source} holds float samples: train it without shift`);
  // The threads the session will run with (it never takes more than there are cores).
  const threads = Math.min(o.threads ?? defaultThreads(), defaultThreads());
  const bs = Math.min(o.batchSize, data.count);
  const step = buildStepAnyShape(model, bs, inputDims(model, data), {
    threads,
    ...withLabelSmoothing(o.step, o.labelSmoothing ?? 0),
    optimizer: o.optimizer,
    ...(o.clipNorm !== undefined ? { clipNorm: o.clipNorm } : {}),
  });
  const K = Math.max(1, Math.floor(o.stepsPerRun ?? DEFAULT_STEPS_PER_RUN));
  // Pixels go in as bytes and each step normalizes its own batch in the graph: a byte copy per
  // sample instead of a float conversion per pixel in JavaScript, and the floats stay in cache.
  // A TensorDataset's floats go in as they are.
  const stepGraph = step.model.graph.clone();
  const pixelInput = tensors !== undefined ? step.input : byteInput(stepGraph, step.input, normalizationAffine(o.normalization));
  const runStep: TrainStep = { ...step, model: { ...step.model, graph: stepGraph }, input: pixelInput };
  const loop = K > 1 ? buildLoopTrainStep(runStep) : undefined;
  const session = await Session.create(loop?.step.model ?? runStep.model, { threads: o.threads });
  const schedule: ScheduleOptions = o.schedule ?? { schedule: { kind: 'constant' } };
  const stepsPerEpoch = Math.floor(data.count / bs);
  const totalSteps = stepsPerEpoch * o.epochs;
  const dims = inputDims(model, data);
  const seed = o.seed ?? 0;
  const shift = o.shift ?? 0;
  if (!(Number.isInteger(shift) && shift >= 0)) throw new WhittleError('BAD_ARGUMENT', `shift must be a whole number of pixels ≥ 0, got ${shift}`);

  const state = new Map<string, Tensor>();
  for (const c of step.carried) {
    state.set(c.input, c.init.kind === 'initializer' ? (model.graph.initializers.get(c.init.name) as Tensor).clone() : new Tensor(c.dtype, c.dims));
  }
  const extraFeeds = new Map<string, Tensor>();
  for (const e of step.extra) {
    const given = o.extraFeeds?.get(e.name);
    if (given !== undefined) extraFeeds.set(e.name, given);
    else if (e.name.endsWith('.mask') && e.shape.every((d): d is number => typeof d === 'number')) {
      const ones = new Tensor(e.dtype, e.shape);
      (ones.data as Float32Array | Float64Array).fill(1);
      extraFeeds.set(e.name, ones);
    } else throw new WhittleError('BAD_ARGUMENT', `the training step needs a value for its extra input "${e.name}"; pass it in extraFeeds`);
  }
  const context = (epoch: number): StepContext => ({
    epoch,
    globalStep: meta.globalStep,
    stepsPerEpoch,
    totalSteps,
    state,
    extraFeeds,
    currentModel: () => materialize(model, step, state),
  });
  let meta: CheckpointMeta = {
    epoch: 0,
    stepInEpoch: 0,
    globalStep: 0,
    plateau: initialPlateauState(),
    history: [],
    partial: { lossSum: 0, correct: 0, seen: 0 },
    bestValLoss: Number.POSITIVE_INFINITY,
    badEpochs: 0,
    lrScale: 1,
    recoveries: [],
    fingerprint: fingerprint(o, step),
  };
  if (o.resume && o.checkpointPath !== undefined && existsSync(o.checkpointPath)) {
    const ck = loadCheckpoint<CheckpointMeta>(o.checkpointPath);
    if (ck.meta.fingerprint !== meta.fingerprint) {
      throw new WhittleError(
        'BAD_ARGUMENT',
        `checkpoint ${o.checkpointPath} was written by a run with other settings (model, batch, lr, optimizer, schedule, seed, normalization or label smoothing); rerun with the same flags, or delete it to start over`,
      );
    }
    // Checkpoints written before recovery existed lack its two fields.
    meta = { ...ck.meta, lrScale: ck.meta.lrScale ?? 1, recoveries: ck.meta.recoveries ?? [] };
    for (const [k, t] of ck.tensors) {
      if (state.has(k)) state.set(k, t);
      else if (extraFeeds.has(k)) extraFeeds.set(k, t);
    }
  }
  const save = (): void => {
    if (o.checkpointPath !== undefined) saveCheckpoint(o.checkpointPath, meta, new Map([...state, ...extraFeeds]));
  };
  const snapshots = new SnapshotRing(SNAPSHOTS);
  const blowUp = new BlowUpDetector();
  const collapse = collapseDetector(model, step);
  const maxRecoveries = o.maxRecoveries ?? DEFAULT_MAX_RECOVERIES;
  /** Puts the run back where `back` was; the maps are the ones callbacks hold, so refill them. */
  const restore = (back: TrainSnapshot): void => {
    state.clear();
    for (const [k, t] of back.state) state.set(k, t);
    extraFeeds.clear();
    for (const [k, t] of back.extraFeeds) extraFeeds.set(k, t);
    meta.stepInEpoch = back.stepInEpoch;
    meta.globalStep = back.globalStep;
    meta.partial = { ...back.partial };
  };

  o.onProgress?.({ type: 'start', epochs: o.epochs, stepsPerEpoch, startEpoch: meta.epoch, startStep: meta.stepInEpoch });
  const speeds: number[] = [];
  let status: TrainResult['status'] = 'completed';
  // The Loop form takes K batches stacked [K, B, ...]; the single step one batch [B, ...].
  const source =
    tensors !== undefined
      ? tensorSource(tensors, {
          inputs: { [floatInput?.name ?? step.input]: loop?.stackedInput ?? pixelInput },
          labelInput: loop?.stackedLabels ?? step.labels,
        })
      : imageSource(data as Dataset, {
          input: loop?.stackedInput ?? pixelInput,
          labelInput: loop?.stackedLabels ?? step.labels,
          normalization: o.normalization,
          shape: dims,
          reuse: true,
          bytes: true,
        });
  try {
    epochs: while (meta.epoch < o.epochs) {
      const epoch = meta.epoch;
      const order = epochOrder(data.count, { shuffle: true, seed, epoch });
      snapshots.clear();
      const t0 = performance.now();
      const firstStep = meta.stepInEpoch;
      let lr = 0;
      for (let s = meta.stepInEpoch; s < stepsPerEpoch; ) {
        if (o.shouldStop?.()) {
          status = 'interrupted';
          save();
          break epochs;
        }
        const k = Math.min(K, stepsPerEpoch - s);
        const lrs: number[] = [];
        for (let j = 0; j < k; j++)
          lrs.push(meta.lrScale * learningRate(o.lr, schedule, { step: meta.globalStep + j, epoch, stepsPerEpoch, totalSteps }, meta.plateau));
        const batch = source.gather(order.subarray(s * bs, (s + k) * bs), loop !== undefined ? [k, bs] : [bs]);
        if (shift > 0) {
          // One stream per step (not per run): the shifts do not depend on stepsPerRun.
          const x = (batch.feeds[loop?.stackedInput ?? pixelInput] as Tensor).data as Uint8Array;
          const per = x.length / (k * bs);
          for (let j = 0; j < k; j++)
            shiftImages(x.subarray(j * bs * per, (j + 1) * bs * per), bs, (data as Dataset).shape, shift, shiftRng(seed, epoch, s + j));
        }
        const scalars = step.optimizer.scalarFeeds(step.scalars, lrs, meta.globalStep + 1);
        const feeds: Record<string, Tensor> = { ...batch.feeds };
        for (const [name, t] of state) feeds[name] = t;
        for (const [name, t] of extraFeeds) feeds[name] = t;
        if (loop !== undefined) {
          for (const [name, values] of scalars) feeds[loop.stackedScalars[name] as string] = new Tensor('float32', [k], values);
        } else {
          for (const [name, values] of scalars) feeds[name] = new Tensor('float32', [], values);
        }
        snapshots.offer({ state, extraFeeds, stepInEpoch: s, globalStep: meta.globalStep, partial: meta.partial });
        const r = await session.run(feeds);
        const losses = r[loop?.losses ?? step.loss]?.data as Float32Array;
        const corrects = (loop?.corrects ?? step.correct) !== undefined ? (r[(loop?.corrects ?? step.correct) as string]?.data as Float32Array) : undefined;
        let reason: Recovery['reason'] | undefined;
        const bad = losses.subarray(0, k).findIndex((l, j) => {
          if (!Number.isFinite(l)) reason = 'non-finite';
          else if (o.recover !== false && blowUp.check(l)) reason = 'blow-up';
          else if (collapse?.check((corrects?.[j] ?? 0) / bs) === true) reason = 'collapse';
          return reason !== undefined;
        });
        if (bad >= 0 && reason !== undefined) {
          const where = `at epoch ${epoch + 1}, step ${s + bad + 1} (learning rate ${lrs[bad]})`;
          const badLoss = losses[bad] as number;
          const fell =
            collapse !== undefined
              ? `the training accuracy (last ${CollapseDetector.SPAN} steps) fell to ${pct(collapse.level)} from ${pct(collapse.best)} with a finite loss (${badLoss.toPrecision(3)})`
              : '';
          const fix = `lower the learning rate (e.g. ${o.lr / 10}), add warm-up steps, or let training recover`;
          if (o.recover === false)
            throw new WhittleError(
              'NAN_LOSS',
              reason === 'collapse' ? `training collapsed ${where}: ${fell}; ${fix}` : `the loss became ${losses[bad]} ${where}; ${fix}`,
            );
          const collapsed = reason === 'collapse' && collapse !== undefined ? { accuracy: collapse.level, bestAccuracy: collapse.best } : {};
          const failedStep = meta.globalStep + bad + 1;
          // Back to a state from before the loss started to climb, then the same batches at half the rate.
          restore(snapshots.rollback());
          blowUp.reset();
          collapse?.reset();
          s = meta.stepInEpoch;
          if (meta.recoveries.length >= maxRecoveries) {
            save();
            throw new WhittleError(
              'NAN_LOSS',
              `${reason === 'collapse' ? `training collapsed ${where} (${fell})` : `the loss ${reason === 'blow-up' ? 'blew up to' : 'became'} ${badLoss} ${where}`} again after ${maxRecoveries} halvings of the learning rate; ` +
                `${o.checkpointPath !== undefined ? `the last good state (step ${meta.globalStep}) is saved in ${o.checkpointPath}; ` : ''}` +
                'lower the learning rate further, add warm-up steps, or check the data and the model',
            );
          }
          meta.lrScale /= 2;
          const recovery: Recovery = {
            epoch: epoch + 1,
            step: failedStep,
            reason,
            loss: badLoss,
            restoredStep: meta.globalStep,
            lr: o.lr * meta.lrScale,
            ...collapsed,
          };
          meta.recoveries.push(recovery);
          o.onProgress?.({ type: 'recovery', recovery });
          continue;
        }
        for (let j = 0; j < k; j++) {
          const loss = losses[j] as number;
          meta.partial.lossSum += loss * bs;
          meta.partial.correct += corrects?.[j] ?? 0;
        }
        for (const c of step.carried) state.set(c.input, r[c.output] as Tensor);
        meta.partial.seen += k * bs;
        s += k;
        meta.stepInEpoch = s;
        meta.globalStep += k;
        lr = lrs[k - 1] as number;
        const before = collapse !== undefined && o.callbacks?.length ? [...state.values(), ...extraFeeds.values()] : undefined;
        for (const cb of o.callbacks ?? []) await cb.onStepEnd?.(context(epoch));
        // A callback that changed weights or masks (pruning, growing) moves the accuracy on purpose.
        if (before !== undefined && !sameValues(before, [...state.values(), ...extraFeeds.values()])) collapse?.reset();
        o.onProgress?.({
          type: 'step',
          epoch,
          step: s,
          stepsPerEpoch,
          loss: meta.partial.lossSum / meta.partial.seen,
          accuracy: meta.partial.correct / meta.partial.seen,
          lr,
        });
      }
      const seconds = (performance.now() - t0) / 1000;
      const samplesPerSec = ((stepsPerEpoch - firstStep) * bs) / Math.max(seconds, 1e-9);
      speeds.push(samplesPerSec);
      const record: EpochRecord = {
        epoch: epoch + 1,
        loss: meta.partial.lossSum / Math.max(1, meta.partial.seen),
        trainAccuracy: meta.partial.correct / Math.max(1, meta.partial.seen),
        lr,
        seconds,
        samplesPerSec,
      };
      if (o.validation !== undefined) {
        const v = await evaluate(materialize(model, step, state), o.validation, { normalization: o.normalization, threads: o.threads });
        record.valLoss = v.loss;
        record.valAccuracy = v.accuracy;
        if (schedule.schedule.kind === 'plateau') meta.plateau = updatePlateau(schedule.schedule, meta.plateau, v.loss);
        if (v.loss < meta.bestValLoss) {
          meta.bestValLoss = v.loss;
          meta.badEpochs = 0;
        } else meta.badEpochs++;
      }
      for (const cb of o.callbacks ?? []) await cb.onEpochEnd?.({ ...context(epoch), record });
      meta.history.push(record);
      meta.epoch++;
      meta.stepInEpoch = 0;
      meta.partial = { lossSum: 0, correct: 0, seen: 0 };
      save();
      o.onProgress?.({ type: 'epoch', record });
      if (o.earlyStoppingPatience !== undefined && meta.badEpochs > o.earlyStoppingPatience) {
        status = 'early-stopped';
        break;
      }
    }
  } finally {
    await session.release();
  }
  return {
    model: materialize(model, step, state),
    history: meta.history,
    epochs: meta.epoch,
    status,
    samplesPerSec: median(speeds),
    recoveries: meta.recoveries,
  };
}
