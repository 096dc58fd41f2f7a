// Running models on a `TensorDataset`: output agreement between a model and a reference (e.g. a
// quantized model and its float original), and accuracy where the data has labels.
import type { TensorDataset } from '../data/index.js';
import { castData, feedInputs, fixedBatchSize, runBatches, tensorSource } from '../data/index.js';
import { WhittleError } from '../ir/errors.js';
import type { Model } from '../ir/graph.js';
import { fromHalfBits } from '../ir/half.js';
import { Tensor } from '../ir/tensor.js';
import type { Backend } from '../runtime/session.js';
import type { SessionLease } from '../runtime/session.js';
import { sharedSessions } from '../runtime/session.js';
import type { OutputAgreement } from './agreement.js';
import { AgreementMeter, correctPredictions } from './agreement.js';

/** Options of `compareModels` and `evaluateTensors`. */
export interface CompareOptions {
  /** Samples per run; default 256, or the batch the model fixes. */
  batchSize?: number;
  threads?: number;
  backend?: Backend;
}

/** What `compareModels` measured. */
export interface ModelComparison {
  samples: number;
  /** Where the inputs came from: the dataset's source (`random` for random inputs). */
  source: string;
  /** One entry per output of the model, matched to the reference's by name (else by position). */
  outputs: OutputAgreement[];
  /** With labels: the model's accuracy on the first [N, C] class-score output. */
  accuracy: number | undefined;
  referenceAccuracy: number | undefined;
}

/** An output tensor's values as numbers (float16 decoded, int64 converted). */
export function outputValues(t: Tensor): ArrayLike<number> {
  if (t.dtype === 'float16') return Float64Array.from(t.data as Uint16Array, fromHalfBits);
  if (t.data instanceof BigInt64Array || t.data instanceof BigUint64Array) return Float64Array.from(t.data, Number);
  // bfloat16 is the top half of a float32.
  if (t.dtype === 'bfloat16') return new Float32Array(Uint32Array.from(t.data as Uint16Array, (h) => h << 16).buffer);
  return t.data as Exclude<typeof t.data, BigInt64Array | BigUint64Array>;
}

/**
 * Whether output `k` of `model` holds class scores on axis 1 for each sample on axis 0 (so top-1
 * agreement and accuracy apply): float, [N, C ≥ 2, ...], its axis 0 the batch of `batch` samples,
 * and not declared with a fixed first dimension where the input's is free. A recurrent state
 * ([layers, N, hidden], Silero VAD's hn/cn) is not: cosine and errors only.
 */
function isClassScores(model: Model, k: number, t: Tensor, batch: number): boolean {
  if (!(t.dtype === 'float32' || t.dtype === 'float64' || t.dtype === 'float16') || t.dims.length < 2 || (t.dims[1] as number) < 2) return false;
  if (t.dims[0] !== batch) return false;
  const declared = model.graph.outputs[k]?.shape[0];
  const inputBatch = model.graph.inputs[0]?.shape[0];
  return !(typeof declared === 'number' && declared !== inputBatch);
}
const isPerSample = (model: Model, k: number, t: Tensor, batch: number): boolean => isClassScores(model, k, t, batch) && t.dims.slice(2).every((d) => d === 1);

/** Samples in a batch of feeds: the first input's first dimension. */
const batchOf = (feeds: Record<string, Tensor>): number => Object.values(feeds)[0]?.dims[0] ?? 1;

// Feeds for `model`: the data's inputs by name (else by position), cast to the model's dtypes.
function feedsFor(model: Model, feeds: Record<string, Tensor>, data: TensorDataset): Record<string, Tensor> {
  const out: Record<string, Tensor> = {};
  feedInputs(model).forEach((info, k) => {
    const t = feeds[info.name] ?? feeds[data.inputs[k]?.name ?? ''];
    if (t === undefined)
      throw new WhittleError(
        'BAD_DATA',
        `${data.source} has no data for input "${info.name}" of the model; the data has ${data.inputs.map((i) => `"${i.name}"`).join(', ')}`,
      );
    out[info.name] = t.dtype === info.dtype ? t : new Tensor(info.dtype, t.dims, castData(t.data, t.dtype, info.dtype, `input "${info.name}"`));
  });
  return out;
}

function batchSizeFor(models: Model[], options: CompareOptions): number {
  const fixed = models.map(fixedBatchSize).filter((b): b is number => b !== undefined);
  if (fixed.length > 1 && fixed.some((b) => b !== fixed[0]))
    throw new WhittleError('SHAPE_MISMATCH', `the models fix different batch sizes (${fixed.join(' and ')}); compare models with the same input shapes`);
  return fixed[0] ?? options.batchSize ?? 256;
}

