// Samples for any model: named inputs, each with its own dtype and per-sample shape, and optional
// class labels. The image `Dataset` (MNIST, CIFAR) maps into it with `tensorDatasetFromImages`.
import { WhittleError } from '../ir/errors.js';
import { toHalfBits, fromHalfBits } from '../ir/half.js';
import type { DType, TensorData } from '../ir/tensor.js';
import { allocate, sizeOf, Tensor } from '../ir/tensor.js';
import type { Dataset } from './dataset.js';
import type { Normalization } from './batches.js';
import { normalizeBatch } from './batches.js';

/**
 * One named input of a `TensorDataset`: `count` samples of `shape`, stored sample-major; or, for
 * an input with no batch axis (a scalar such as Silero VAD's sample rate `sr`), one value fed
 * unchanged with every batch.
 */
export interface SampleTensor {
  readonly name: string;
  readonly dtype: DType;
  /** Per-sample shape (no batch axis), e.g. [3, 224, 224]; for a `shared` input, its whole shape. */
  readonly shape: readonly number[];
  readonly data: TensorData;
  /**
   * Where the model's input has its batch axis (default 0): an LSTM state [2, batch, 64] has it
   * at 1. Feeds put the samples there; the data stays sample-major.
   */
  readonly batchAxis?: number;
  /** True for an input without a batch axis: `data` is the one value every batch gets. */
  readonly shared?: boolean;
}

/** Samples for a model with any number of inputs. */
export interface TensorDataset {
  readonly count: number;
  readonly inputs: readonly SampleTensor[];
  /** One class index per sample, when the source has labels. */
  readonly labels: Int32Array | undefined;
  /** Class names by index (image folders), when known. */
  readonly classes?: readonly string[];
  /** Where the samples came from, for messages and reports: a path, `random`, ... */
  readonly source: string;
}

/**
 * Whether `data` is a `TensorDataset` (named inputs of any dtype) rather than an image `Dataset`
 * (MNIST/CIFAR bytes): the functions that take either tell them apart with it.
 */
export function isTensorDataset(data: TensorDataset | Dataset): data is TensorDataset {
  return 'inputs' in data;
}

/**
 * Builds a `TensorDataset`, checking that every input and the labels hold `count` samples.
 *
 * ```ts
 * const ds = createTensorDataset({ source: 'mine', inputs: [{ name: 'x', dtype: 'float32', shape: [2], data: Float32Array.of(1, 2, 3, 4) }] });
 * // ds.count = 2
 * ```
 */
export function createTensorDataset(parts: { inputs: SampleTensor[]; labels?: Int32Array; classes?: readonly string[]; source: string }): TensorDataset {
  const { inputs, labels, source } = parts;
  if (inputs.length === 0) throw new WhittleError('BAD_DATA', `${source}: no inputs`);
  const batched = inputs.filter((t) => t.shared !== true);
  const first = batched[0];
  // Only shared inputs (a model of scalars): one sample.
  const count = first === undefined ? 1 : first.data.length / sizeOf(first.shape);
  for (const t of inputs) {
    if (t.shared === true) {
      if (t.data.length !== sizeOf(t.shape))
        throw new WhittleError(
          'BAD_DATA',
          `${source}: input "${t.name}" holds ${t.data.length} values, its shape [${t.shape.join(', ')}] needs ${sizeOf(t.shape)}`,
        );
      continue;
    }
    const per = sizeOf(t.shape);
    if (per === 0 || t.data.length % per !== 0 || t.data.length / per !== count) {
      throw new WhittleError(
        'BAD_DATA',
        `${source}: input "${t.name}" holds ${t.data.length / (per || 1)} samples of [${t.shape.join(', ')}], "${first?.name ?? t.name}" holds ${count}; every input needs one entry per sample`,
      );
    }
  }
  if (labels !== undefined && labels.length !== count) {
    throw new WhittleError('BAD_DATA', `${source}: ${labels.length} labels for ${count} samples; give one label per sample`);
  }
  return { count, inputs, labels, ...(parts.classes !== undefined ? { classes: parts.classes } : {}), source };
}

/**
 * Samples `start .. start+count-1` as feeds for `Session.run` (views, no copy) and their labels.
 *
 * ```ts
 * const { feeds } = tensorBatch(ds, 0, 32); // { input_ids: Tensor[32, 128], attention_mask: ... }
 * ```
 */
export function tensorBatch(ds: TensorDataset, start: number, count: number): { feeds: Record<string, Tensor>; labels: Int32Array | undefined } {
  if (!Number.isInteger(start) || !Number.isInteger(count) || start < 0 || count < 1 || start + count > ds.count) {
    throw new WhittleError('BAD_ARGUMENT', `tensorBatch(start=${start}, count=${count}) is outside the ${ds.count} samples of ${ds.source}`);
  }
  const feeds: Record<string, Tensor> = {};
  for (const t of ds.inputs) {
    const per = sizeOf(t.shape);
    feeds[t.name] = sampleFeed(t, [count], t.shared === true ? t.data : (t.data.subarray(start * per, (start + count) * per) as TensorData));
  }
  return { feeds, labels: ds.labels?.subarray(start, start + count) };
}

