import { WhittleError } from '../ir/errors.js';
import { type Dataset, sampleSize } from './dataset.js';
import { createRng, deriveSeed, shuffledIndices } from './rng.js';

/**
 * How pixel bytes become floats: `x/255` → [0, 1]; `mnist-mean-std` → (x/255 − 0.1307) / 0.3081,
 * the standard MNIST standardization; `none` → the raw byte value 0..255.
 */
export type Normalization = 'x/255' | 'mnist-mean-std' | 'none';

/** Every valid `Normalization`, in the order error messages list them. */
export const NORMALIZATIONS: readonly Normalization[] = ['x/255', 'mnist-mean-std', 'none'];

const MNIST_MEAN = 0.1307;
const MNIST_STD = 0.3081;

/**
 * Validates a normalization name (e.g. from a CLI flag or a recipe).
 *
 * ```ts
 * const norm = parseNormalization('mnist-mean-std');
 * ```
 */
export function parseNormalization(s: string): Normalization {
  if ((NORMALIZATIONS as readonly string[]).includes(s)) return s as Normalization;
  throw new WhittleError('BAD_ARGUMENT', `unknown normalization "${s}"; use one of: ${NORMALIZATIONS.join(', ')}`);
}

/**
 * A normalization as arithmetic: value = (byte / scale − mean) / std, for graphs that take the
 * raw bytes and normalize in-graph (the training step: copying bytes is far cheaper than
 * converting them in JavaScript).
 *
 * ```ts
 * normalizationAffine('x/255'); // { scale: 255, mean: 0, std: 1 }
 * ```
 */
export function normalizationAffine(normalization: Normalization): { scale: number; mean: number; std: number } {
  if (normalization === 'x/255') return { scale: 255, mean: 0, std: 1 };
  if (normalization === 'mnist-mean-std') return { scale: 255, mean: MNIST_MEAN, std: MNIST_STD };
  if (normalization === 'none') return { scale: 1, mean: 0, std: 1 };
  throw new WhittleError('BAD_ARGUMENT', `unknown normalization "${String(normalization)}"; use one of: ${NORMALIZATIONS.join(', ')}`);
}

// One 256-entry table per normalization: a byte becomes a float by one lookup, no per-element math.
const tables = new Map<Normalization, Float32Array>();

function lookupTable(normalization: Normalization): Float32Array {
  let table = tables.get(normalization);
  if (table !== undefined) return table;
  table = new Float32Array(256);
  for (let v = 0; v < 256; v++) {
    if (normalization === 'x/255') table[v] = v / 255;
    else if (normalization === 'mnist-mean-std') table[v] = (v / 255 - MNIST_MEAN) / MNIST_STD;
    else if (normalization === 'none') table[v] = v;
    else throw new WhittleError('BAD_ARGUMENT', `unknown normalization "${String(normalization)}"; use one of: ${NORMALIZATIONS.join(', ')}`);
  }
  tables.set(normalization, table);
  return table;
}

/**
 * The float value a pixel byte gets under a normalization.
 *
 * ```ts
 * normalizeValue(255, 'x/255'); // 1
 * ```
 */
export function normalizeValue(byte: number, normalization: Normalization): number {
  return lookupTable(normalization)[byte & 0xff] as number;
}

function checkIndex(ds: Dataset, idx: number | undefined, position: number): number {
  if (idx === undefined || !Number.isInteger(idx) || idx < 0 || idx >= ds.count) {
    throw new WhittleError(
      'BAD_ARGUMENT',
      `sample index ${idx} at position ${position} is outside the dataset's ${ds.count} samples; pass indices in 0..${ds.count - 1}`,
    );
  }
  return idx;
}

/**
 * Gathers the samples at `indices` into one float batch, normalized, laid out
 * [indices.length, ...ds.shape]. Writes into `out` when given (it must be large enough).
 *
 * ```ts
 * const x = normalizeBatch(mnist.test, [0, 1, 2], 'x/255'); // 3 × 784 floats in [0, 1]
 * ```
 */
export function normalizeBatch(ds: Dataset, indices: ArrayLike<number>, normalization: Normalization, out?: Float32Array): Float32Array {
  const size = sampleSize(ds.shape);
  const n = indices.length;
  const x = out ?? new Float32Array(n * size);
  if (x.length < n * size) {
    throw new WhittleError('BAD_ARGUMENT', `normalizeBatch: out holds ${x.length} floats, the batch needs ${n * size}; pass a larger buffer`);
  }
  const table = lookupTable(normalization);
  const images = ds.images;
  for (let i = 0; i < n; i++) {
    const src = checkIndex(ds, indices[i], i) * size;
    const dst = i * size;
    for (let k = 0; k < size; k++) x[dst + k] = table[images[src + k] as number] as number;
  }
  return x;
}

