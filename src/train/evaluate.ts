import type { BatchSource, Dataset, Normalization, TensorDataset } from '../data/index.js';
import { checkLabelRange, imageSource, isTensorDataset, NORMALIZATIONS, runBatches, tensorSource } from '../data/index.js';
import { WhittleError } from '../ir/errors.js';
import type { Model } from '../ir/graph.js';
import type { Tensor } from '../ir/tensor.js';
import type { Backend } from '../runtime/session.js';
import { sharedSessions } from '../runtime/session.js';
import { argmaxStrided } from './agreement.js';
import { outputValues } from './compare.js';

export interface EvalOptions {
  /** How image bytes become floats; a `TensorDataset`'s values are fed as they are. */
  normalization: Normalization;
  batchSize?: number;
  threads?: number;
  /** Evaluate only the first `limit` samples. */
  limit?: number;
  /** onnxruntime-node (default) or onnxruntime-web's WebAssembly backend. */
  backend?: Backend;
}

export interface EvalResult {
  accuracy: number;
  loss: number;
  samples: number;
  correct: number;
}

/**
 * Accuracy and mean cross-entropy of a classifier on a dataset: image bytes (MNIST, CIFAR) or a
 * labelled `TensorDataset` (an .npz, an image folder with class sub-folders).
 *
 * ```ts
 * const { accuracy } = await evaluate(model, mnist.test, { normalization: 'x/255' });
 * ```
 */
export async function evaluate(model: Model, ds: Dataset | TensorDataset, options: EvalOptions): Promise<EvalResult> {
  const inputInfo = model.graph.inputs[0];
  if (inputInfo === undefined) throw new WhittleError('INVALID_GRAPH', 'the model has no input');
  const output = model.graph.outputs[0];
  if (output === undefined) throw new WhittleError('INVALID_GRAPH', 'the model has no output');
  checkInputShape(model, ds);
  // The model's own graph, scored here rather than in an extended copy: its session is the one
  // an output comparison of the same model uses (and the same graph evaluated again, validation
  // then test, reuses it), where a copy would be a second compilation of the whole graph.
  const lease = await sharedSessions.acquire(model, { threads: options.threads, backend: options.backend });
  let loss = 0;
  let correct = 0;
  let n = 0;
  try {
    const source = batchSource(model, ds, options.normalization);
    n = await runBatches(source, { batchSize: options.batchSize ?? 1000, limit: options.limit }, async ({ feeds, labels }) => {
      const r = await lease.session.run(feeds, [output.name]);
      const scores = r[output.name];
      if (scores === undefined || labels === undefined) throw new WhittleError('RUNTIME', `onnxruntime returned no "${output.name}" for the batch`);
      const s = scoreBatch(outputValues(scores), labels);
      loss += s.loss;
      correct += s.correct;
    });
  } finally {
    await lease.release();
  }
  return { accuracy: correct / n, loss: loss / n, samples: n, correct };
}

/**
 * The model's top-1 class for every sample of `ds` (the first maximum on ties, as ONNX ArgMax):
 * labels for samples that come without any, so that accuracy against them is the top-1 agreement
 * with this model. A classifier's first output, [N, classes].
 *
 * ```ts
 * const labelled = { ...unlabelled, labels: await predictLabels(teacher, unlabelled, { threads: 1 }) };
 * ```
 */
export async function predictLabels(model: Model, ds: TensorDataset, options: { threads?: number; backend?: Backend } = {}): Promise<Int32Array> {
  const output = model.graph.outputs[0];
  if (output === undefined) throw new WhittleError('INVALID_GRAPH', 'the model has no output');
  const out = new Int32Array(ds.count);
  const lease = await sharedSessions.acquire(model, { threads: options.threads, backend: options.backend });
  let at = 0;
  try {
    await runBatches(tensorSource({ ...ds, labels: undefined }, { inputs: classifierFeedName(model, ds) }), { batchSize: 1000 }, async ({ feeds }) => {
      const scores = (await lease.session.run(feeds, [output.name]))[output.name];
      const [n, classes] = scores?.dims ?? [];
      if (scores === undefined || scores.dims.length !== 2 || n === undefined || classes === undefined)
        throw new WhittleError('BAD_ARGUMENT', `labels from "${output.name}" need class scores [N, classes]; it gave [${scores?.dims.join(', ') ?? ''}]`);
      const v = outputValues(scores);
      for (let i = 0; i < n; i++) out[at + i] = argmaxStrided(v, i * classes, classes, 1);
      at += n;
    });
  } finally {
    await lease.release();
  }
  return out;
}