/**
 * The feed of input `t` for samples `rows` (sample-major, `lead` samples): the samples moved to
 * the input's batch axis, or the shared value as it is.
 *
 * ```ts
 * sampleFeed({ name: 'h', dtype: 'float32', shape: [2, 64], data, batchAxis: 1 }, [8], rows); // Tensor [2, 8, 64]
 * ```
 */
export function sampleFeed(t: SampleTensor, lead: readonly number[], rows: TensorData): Tensor {
  if (t.shared === true) return new Tensor(t.dtype, [...t.shape], t.data);
  const axis = t.batchAxis ?? 0;
  if (axis === 0) return new Tensor(t.dtype, [...lead, ...t.shape], rows);
  const n = sizeOf(lead);
  const outer = sizeOf(t.shape.slice(0, axis));
  const inner = sizeOf(t.shape.slice(axis));
  const out = new (rows.constructor as new (n: number) => TensorData)(rows.length);
  // [n, outer, inner] → [outer, n, inner]
  for (let i = 0; i < n; i++)
    for (let o = 0; o < outer; o++)
      (out as Float32Array).set((rows as Float32Array).subarray((i * outer + o) * inner, (i * outer + o + 1) * inner), (o * n + i) * inner);
  return new Tensor(t.dtype, [...t.shape.slice(0, axis), ...lead, ...t.shape.slice(axis)], out);
}

/**
 * Samples `start .. end-1` (views, no copy; shared inputs stay as they are).
 *
 * ```ts
 * const rest = sliceTensorDataset(ds, 256, ds.count); // all but the first 256
 * ```
 */
export function sliceTensorDataset(ds: TensorDataset, start: number, end: number): TensorDataset {
  if (start === 0 && end >= ds.count) return ds;
  const stop = Math.min(end, ds.count);
  const inputs = ds.inputs.map((t) => {
    if (t.shared === true) return t;
    const per = sizeOf(t.shape);
    return { ...t, data: t.data.subarray(start * per, stop * per) as TensorData };
  });
  return { ...ds, count: stop - start, inputs, labels: ds.labels?.subarray(start, stop) };
}

/**
 * The image dataset's samples, normalized to float32, as the model input `name` of per-sample
 * `shape` (default the dataset's own; a flat shape of the same size takes the images flattened).
 *
 * ```ts
 * const ds = tensorDatasetFromImages(mnist.test, { name: 'input', normalization: 'x/255' });
 * ```
 */
export function tensorDatasetFromImages(
  images: Dataset,
  options: { name: string; normalization: Normalization; shape?: readonly number[]; source?: string },
): TensorDataset {
  const shape = options.shape ?? images.shape;
  if (sizeOf(shape) !== sizeOf(images.shape)) {
    throw new WhittleError(
      'SHAPE_MISMATCH',
      `input "${options.name}" expects samples of [${shape.join(', ')}], the images are [${images.shape.join(', ')}]; use a model made for this dataset`,
    );
  }
  const idx = Int32Array.from({ length: images.count }, (_, i) => i);
  return {
    count: images.count,
    inputs: [{ name: options.name, dtype: 'float32', shape: [...shape], data: normalizeBatch(images, idx, options.normalization) }],
    labels: Int32Array.from(images.labels),
    source: options.source ?? 'images',
  };
}

function isFloat(dtype: DType): boolean {
  return dtype === 'float32' || dtype === 'float64' || dtype === 'float16';
}

/**
 * The values converted to another dtype (the same array when it already has it). Floats become
 * integers only when every value is whole; `what` names the data in the error.
 *
 * ```ts
 * castData(Float64Array.of(1, 2), 'float64', 'float32', 'x'); // Float32Array [1, 2]
 * ```
 */
export function castData(data: TensorData, from: DType, to: DType, what: string): TensorData {
  if (from === to) return data;
  const n = data.length;
  const out = allocate(to, n);
  const read: (i: number) => number =
    from === 'float16' ? (i) => fromHalfBits(data[i] as number) : from === 'int64' ? (i) => Number(data[i] as bigint) : (i) => data[i] as number;
  if (isFloat(from) && !isFloat(to)) {
    for (let i = 0; i < n; i++) {
      const v = read(i);
      if (!Number.isInteger(v)) throw new WhittleError('BAD_DATA', `${what} has ${from} values (e.g. ${v}) but the model takes ${to}; save the array as ${to}`);
    }
  }
  if (to === 'int64') for (let i = 0; i < n; i++) (out as BigInt64Array)[i] = BigInt(read(i));
  else if (to === 'float16') for (let i = 0; i < n; i++) (out as Uint16Array)[i] = toHalfBits(read(i));
  else if (to === 'bool') for (let i = 0; i < n; i++) (out as Uint8Array)[i] = read(i) !== 0 ? 1 : 0;
  else for (let i = 0; i < n; i++) (out as Float32Array)[i] = read(i);
  return out;
}

