// Knowledge distillation as one library call: the student trained on the teacher's soft targets
// (and hint layers), optionally beside the same student trained alone, both measured on the test
// split; settings are compared on the validation accuracy, never on the test one.
import type { Dataset, Normalization, TensorDataset } from '../data/index.js';
import { distillStudent } from '../compress/distill/index.js';
import type { Hint } from '../compress/distill/index.js';
import { masksFromZeros } from '../compress/prune/magnitude.js';
import type { Model } from '../ir/graph.js';
import type { Tensor } from '../ir/tensor.js';
import { evaluate } from '../train/evaluate.js';
import type { TrainOptions, TrainResult } from '../train/trainer.js';
import { train } from '../train/trainer.js';
import type { PipelineListener } from './events.js';

export interface DistillModelOptions {
  /** Trainer options of the student (the pipeline adds validation, progress, masks). */
  train: Omit<TrainOptions, 'validation' | 'onProgress'>;
  /** Softmax temperature T; default 4. */
  temperature?: number;
  /** Weight α of the soft-target loss (labels get 1 − α); default 0.7. */
  alpha?: number;
  /** Student tensors matched to teacher tensors through learned adapters. */
  hints?: readonly Hint[];
  /**
   * The input normalization the teacher was trained with, when it differs from the student's
   * (`train.normalization`): each batch is converted to it for the teacher. Default: the student's.
   */
  teacherNormalization?: Normalization;
  /** A pruned student: hold its zero weights at zero while distilling. */
  keepZeros?: boolean;
  /** Also train the student alone (same seed, epochs, optimizer) for comparison. */
  baseline?: boolean;
  onEvent?: PipelineListener;
}

export interface StudentResult {
  model: Model;
  /** Test accuracy and errors (reported only). */
  accuracy: number;
  errors: number;
  /** Validation accuracy of the last epoch: what settings are compared on. */
  valAccuracy: number | undefined;
  training: TrainResult;
}

export interface DistillModelResult extends StudentResult {
  /** With `baseline`: the student trained alone. */
  baseline?: StudentResult;
}

/**
 * Distills `teacher` into `student` on `data.train`, validating on `data.validation` and measuring
 * on `data.test`.
 *
 * ```ts
 * const r = await distillModel(teacher, createModel('mlp:784-30-10'), { train, validation, test }, {
 *   train: { epochs: 10, batchSize: 64, lr: 0.05, optimizer: { kind: 'sgd', momentum: 0.9 }, normalization: 'x/255' },
 *   temperature: 4, alpha: 0.7, baseline: true,
 * });
 * console.log(r.errors, r.baseline?.errors);
 * ```
 */
export async function distillModel(
  teacher: Model,
  student: Model,
  data: { train: Dataset | TensorDataset; validation: Dataset | TensorDataset; test: Dataset | TensorDataset },
  options: DistillModelOptions,
): Promise<DistillModelResult> {
  const masks = options.keepZeros ? masksFromZeros(student) : new Map<string, Tensor>();
  const onEvent = options.onEvent;
  const trainOptions = (stage: string): TrainOptions => ({
    ...options.train,
    validation: data.validation,
    onProgress: onEvent === undefined ? undefined : (event) => onEvent({ type: 'train', stage, event }),
    step: { ...options.train.step, masked: [...(options.train.step?.masked ?? []), ...masks.keys()] },
    extraFeeds: new Map([...(options.train.extraFeeds ?? []), ...[...masks].map(([w, m]) => [`${w}.mask`, m] as const)]),
  });
  const measure = async (training: TrainResult): Promise<StudentResult> => {
    const r = await evaluate(training.model, data.test, { normalization: options.train.normalization, threads: options.train.threads });
    const valAccuracy = training.history[training.history.length - 1]?.valAccuracy;
    return { model: training.model, accuracy: r.accuracy, errors: r.samples - r.correct, valAccuracy, training };
  };
  const distilled = await measure(
    await distillStudent(teacher, student, data.train, trainOptions('distill'), {
      temperature: options.temperature,
      alpha: options.alpha,
      hints: options.hints,
      ...(options.teacherNormalization !== undefined ? { normalization: { student: options.train.normalization, teacher: options.teacherNormalization } } : {}),
    }),
  );
  if (!options.baseline) return distilled;
  const alone = await measure(await train(student, data.train, trainOptions('alone')));
  return { ...distilled, baseline: alone };
}
