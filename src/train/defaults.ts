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
  /** Label smoothing ε of the cross-entropy (0: none). */
  labelSmoothing: number;
}

/**
 * The defaults every family starts from: batch 64, SGD with momentum 0.9 at lr 0.05, pixels / 255.
 * LeNet-5 reaches at least 98.63% test accuracy in one epoch with them (median 98.69%, seeds 0–9);
 * `resnet-cifar` at least 98.04% (seeds 0–5 98.04–98.35%; seeds 6–9 98.16 / 98.14 / 98.39 / 98.43%
 * at --threads 1, no recoveries).
 */
const BASE: Omit<TrainingDefaults, 'family'> = { batchSize: 64, lr: 0.05, optimizer: 'momentum', normalization: 'x/255', labelSmoothing: 0 };

/**
 * Fully connected nets (`lenet-300-100`, `mlp:…`) learn more per epoch from more, smaller steps
 * and from zero-mean, unit-variance inputs (whose larger values want a lower learning rate: at lr
 * 0.05, batch 16 they collapsed to chance). LeNet-300-100, one epoch, validation accuracy, mean of
 * seeds 0–2: the general defaults 96.45%; batch 32 97.08%; mean/std 97.09%; both 96.91%; mean/std
 * with Nesterov at lr 0.03: batch 64 97.08%, batch 32 97.29%; lr 0.1 / 0.2 at batch 64 96.99% /
 * 96.63%; Adam lr 0.001 95.62%. Two epochs at the general defaults: 97.54% (seeds 0–1).
 * Confirmed once on the test set, one epoch, seeds 0–9: 97.19–97.40% (median 97.27%; the general
 * defaults gave 96.45–96.69%), short of 98%.
 *
 * Second sweep from there (mean/std, Nesterov, batch 32, lr 0.03, warm-up + cosine: 97.31%; every
 * other setting as that one): batch 16 at lr 0.02 / 0.03 97.31 / 96.97%; batch 8 at lr 0.01 /
 * 0.02 97.28 / 96.32%; batch 64 lr 0.05 97.29%; lr 0.05 97.08%; momentum 0.95 at lr 0.02 97.13%;
 * Adam lr 2e-3 / 1e-3 97.19 / 96.89% (batch 16, 1e-3: 97.11%); AdamW lr 2e-3 decay 0.01 97.32%;
 * L2 weight decay 5e-4 97.27%; no warm-up 97.21%; 400 warm-up steps at lr 0.04 97.29%; the
 * weights averaged over the last half of the epoch 97.27%, over the last fifth 97.26%, an EMA of
 * them 97.31% (no gain: the cosine decay to 0 already averages); label smoothing 0.05 / 0.1 / 0.2
 * 97.32 / **97.49** / 97.22%. Label smoothing 0.1 takes a higher rate: lr 0.05 97.47% (batch 16
 * lr 0.02 97.40%, batch 64 lr 0.05 97.28%, AdamW 97.40%). Seeds 0–5: lr 0.03 without smoothing
 * 97.27%; with 0.1 at lr 0.04 / 0.05 / **0.07** / 0.1 / 0.15: 97.45 / 97.51 / **97.64** / 97.39 /
 * 96.83%; 0.15 at lr 0.05 97.52%, 0.2 at lr 0.1 97.52%. Chosen: label smoothing 0.1, lr 0.07.
 * (Sweep runs: the library at 1 thread; the CLI's default 2 threads round differently and land
 * within ±0.3 points per seed: validation 97.68 / 97.70 / 97.20% for seeds 0–2 at the chosen ones.)
 * Confirmed once on the test set, one epoch, seeds 0–9 (`whittle train --model lenet-300-100
 * --epochs 1 --seed S`): 97.35–97.69% (median 97.58%; was 97.19–97.40%, median 97.27%), still short
 * of 98%: nothing tried moved the validation mean by more than 0.4 points, so one pass over 54,000
 * images bounds this 784-300-100-10 net near 97.6% (it reaches 98.5% in 15 epochs).
 * Untried: gradient clipping, other weight initializations.
 */
const FAMILY: Record<TrainingFamily, Omit<TrainingDefaults, 'family'>> = {
  default: BASE,
  mlp: { batchSize: 32, lr: 0.07, optimizer: 'nesterov', normalization: 'mnist-mean-std', labelSmoothing: 0.1 },
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
 *   labelSmoothing: d.labelSmoothing,
 * });
 * ```
 */
export function trainingDefaults(model: string): TrainingDefaults {
  const family = trainingFamily(model);
  return { family, ...FAMILY[family] };
}