/**
 * The one batch runner's source for feeding `model` from either kind of data: image bytes
 * normalized in JS and shaped for the model's input, or a `TensorDataset`'s tensors as they are
 * (its labels along, when it has them).
 *
 * ```ts
 * await runBatches(batchSource(model, ds, 'x/255'), { batchSize: 256 }, async ({ feeds }) => session.run(feeds));
 * ```
 */
export function batchSource(model: Model, ds: Dataset | TensorDataset, normalization: Normalization): BatchSource {
  const input = model.graph.inputs[0]?.name ?? 'input';
  if (!isTensorDataset(ds)) return imageSource(ds, { input, normalization, shape: inputDims(model, ds) });
  return tensorSource(ds, { inputs: classifierFeedName(model, ds) });
}

/**
 * A one-input model fed from a dataset of one batched input under another name (samples read for
 * a teacher, fed to its student): that input under the model's name. Empty otherwise.
 */
function classifierFeedName(model: Model, ds: TensorDataset): Record<string, string> {
  const batched = ds.inputs.filter((t) => t.shared !== true);
  const input = model.graph.inputs[0]?.name;
  const only = batched.length === 1 ? batched[0] : undefined;
  return model.graph.inputs.length === 1 && only !== undefined && input !== undefined && only.name !== input ? { [only.name]: input } : {};
}

/**
 * Summed softmax cross-entropy and the count of correct top-1 predictions of a batch of class
 * scores (`labels.length` rows of equal length), as onnxruntime's SoftmaxCrossEntropyLoss and
 * ArgMax (first maximum wins) compute them.
 */
export function scoreBatch(scores: ArrayLike<number>, labels: ArrayLike<number>): { loss: number; correct: number } {
  const rows = labels.length;
  const classes = rows === 0 ? 0 : scores.length / rows;
  if (!Number.isInteger(classes) || classes < 1)
    throw new WhittleError('SHAPE_MISMATCH', `the model's first output has ${scores.length} values for ${rows} samples; a classifier's output is [N, classes]`);
  let loss = 0;
  let correct = 0;
  for (let r = 0; r < rows; r++) {
    const at = r * classes;
    let best = 0;
    let max = scores[at] as number;
    for (let c = 1; c < classes; c++) {
      const v = scores[at + c] as number;
      if (v > max) [max, best] = [v, c];
    }
    let sum = 0;
    for (let c = 0; c < classes; c++) sum += Math.exp((scores[at + c] as number) - max);
    const label = labels[r] as number;
    loss += max + Math.log(sum) - (scores[at + label] as number);
    if (best === label) correct++;
  }
  return { loss, correct };
}

/** The per-sample dims the model's input wants, e.g. [1, 28, 28] or [784]. */
export function inputDims(model: Model, ds: Dataset | TensorDataset): number[] {
  const shape = model.graph.inputs[0]?.shape ?? [];
  const per = shape.slice(1);
  if (per.every((d): d is number => typeof d === 'number')) return per;
  return [...sampleShape(ds)];
}

/** The per-sample shape of an image dataset, or of a `TensorDataset`'s one batched input. */
function sampleShape(ds: Dataset | TensorDataset): readonly number[] {
  if (!isTensorDataset(ds)) return ds.shape;
  return ds.inputs.find((t) => t.shared !== true)?.shape ?? [];
}

/**
 * The first `count` samples of `ds` (cycled if it has fewer), shaped for the model's input: images
 * normalized by `normalization`, a `TensorDataset`'s one batched input as read.
 */