/** int64 labels as the ONNX loss graph takes them; BigInt values precomputed for every byte. */
const BIGINT_BYTES: bigint[] = Array.from({ length: 256 }, (_, v) => BigInt(v));

/**
 * Gathers the labels at `indices` as int64.
 *
 * ```ts
 * const y = gatherLabels(mnist.train, [0]); // BigInt64Array [5n]
 * ```
 */
export function gatherLabels(ds: Dataset, indices: ArrayLike<number>): BigInt64Array {
  const n = indices.length;
  const y = new BigInt64Array(n);
  const labels = ds.labels;
  for (let i = 0; i < n; i++) y[i] = BIGINT_BYTES[labels[checkIndex(ds, indices[i], i)] as number] as bigint;
  return y;
}

/** One mini-batch. */
export interface Batch {
  /** Normalized inputs, laid out `xDims`. */
  x: Float32Array;
  /** [size, ...shape]. */
  xDims: number[];
  /** Labels as int64, length `size`. */
  y: BigInt64Array;
  /** Samples in this batch: `batchSize`, or fewer for the last one when `dropLast` is false. */
  size: number;
  /** The dataset indices of the samples, in batch order. */
  indices: Uint32Array;
}

/** Options of `batches`. */
export interface BatchOptions {
  batchSize: number;
  /** Default true. */
  shuffle?: boolean;
  /** Default 0. */
  seed?: number;
  /** The order depends on (seed, epoch) only, so a run resumed at epoch e repeats it. Default 0. */
  epoch?: number;
  /** Default 'x/255'. */
  normalization?: Normalization;
  /** Skip a final batch smaller than `batchSize`. Default false. */
  dropLast?: boolean;
}

/**
 * The sample order of one epoch: 0..count-1, shuffled by (seed, epoch) when `shuffle` is true.
 *
 * ```ts
 * const order = epochOrder(60000, { shuffle: true, seed: 42, epoch: 3 });
 * ```
 */
export function epochOrder(count: number, opts: { shuffle?: boolean; seed?: number; epoch?: number } = {}): Uint32Array {
  const { shuffle = true, seed = 0, epoch = 0 } = opts;
  if (shuffle) return shuffledIndices(count, createRng(deriveSeed(seed, epoch)));
  const order = new Uint32Array(count);
  for (let i = 0; i < count; i++) order[i] = i;
  return order;
}

function checkBatchSize(batchSize: number): void {
  if (!Number.isInteger(batchSize) || batchSize <= 0) {
    throw new WhittleError('BAD_ARGUMENT', `batch size must be a positive integer, got ${batchSize}; pass e.g. 64`);
  }
}

/**
 * How many batches one epoch yields.
 *
 * ```ts
 * batchCount(mnist.train, { batchSize: 64 }); // 938
 * ```
 */
export function batchCount(ds: Dataset, opts: { batchSize: number; dropLast?: boolean }): number {
  checkBatchSize(opts.batchSize);
  return opts.dropLast === true ? Math.floor(ds.count / opts.batchSize) : Math.ceil(ds.count / opts.batchSize);
}

/**
 * Iterates one epoch of mini-batches: every sample exactly once (except a dropped short last
 * batch), in an order fixed by (seed, epoch). Each batch has fresh arrays the caller may keep.
 *
 * ```ts
 * for (const { x, xDims, y } of batches(mnist.train, { batchSize: 64, seed: 42, epoch })) {
 *   // feed x as float32 [64, 1, 28, 28] and y as int64 [64]
 * }
 * ```
 */
export function batches(ds: Dataset, opts: BatchOptions): Iterable<Batch> {
  const { batchSize, normalization = 'x/255', dropLast = false } = opts;
  // Validate now, not at the first next(), so a bad option fails where it was passed.
  checkBatchSize(batchSize);
  parseNormalization(normalization);
  const order = epochOrder(ds.count, opts);
  const total = batchCount(ds, { batchSize, dropLast });
  return {
    *[Symbol.iterator](): Iterator<Batch> {
      for (let b = 0; b < total; b++) {
        const indices = order.slice(b * batchSize, Math.min((b + 1) * batchSize, ds.count));
        yield {
          x: normalizeBatch(ds, indices, normalization),
          xDims: [indices.length, ...ds.shape],
          y: gatherLabels(ds, indices),
          size: indices.length,
          indices,
        };
      }
    },
  };
}
