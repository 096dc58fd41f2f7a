// The one batch runner: every loop that feeds samples to a model — training, evaluation,
// calibration, activation probes, model comparison — takes its batches from a `BatchSource` and
// walks them with `runBatches`. A source turns sample indices into named input tensors (images
// normalized on the fly, `TensorDataset` rows, rows of one tensor); the runner owns the order,
// the limit and the batch boundaries. Running the model is the caller's (data/ knows no runtime).
import { WhittleError } from '../ir/errors.js';
import { sizeOf, Tensor } from '../ir/tensor.js';
import type { Normalization } from './batches.js';
import { normalizeBatch, parseNormalization } from './batches.js';
import type { Dataset } from './dataset.js';
import type { TensorDataset } from './tensor-dataset.js';
import { checkIndices, rows, sampleFeed } from './tensor-dataset.js';

/** Samples gathered for one run of a model. */
export interface SampleBatch {
  /** Named inputs, each [...lead, ...per-sample shape] (lead: [size], or e.g. [K, B] when stacked). */
  feeds: Record<string, Tensor>;
  /** The samples' class labels, when the source has them. */
  labels: Int32Array | undefined;
  /** Samples in the batch. */
  size: number;
}

/** Where batches come from: `count` samples, gathered by index. */
export interface BatchSource {
  readonly count: number;
  /**
   * The samples at `indices`, in that order. `lead` shapes the leading axes (default
   * [indices.length]; [K, B] stacks K batches of B for a Loop). A source made with `reuse`
   * returns views of buffers the next call overwrites.
   */
  gather(indices: ArrayLike<number>, lead?: readonly number[]): SampleBatch;
}

/** Options of `imageSource`. */
export interface ImageSourceOptions {
  /** The model input the images feed. */
  input: string;
  normalization: Normalization;
  /** Per-sample shape the model wants (default the dataset's; a flat shape of the same size takes the images flattened). */
  shape?: readonly number[];
  /** Also feed the labels as int64 [...lead] under this input name (training and loss graphs). */
  labelInput?: string;
  /** Gather into buffers kept between calls (the training loop: no allocation per step). */
  reuse?: boolean;
  /**
   * Feed the raw pixel bytes as uint8 instead of normalized float32 (a graph that normalizes
   * in-graph by `normalizationAffine`): a byte copy per sample instead of a per-pixel conversion.
   */
  bytes?: boolean;
}

const BIGINT_BYTES: bigint[] = Array.from({ length: 256 }, (_, v) => BigInt(v));

function leadOf(indices: ArrayLike<number>, lead: readonly number[] | undefined): number[] {
  const dims = lead === undefined ? [indices.length] : [...lead];
  if (sizeOf(dims) !== indices.length) {
    throw new WhittleError('BAD_ARGUMENT', `batch shape [${dims.join(', ')}] holds ${sizeOf(dims)} samples but ${indices.length} indices were given`);
  }
  return dims;
}

/**
 * An image `Dataset` as a batch source: pixels normalized to float32 as the model input, labels
 * as class indices (and as int64 feeds with `labelInput`).
 *
 * ```ts
 * const src = imageSource(mnist.test, { input: 'input', normalization: 'x/255', labelInput: 'labels' });
 * const { feeds } = src.gather([0, 1, 2]); // input: float32 [3, 1, 28, 28], labels: int64 [3]
 * ```
 */
export function imageSource(ds: Dataset, o: ImageSourceOptions): BatchSource {
  parseNormalization(o.normalization);
  const shape = [...(o.shape ?? ds.shape)];
  const per = sizeOf(shape);
  if (per !== sizeOf(ds.shape)) {
    throw new WhittleError(
      'SHAPE_MISMATCH',
      `input "${o.input}" expects samples of [${shape.join(', ')}], the images are [${ds.shape.join(', ')}]; use a model made for this dataset`,
    );
  }
  let xBuf = new Float32Array(0);
  let bBuf = new Uint8Array(0);
  let yBuf = new BigInt64Array(0);
  const gatherBytes = (indices: ArrayLike<number>, n: number): Uint8Array => {
    if (o.reuse === true && bBuf.length < n * per) bBuf = new Uint8Array(n * per);
    const out = o.reuse === true ? bBuf.subarray(0, n * per) : new Uint8Array(n * per);
    for (let i = 0; i < n; i++) {
      const j = indices[i] as number;
      if (!Number.isInteger(j) || j < 0 || j >= ds.count) {
        throw new WhittleError(
          'BAD_ARGUMENT',
          `sample index ${j} at position ${i} is outside the dataset's ${ds.count} samples; pass indices in 0..${ds.count - 1}`,
        );
      }
      out.set(ds.images.subarray(j * per, (j + 1) * per), i * per);
    }
    return out;
  };
  return {
    count: ds.count,
    gather(indices, lead) {
      const dims = leadOf(indices, lead);
      const n = indices.length;
      if (o.reuse === true && xBuf.length < n * per) xBuf = new Float32Array(n * per);
      const x =
        o.bytes === true
          ? new Tensor('uint8', [...dims, ...shape], gatherBytes(indices, n))
          : new Tensor('float32', [...dims, ...shape], normalizeBatch(ds, indices, o.normalization, o.reuse === true ? xBuf.subarray(0, n * per) : undefined));
      const labels = new Int32Array(n);
      for (let i = 0; i < n; i++) labels[i] = ds.labels[indices[i] as number] as number;
      const feeds: Record<string, Tensor> = { [o.input]: x };
      if (o.labelInput !== undefined) {
        if (o.reuse === true && yBuf.length < n) yBuf = new BigInt64Array(n);
        const y = o.reuse === true ? yBuf.subarray(0, n) : new BigInt64Array(n);
        for (let i = 0; i < n; i++) y[i] = BIGINT_BYTES[labels[i] as number] as bigint;
        feeds[o.labelInput] = new Tensor('int64', dims, y);
      }
      return { feeds, labels, size: n };
    },
  };
}

