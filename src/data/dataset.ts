import { WhittleError } from '../ir/errors.js';

/**
 * An in-memory labelled image dataset: `count` samples of `shape` bytes each, stored
 * sample-major in `images` (sample i occupies `images[i*prod(shape) .. (i+1)*prod(shape))`).
 */
export interface Dataset {
  readonly images: Uint8Array;
  readonly labels: Uint8Array;
  readonly count: number;
  /** Per-sample shape, channels first, e.g. [1, 28, 28] or [3, 32, 32]. */
  readonly shape: number[];
  readonly numClasses: number;
}

/** A dataset's two standard splits. */
export interface DatasetSplits {
  train: Dataset;
  test: Dataset;
}

/** The number of values in one sample: the product of `shape`. */
export function sampleSize(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** Options of `createDataset`. */
export interface DatasetArrays {
  images: Uint8Array;
  labels: Uint8Array;
  /** Per-sample shape, channels first. */
  shape: number[];
  /** Defaults to the largest label + 1. */
  numClasses?: number;
}

/**
 * Checks that every label names one of a model's `classes` outputs: a label past them would make
 * the loss read outside its row (onnxruntime's GatherElements error) or count as silently wrong.
 *
 * ```ts
 * checkLabelRange(ds.labels, 10, 'the MNIST test split');
 * ```
 */
export function checkLabelRange(labels: ArrayLike<number>, classes: number, source: string): void {
  let bad = 0;
  let first = 0;
  for (let i = 0; i < labels.length; i++) {
    const l = labels[i] as number;
    if (!(l >= 0 && l < classes)) {
      if (bad === 0) first = l;
      bad++;
    }
  }
  if (bad > 0)
    throw new WhittleError(
      'BAD_DATA',
      `${source}: ${bad} label(s) outside the model's ${classes} classes (e.g. ${first}; labels must be 0–${classes - 1}); use the labels of this model's task, or a model with that many outputs`,
    );
}

/**
 * Builds a `Dataset` from arrays already in memory, checking that sizes and labels agree.
 *
 * ```ts
 * const ds = createDataset({ images: new Uint8Array(2 * 4), labels: new Uint8Array([0, 1]), shape: [1, 2, 2] });
 * // ds.count = 2, ds.numClasses = 2
 * ```
 */
export function createDataset(arrays: DatasetArrays, source = 'dataset'): Dataset {
  const { images, labels, shape } = arrays;
  if (shape.length === 0 || shape.some((d) => !Number.isInteger(d) || d <= 0)) {
    throw new WhittleError('BAD_ARGUMENT', `${source}: sample shape [${shape.join(', ')}] must be positive integers, e.g. [1, 28, 28]`);
  }
  const count = labels.length;
  const size = sampleSize(shape);
  if (images.length !== count * size) {
    throw new WhittleError(
      'BAD_DATA',
      `${source}: ${count} labels need ${count} × ${size} = ${count * size} image bytes for shape [${shape.join(', ')}], ` +
        `got ${images.length}; check that the image and label files belong together`,
    );
  }
  let maxLabel = -1;
  for (let i = 0; i < count; i++) {
    const l = labels[i] as number;
    if (l > maxLabel) maxLabel = l;
  }
  const numClasses = arrays.numClasses ?? Math.max(maxLabel + 1, 1);
  if (!Number.isInteger(numClasses) || numClasses <= 0) {
    throw new WhittleError('BAD_ARGUMENT', `${source}: numClasses must be a positive integer, got ${numClasses}`);
  }
  if (maxLabel >= numClasses) {
    throw new WhittleError(
      'BAD_DATA',
      `${source}: label ${maxLabel} is out of range for ${numClasses} classes; check the label file or pass a larger numClasses`,
    );
  }
  return { images, labels, count, shape: [...shape], numClasses };
}

/**
 * Samples `start .. start+count-1` of a dataset, sharing memory with it (no copy).
 *
 * ```ts
 * const first1000 = subset(mnist.train, 0, 1000);
 * ```
 */
export function subset(ds: Dataset, start: number, count: number): Dataset {
  if (!Number.isInteger(start) || !Number.isInteger(count) || start < 0 || count < 0 || start + count > ds.count) {
    throw new WhittleError(
      'BAD_ARGUMENT',
      `subset(start=${start}, count=${count}) is outside the dataset's ${ds.count} samples; ` +
        `pass integers with 0 <= start and start + count <= ${ds.count}`,
    );
  }
  const size = sampleSize(ds.shape);
  return {
    images: ds.images.subarray(start * size, (start + count) * size),
    labels: ds.labels.subarray(start, start + count),
    count,
    shape: [...ds.shape],
    numClasses: ds.numClasses,
  };
}

/**
 * The samples of `a` followed by those of `b` (copied), e.g. to give held-out samples back to
 * training. Both must have the same sample shape and classes.
 *
 * ```ts
 * const all = concatDatasets(split.train, split.validation); // split = splitValidation(…)
 * ```
 */
export function concatDatasets(a: Dataset, b: Dataset): Dataset {
  if (a.shape.join('x') !== b.shape.join('x') || a.numClasses !== b.numClasses) {
    throw new WhittleError(
      'SHAPE_MISMATCH',
      `cannot join datasets of samples [${a.shape.join(', ')}] (${a.numClasses} classes) and [${b.shape.join(', ')}] (${b.numClasses} classes); they must match`,
    );
  }
  const images = new Uint8Array(a.images.length + b.images.length);
  images.set(a.images);
  images.set(b.images, a.images.length);
  const labels = new Uint8Array(a.count + b.count);
  labels.set(a.labels);
  labels.set(b.labels, a.count);
  return { images, labels, count: a.count + b.count, shape: [...a.shape], numClasses: a.numClasses };
}

/**
 * Counts the samples of each class.
 *
 * ```ts
 * const hist = labelHistogram(mnist.test); // hist[7] = 1028
 * ```
 */
export function labelHistogram(ds: Dataset): Uint32Array {
  const hist = new Uint32Array(ds.numClasses);
  const labels = ds.labels;
  for (let i = 0; i < ds.count; i++) {
    const l = labels[i] as number;
    hist[l] = (hist[l] as number) + 1;
  }
  return hist;
}