async function forEachBatch(
  models: Model[],
  data: TensorDataset,
  options: CompareOptions,
  visit: (outputs: Record<string, Tensor>[], labels: Int32Array | undefined, batch: number) => void,
): Promise<void> {
  const bs = batchSizeFor(models, options);
  // The reference compared against again and again (a keep-float search) keeps its session.
  const sessions: SessionLease[] = [];
  try {
    for (const m of models) sessions.push(await sharedSessions.acquire(m, { threads: options.threads, backend: options.backend }));
    await runBatches(tensorSource(data), { batchSize: bs }, async ({ feeds, labels }) => {
      const outs: Record<string, Tensor>[] = [];
      for (let k = 0; k < sessions.length; k++) outs.push(await (sessions[k] as SessionLease).session.run(feedsFor(models[k] as Model, feeds, data)));
      visit(outs, labels, batchOf(feeds));
    });
  } finally {
    for (const s of sessions) await s.release();
  }
}

/**
 * Runs `model` and `reference` on the same samples and measures, per output, how well the model
 * follows the reference: top-1 agreement (class scores), cosine similarity, max/mean absolute
 * error and SQNR; with labels, both accuracies.
 *
 * ```ts
 * const cmp = await compareModels(quantized, float, loadDataForModel(float, 'calib.npz'));
 * cmp.outputs[0]?.top1; // e.g. 0.995
 * ```
 */
export async function compareModels(model: Model, reference: Model, data: TensorDataset, options: CompareOptions = {}): Promise<ModelComparison> {
  const names = model.graph.outputs.map((o) => o.name);
  const refNames = reference.graph.outputs.map((o) => o.name);
  if (names.length !== refNames.length)
    throw new WhittleError(
      'SHAPE_MISMATCH',
      `the model has ${names.length} outputs (${names.join(', ')}), the reference ${refNames.length} (${refNames.join(', ')}); compare a model with its own original`,
    );
  const pair = names.map((n, k) => (refNames.includes(n) ? n : (refNames[k] as string)));
  let meters: AgreementMeter[] | undefined;
  let correct = 0;
  let refCorrect = 0;
  let scored: number | undefined;
  await forEachBatch([model, reference], data, options, ([out, ref], labels, batch) => {
    const o = out as Record<string, Tensor>;
    const r = ref as Record<string, Tensor>;
    meters ??= names.map((n, k) => new AgreementMeter(n, isClassScores(model, k, o[n] as Tensor, batch)));
    names.forEach((n, k) => {
      const a = o[n] as Tensor;
      const b = r[pair[k] as string] as Tensor;
      if (a.dims.join(',') !== b.dims.join(','))
        throw new WhittleError(
          'SHAPE_MISMATCH',
          `output "${n}" is [${a.dims.join(', ')}] but the reference's "${pair[k]}" is [${b.dims.join(', ')}]; compare a model with its own original`,
        );
      (meters as AgreementMeter[])[k]?.add(outputValues(a), outputValues(b), a.dims);
    });
    if (labels !== undefined) {
      scored ??= names.findIndex((n, k) => isPerSample(model, k, o[n] as Tensor, batch));
      const n = names[scored];
      if (n !== undefined) {
        const a = o[n] as Tensor;
        correct += correctPredictions(outputValues(a), [a.dims[0] as number, a.dims[1] as number], labels);
        refCorrect += correctPredictions(outputValues(r[pair[scored] as string] as Tensor), [a.dims[0] as number, a.dims[1] as number], labels);
      }
    }
  });
  const hasAccuracy = data.labels !== undefined && scored !== undefined && scored >= 0;
  return {
    samples: data.count,
    source: data.source,
    outputs: (meters ?? []).map((m) => m.result()),
    accuracy: hasAccuracy ? correct / data.count : undefined,
    referenceAccuracy: hasAccuracy ? refCorrect / data.count : undefined,
  };
}

/**
 * Runs a model on the samples: the shape of each output and, with labels, the accuracy of the
 * first [N, C] class-score output.
 *
 * ```ts
 * const { accuracy } = await evaluateTensors(model, loadDataForModel(model, 'val/'));
 * ```
 */
export async function evaluateTensors(
  model: Model,
  data: TensorDataset,
  options: CompareOptions = {},
): Promise<{ samples: number; accuracy: number | undefined; outputs: { name: string; dtype: string; dims: number[] }[] }> {
  let correct = 0;
  let scored: number | undefined;
  let outputs: { name: string; dtype: string; dims: number[] }[] = [];
  const names = model.graph.outputs.map((o) => o.name);
  await forEachBatch([model], data, options, ([out], labels, batch) => {
    const o = out as Record<string, Tensor>;
    // Per-sample shapes, with the batch axis as the sample count.
    outputs = names.map((n) => ({ name: n, dtype: (o[n] as Tensor).dtype, dims: [data.count, ...(o[n] as Tensor).dims.slice(1)] }));
    if (labels === undefined) return;
    scored ??= names.findIndex((n, k) => isPerSample(model, k, o[n] as Tensor, batch));
    const a = o[names[scored] ?? ''];
    if (a !== undefined) correct += correctPredictions(outputValues(a), [a.dims[0] as number, a.dims[1] as number], labels);
  });
  return { samples: data.count, accuracy: data.labels !== undefined && scored !== undefined && scored >= 0 ? correct / data.count : undefined, outputs };
}
