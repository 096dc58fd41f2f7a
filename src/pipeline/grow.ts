// Growing and merging as library calls: function-preserving growth (Net2WiderNet/Net2DeeperNet)
// or training that grows when validation accuracy plateaus; neuron merging with optional
// fine-tuning. Each measures the change of the outputs and the test accuracy it reports.
import type { Dataset, TensorDataset } from '../data/index.js';
import { deepen, growWhenStuck, widen } from '../compress/grow/index.js';
import type { GrowResult } from '../compress/grow/index.js';
import { maxAbsOutputChange, mergeNeurons } from '../compress/merge/index.js';
import type { MergeOptions } from '../compress/merge/index.js';
import { WhittleError } from '../ir/errors.js';
import type { Model } from '../ir/graph.js';
import { evaluate } from '../train/evaluate.js';
import type { TrainOptions } from '../train/trainer.js';
import { train } from '../train/trainer.js';
import type { PipelineListener, TrainSettings } from './events.js';
import { runOptions } from './events.js';

/** Test samples on which growing and merging measure the change of the outputs. */
export const OUTPUT_CHANGE_SAMPLES = 1000;

export interface GrowModelOptions {
  /** Target width per layer, e.g. { fc1: 600 }. */
  widen?: Readonly<Record<string, number>>;
  /** Insert an identity layer after this one. */
  deepenAfter?: string;
  /** Replicated units: zero-sum noise on the split outgoing weights; default 0. */
  noise?: number;
  /** New units: replicate existing ones (default without training) or random with zero outgoing weights. */
  init?: 'replicate' | 'random';
  seed?: number;
  /**
   * Train with these options and widen toward `widen` whenever validation accuracy plateaus,
   * instead of growing at once.
   */
  whenStuck?: { train: Omit<TrainOptions, 'validation' | 'onProgress'>; steps?: number; checksPerEpoch?: number; deadline?: number };
  normalization: TrainOptions['normalization'];
  threads?: number;
  onEvent?: PipelineListener;
}

export interface GrowModelResult {
  model: Model;
  /** Test accuracy and errors of the grown model. */
  accuracy: number;
  errors: number;
  /** Without training: the largest change of any output on the test samples (0 up to rounding). */
  maxAbsOutputChange?: number;
  /** With `whenStuck`: when it grew and the validation history. */
  events?: GrowResult['events'];
  history?: GrowResult['history'];
}

/**
 * Grows a model: at once (the function is unchanged), or while training when it is stuck.
 *
 * ```ts
 * const r = await growModel(model, { test }, { widen: { fc1: 600 }, normalization: 'x/255' });
 * console.log(r.maxAbsOutputChange); // ~1e-6
 * ```
 */
export async function growModel(
  model: Model,
  data: { train?: Dataset | TensorDataset; validation?: Dataset | TensorDataset; test: Dataset | TensorDataset },
  o: GrowModelOptions,
): Promise<GrowModelResult> {
  const widths = Object.entries(o.widen ?? {});
  if (widths.length === 0 && o.deepenAfter === undefined)
    throw new WhittleError('BAD_ARGUMENT', 'say how to grow: options.widen { layer: width } and/or options.deepenAfter');
  const run = { normalization: o.normalization, threads: o.threads };
  let grown = model;
  let extra: Partial<GrowModelResult> = {};
  if (o.whenStuck !== undefined) {
    if (widths.length === 0) throw new WhittleError('BAD_ARGUMENT', 'options.whenStuck needs the target widths as options.widen { layer: width }');
    if (data.train === undefined || data.validation === undefined)
      throw new WhittleError('BAD_ARGUMENT', 'options.whenStuck trains: pass training and validation data (data.train, data.validation)');
    const on = o.onEvent;
    const r = await growWhenStuck(
      model,
      data.train,
      { ...o.whenStuck.train, onProgress: on === undefined ? undefined : (event) => on({ type: 'train', stage: 'grow', event }) },
      {
        targets: Object.fromEntries(widths),
        validation: data.validation,
        steps: o.whenStuck.steps,
        checksPerEpoch: o.whenStuck.checksPerEpoch,
        deadline: o.whenStuck.deadline,
        noise: o.noise || undefined,
        init: o.init,
      },
    );
    grown = r.model;
    extra = { events: r.events, history: r.history };
  } else {
    for (const [layer, width] of widths) grown = widen(grown, { layer, width, noise: o.noise, init: o.init, seed: o.seed });
    if (o.deepenAfter !== undefined) grown = deepen(grown, { after: o.deepenAfter });
    extra = { maxAbsOutputChange: await maxAbsOutputChange(model, grown, data.test, { ...run, limit: OUTPUT_CHANGE_SAMPLES }) };
  }
  const t = await evaluate(grown, data.test, run);
  return { model: grown, accuracy: t.accuracy, errors: t.samples - t.correct, ...extra };
}

export interface MergeModelOptions extends Omit<MergeOptions, 'calibration'> {
  /** Activation criterion: training samples measured; default 2000. */
  calibrationSamples?: number;
  /** Fine-tune the merged model for this many epochs; default 0. */
  fineTuneEpochs?: number;
  /** Settings of the fine-tuning run. */
  train: TrainSettings;
  onEvent?: PipelineListener;
}

export interface MergeModelResult {
  model: Model;
  widthBefore: number;
  widthAfter: number;
  /** Test accuracy of the input, right after merging, and after fine-tuning. */
  accuracyBefore: number;
  accuracyMerged: number;
  accuracyFineTuned: number | undefined;
  /** Largest change of any output on the test samples, right after merging. */
  maxAbsOutputChange: number;
}

/**
 * Merges the most similar units of a layer, then optionally fine-tunes.
 *
 * ```ts
 * const r = await mergeModel(model, { train, test }, { layer: 'fc1', ratio: 0.5, train: { batchSize: 64, lr: 0.01, optimizer: { kind: 'sgd', momentum: 0.9 }, normalization: 'x/255' } });
 * ```
 */
export async function mergeModel(
  model: Model,
  data: { train: Dataset | TensorDataset; test: Dataset | TensorDataset },
  o: MergeModelOptions,
): Promise<MergeModelResult> {
  const { calibrationSamples, fineTuneEpochs = 0, train: settings, onEvent, ...merge } = o;
  const run = { normalization: settings.normalization, threads: settings.threads };
  const r = await mergeNeurons(model, { ...merge, calibration: { data: data.train, ...run, samples: calibrationSamples ?? 2000 } });
  const accuracyBefore = (await evaluate(model, data.test, run)).accuracy;
  const accuracyMerged = (await evaluate(r.model, data.test, run)).accuracy;
  const change = await maxAbsOutputChange(model, r.model, data.test, { ...run, limit: OUTPUT_CHANGE_SAMPLES });
  let final = r.model;
  let accuracyFineTuned: number | undefined;
  if (fineTuneEpochs > 0) {
    final = (await train(r.model, data.train, runOptions(settings, fineTuneEpochs, 'fine-tune', onEvent))).model;
    accuracyFineTuned = (await evaluate(final, data.test, run)).accuracy;
  }
  return {
    model: final,
    widthBefore: r.widthBefore,
    widthAfter: r.widthAfter,
    accuracyBefore,
    accuracyMerged,
    accuracyFineTuned,
    maxAbsOutputChange: change,
  };
}