/** True when `indices` is start, start+1, … (a contiguous run: rows can be views). */
/**
 * A `TensorDataset` (any number of named inputs, any dtypes) as a batch source; contiguous
 * batches are views, no copy.
 *
 * ```ts
 * const { feeds, labels } = tensorSource(loadDataForModel(model, 'val.npz')).gather([0, 1]);
 * ```
 */
export function tensorSource(ds: TensorDataset, o: TensorSourceOptions = {}): BatchSource {
  const rename = o.inputs ?? {};
  if (o.labelInput !== undefined && ds.labels === undefined)
    throw new WhittleError('BAD_DATA', `${ds.source} has no labels; training needs one class label per sample`);
  return {
    count: ds.count,
    gather(indices, lead) {
      checkIndices(indices, ds.count, ds.source);
      const dims = leadOf(indices, lead);
      const feeds: Record<string, Tensor> = {};
      for (const t of ds.inputs) feeds[rename[t.name] ?? t.name] = sampleFeed(t, dims, t.shared === true ? t.data : rows(t.data, sizeOf(t.shape), indices));
      const labels = ds.labels === undefined ? undefined : (rows(ds.labels, 1, indices) as Int32Array);
      if (o.labelInput !== undefined && labels !== undefined)
        feeds[o.labelInput] = new Tensor(
          'int64',
          dims,
          BigInt64Array.from(labels, (l) => BigInt(l)),
        );
      return { feeds, labels, size: indices.length };
    },
  };
}

/** Options of `tensorSource`. */
export interface TensorSourceOptions {
  /** Feed dataset inputs under other names: { datasetName: feedName } (a training step's stacked input). */
  inputs?: Readonly<Record<string, string>>;
  /** Also feed the labels as int64 [...lead] under this input name (training and loss graphs). */
  labelInput?: string;
}

/**
 * The rows of one [N, ...] tensor as the model input `input` (no labels).
 *
 * ```ts
 * const src = rowSource(samples, 'input'); // samples: float32 [512, 1, 28, 28]
 * ```
 */
export function rowSource(t: Tensor, input: string): BatchSource {
  const count = t.dims[0] ?? 0;
  const per = count === 0 ? 0 : t.size / count;
  return {
    count,
    gather(indices, lead) {
      checkIndices(indices, count, `input "${input}"`);
      const dims = leadOf(indices, lead);
      return { feeds: { [input]: new Tensor(t.dtype, [...dims, ...t.dims.slice(1)], rows(t.data, per, indices)) }, labels: undefined, size: indices.length };
    },
  };
}

/** Options of `runBatches`. */
export interface RunBatchesOptions {
  batchSize: number;
  /** Only the first `limit` samples (of `order` when given). Default all. */
  limit?: number;
  /** The sample order (e.g. `epochOrder` for a shuffled epoch); default 0, 1, 2, … */
  order?: Uint32Array;
}

/** What `runBatches` hands each visit besides the batch: where it lies in the pass. */
export interface BatchPosition {
  /** Position of the batch's first sample in the pass (0, batchSize, 2·batchSize, …). */
  start: number;
  /** The batch's number in the pass. */
  index: number;
}

/**
 * Walks `source` in batches of `batchSize` (the last one shorter), awaiting `visit` for each:
 * the one loop evaluation, calibration and activation probes share.
 *
 * ```ts
 * await runBatches(imageSource(mnist.test, { input: 'input', normalization: 'x/255' }), { batchSize: 1000 }, async ({ feeds }) => {
 *   const out = await session.run(feeds);
 * });
 * ```
 */
export async function runBatches(
  source: BatchSource,
  o: RunBatchesOptions,
  visit: (batch: SampleBatch, at: BatchPosition) => void | Promise<void>,
): Promise<number> {
  if (!Number.isInteger(o.batchSize) || o.batchSize <= 0) {
    throw new WhittleError('BAD_ARGUMENT', `batch size must be a positive integer, got ${o.batchSize}; pass e.g. 64`);
  }
  const total = o.order?.length ?? source.count;
  const n = Math.min(total, o.limit ?? total);
  let index = 0;
  for (let start = 0; start < n; start += o.batchSize) {
    const m = Math.min(o.batchSize, n - start);
    const idx = o.order !== undefined ? o.order.subarray(start, start + m) : sequence(start, m);
    await visit(source.gather(idx), { start, index: index++ });
  }
  return n;
}

function sequence(start: number, count: number): Uint32Array {
  const idx = new Uint32Array(count);
  for (let i = 0; i < count; i++) idx[i] = start + i;
  return idx;
}
