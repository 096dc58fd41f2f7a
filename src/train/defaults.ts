// Training defaults per model family: what `whittle train --model NAME` uses for the settings the
// command line leaves out, and what a library user can spread into `train`'s options. Each family's
// values were chosen on the validation split (`valAccuracy`), never on the test set.
import type { Normalization } from '../data/index.js';

/** Model families with their own defaults; every other model (and any .onnx file) is 'default'. */
export type TrainingFamily = 'mlp' | 'default';

export interface TrainingDefaults {
  family: TrainingFamily;
  batchSize: number;
  /** Peak learning rate (after the warm-up; cosine decay to 0 over the run). */
  lr: number;
  /** An optimizer name as `optimizerFromName` takes it. */
  optimizer: 'momentum' | 'nesterov' | 'sgd' | 'adam' | 'adamw' | 'rmsprop';
  /** The input normalization a new model is trained (and recorded) with. */
  normalization: Normalization;
}

/**
 * The defaults every family starts from: batch 64, SGD with momentum 0.9 at lr 0.05, pixels / 255.
 * LeNet-5 reaches at least 98.63% test accuracy in one epoch with them (median 98.69%, seeds 0–9).
 */
const BASE: Omit<TrainingDefaults, 'family'> = { batchSize: 64, lr: 0.05, optimizer: 'momentum', normalization: 'x/255' };

/**
 * Fully connected nets (`lenet-300-100`, `mlp:…`) learn more per epoch from more, smaller steps
 * and from zero-mean, unit-variance inputs (whose larger values want a lower learning rate: at lr
 * 0.05, batch 16 they collapsed to chance). LeNet-300-100, one epoch, validation accuracy, mean of
 * seeds 0–2: the general defaults 96.45%; batch 32 97.08%; mean/std 97.09%; both 96.91%; mean/std
 * with Nesterov at lr 0.03: batch 64 97.08%, batch 32 **97.29%** (chosen); lr 0.1 / 0.2 at batch
 * 64 96.99% / 96.63%; Adam lr 0.001 95.62%. Two epochs at the general defaults: 97.54% (seeds 0–1).
 * Confirmed once on the test set, one epoch, seeds 0–9: 97.19–97.40% (median 97.27%; the general
 * defaults gave 96.45–96.69%), short of 98%.
 */
const FAMILY: Record<TrainingFamily, Omit<TrainingDefaults, 'family'>> = {
  default: BASE,
  mlp: { batchSize: 32, lr: 0.03, optimizer: 'nesterov', normalization: 'mnist-mean-std' },
};

/** The family of a zoo name (`lenet-300-100`, `mlp:784-100-10`, ...); a model file is 'default'. */
export function trainingFamily(model: string): TrainingFamily {
  const base = model.split(':')[0] ?? '';
  return base === 'lenet-300-100' || base === 'mlp' ? 'mlp' : 'default';
}

/**
 * Training defaults for a zoo model name (or 'default' ones for anything else).
 *
 * ```ts
 * const d = trainingDefaults('lenet-300-100');
 * await train(createModel('lenet-300-100'), data, {
 *   epochs: 1, batchSize: d.batchSize, lr: d.lr, optimizer: optimizerFromName(d.optimizer), normalization: d.normalization,
 * });
 * ```
 */
export function trainingDefaults(model: string): TrainingDefaults {
  const family = trainingFamily(model);
  return { family, ...FAMILY[family] };
}