export function inputBatch(model: Model, ds: Dataset | TensorDataset, count: number, normalization: Normalization): Tensor {
  const name = model.graph.inputs[0]?.name ?? 'input';
  const feed = batchSource(model, ds, normalization).gather(Int32Array.from({ length: count }, (_, i) => i % ds.count)).feeds[name];
  if (feed === undefined)
    throw new WhittleError(
      'BAD_DATA',
      `${isTensorDataset(ds) ? ds.source : 'the images'} have no input named "${name}", the model's; name the data's input after it`,
    );
  return feed;
}

/** Throws a clear SHAPE_MISMATCH when the data cannot feed the model's input. */
export function checkInputShape(model: Model, ds: Dataset | TensorDataset): void {
  const info = model.graph.inputs[0];
  if (info === undefined) return;
  if (isTensorDataset(ds)) {
    // Classifiers take one input here (training and this evaluation): the dataset's one batched
    // input, fed under the model's input name (samples read for a teacher feed its student).
    const batched = ds.inputs.filter((t) => t.shared !== true);
    if (model.graph.inputs.length !== 1 || batched.length !== 1)
      throw new WhittleError(
        'BAD_DATA',
        `${ds.source}: a classifier's data is one input, fed as the model's "${info.name}"; the data has ${batched.map((t) => `"${t.name}"`).join(', ') || 'none'}`,
      );
    if (ds.labels === undefined)
      throw new WhittleError('BAD_DATA', `${ds.source} has no labels; give one class label per sample (an .npz's y, or class sub-folders)`);
  }
  const shape = sampleShape(ds);
  const per = info.shape.slice(1);
  const want = per.reduce<number>((a, d) => a * (typeof d === 'number' ? d : 1), 1);
  const have = shape.reduce((a, b) => a * b, 1);
  if (per.every((d) => typeof d === 'number') && want !== have) {
    throw new WhittleError(
      'SHAPE_MISMATCH',
      `model input "${info.name}" expects samples of shape [${per.join(', ')}] (${want} values) but the data has [${shape.join(', ')}] (${have}); use a model made for this dataset`,
    );
  }
  const classes = model.graph.outputs[0]?.shape.at(-1);
  if (typeof classes === 'number' && classes > 0) checkLabelRange(ds.labels ?? [], classes, 'the data');
}

/** One candidate of `chooseNormalization`: its accuracy and mean loss on the samples tried. */
export interface NormalizationTrial {
  normalization: Normalization;
  accuracy: number;
  loss: number;
}

/**
 * The input normalization under which a trained model that records none fits best: each of
 * `candidates` evaluated on `validation` (never the test set), the lowest cross-entropy winning,
 * then the higher accuracy. Loss rather than accuracy, because an untrained model is at chance
 * under every candidate while raw 0–255 pixels blow its loss (and its first steps) up.
 *
 * ```ts
 * const { normalization } = await chooseNormalization(model, split.validation); // 'mnist-mean-std' for a PyTorch export
 * ```
 */
export async function chooseNormalization(
  model: Model,
  validation: Dataset,
  options: { candidates?: readonly Normalization[]; threads?: number } = {},
): Promise<{ normalization: Normalization; trials: NormalizationTrial[] }> {
  const candidates = options.candidates ?? NORMALIZATIONS;
  const first = candidates[0];
  if (first === undefined) throw new WhittleError('BAD_ARGUMENT', 'chooseNormalization needs at least one candidate normalization');
  const trials: NormalizationTrial[] = [];
  for (const normalization of candidates) {
    const r = await evaluate(model, validation, { normalization, threads: options.threads });
    trials.push({ normalization, accuracy: r.accuracy, loss: r.loss });
  }
  let best = trials[0] as NormalizationTrial;
  for (const t of trials) if (t.loss < best.loss || (t.loss === best.loss && t.accuracy > best.accuracy)) best = t;
  return { normalization: best.normalization, trials };
}