/**
 * Class labels from an array (integers, one per sample: shape [N] or [N, 1]).
 *
 * ```ts
 * const labels = labelsFromArray({ dtype: 'int64', dims: [2], data: BigInt64Array.of(3n, 1n) }, 'labels.npy'); // Int32Array [3, 1]
 * ```
 */
export function labelsFromArray(array: { dtype: DType; dims: readonly number[]; data: TensorData }, source: string): Int32Array {
  const { dims } = array;
  if (!(dims.length === 1 || (dims.length === 2 && dims[1] === 1))) {
    throw new WhittleError('BAD_DATA', `${source}: labels must be one class index per sample, shape [N]; found [${dims.join(', ')}]`);
  }
  const ints = castData(array.data, array.dtype, 'float64', source);
  const labels = new Int32Array(ints.length);
  for (let i = 0; i < ints.length; i++) {
    const v = ints[i] as number;
    if (!Number.isInteger(v) || v < 0 || v > 0x7fffffff)
      throw new WhittleError('BAD_DATA', `${source}: label ${v} at sample ${i} is not a class index (a whole number ≥ 0)`);
    labels[i] = v;
  }
  return labels;
}

function contiguous(indices: ArrayLike<number>): boolean {
  const first = indices[0] ?? 0;
  for (let i = 1; i < indices.length; i++) if (indices[i] !== first + i) return false;
  return true;
}

/** Rows `indices` of sample-major `data` with `per` values per sample (a view when contiguous). */
export function rows(data: TensorData, per: number, indices: ArrayLike<number>): TensorData {
  const n = indices.length;
  if (contiguous(indices)) {
    const s = (indices[0] ?? 0) * per;
    return data.subarray(s, s + n * per) as TensorData;
  }
  const out = new (data.constructor as new (n: number) => TensorData)(n * per);
  for (let i = 0; i < n; i++) {
    const s = (indices[i] as number) * per;
    (out as Float32Array).set((data as Float32Array).subarray(s, s + per), i * per);
  }
  return out;
}

export function checkIndices(indices: ArrayLike<number>, count: number, what: string): void {
  for (let i = 0; i < indices.length; i++) {
    const j = indices[i] as number;
    if (!Number.isInteger(j) || j < 0 || j >= count) {
      throw new WhittleError('BAD_ARGUMENT', `sample index ${j} at position ${i} is outside the ${count} samples of ${what}; pass indices in 0..${count - 1}`);
    }
  }
}

/**
 * The samples at `indices`, in that order (views of `ds` where the indices run contiguously, else
 * copies); shared inputs and class names carry over.
 *
 * ```ts
 * const firstAndLast = selectTensorDataset(ds, [0, ds.count - 1]);
 * ```
 */
export function selectTensorDataset(ds: TensorDataset, indices: ArrayLike<number>): TensorDataset {
  checkIndices(indices, ds.count, ds.source);
  const inputs = ds.inputs.map((t) => (t.shared === true ? t : { ...t, data: rows(t.data, sizeOf(t.shape), indices) }));
  const labels = ds.labels === undefined ? undefined : (rows(ds.labels, 1, indices) as Int32Array);
  return { count: indices.length, inputs, labels, ...(ds.classes !== undefined ? { classes: ds.classes } : {}), source: ds.source };
}

/**
 * The samples of `a` then those of `b`: the same inputs (names, dtypes, per-sample shapes), both
 * labelled or neither.
 *
 * ```ts
 * const all = concatTensorDatasets(train, validation);
 * ```
 */
export function concatTensorDatasets(a: TensorDataset, b: TensorDataset): TensorDataset {
  const kind = (ds: TensorDataset): string => ds.inputs.map((t) => `${t.name}:${t.dtype}[${t.shape.join(',')}]${t.shared === true ? 'shared' : ''}`).join(' ');
  if (kind(a) !== kind(b) || (a.labels === undefined) !== (b.labels === undefined))
    throw new WhittleError(
      'SHAPE_MISMATCH',
      `cannot join ${a.source} (${kind(a)}${a.labels ? ', labelled' : ''}) and ${b.source} (${kind(b)}${b.labels ? ', labelled' : ''}); they must match`,
    );
  const inputs = a.inputs.map((t, k) => {
    if (t.shared === true) return t;
    const other = (b.inputs[k] as SampleTensor).data;
    const out = new (t.data.constructor as new (n: number) => TensorData)(t.data.length + other.length);
    (out as Float32Array).set(t.data as Float32Array);
    (out as Float32Array).set(other as Float32Array, t.data.length);
    return { ...t, data: out };
  });
  let labels: Int32Array | undefined;
  if (a.labels !== undefined && b.labels !== undefined) {
    labels = new Int32Array(a.count + b.count);
    labels.set(a.labels);
    labels.set(b.labels, a.count);
  }
  return { count: a.count + b.count, inputs, labels, ...(a.classes !== undefined ? { classes: a.classes } : {}), source: a.source };
}
