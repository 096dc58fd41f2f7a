// Holding out a validation split from training data: every choice (early stopping, schedules,
// sensitivity, settings) is made on it, so the test set stays unseen until the final figure.
import { createHash } from 'node:crypto';
import { WhittleError } from '../ir/errors.js';
import { concatDatasets, type Dataset, sampleSize, subset } from './dataset.js';
import { createRng, deriveSeed, shuffledIndices } from './rng.js';
import type { TensorDataset } from './tensor-dataset.js';
import { concatTensorDatasets, isTensorDataset, selectTensorDataset, sliceTensorDataset } from './tensor-dataset.js';
import { sizeOf } from '../ir/tensor.js';

/** Either kind of labelled data a split is held out of: image bytes or a `TensorDataset`. */
type SplitData = Dataset | TensorDataset;

/** The generator stream of the split; epochs shuffle with streams 0, 1, 2, … of the same seed. */
const SPLIT_STREAM = -1;

/** The fraction of the training data `splitValidation` holds out unless told otherwise. */
export const DEFAULT_VALIDATION_FRACTION = 0.1;

/** The samples of `ds` at `indices`, in that order (copied). */
function gather<D extends SplitData>(ds: D, indices: Uint32Array): D {
  return (isTensorDataset(ds) ? selectTensorDataset(ds, indices) : gatherImages(ds, indices)) as D;
}

/**
 * The first `count` samples of either kind of labelled data (all of them when it has fewer):
 * views, no copy.
 *
 * ```ts
 * const trialTrain = firstSamples(split.train, 1000);
 * ```
 */
export function firstSamples<D extends SplitData>(ds: D, count: number): D {
  const n = Math.min(count, ds.count);
  return (isTensorDataset(ds) ? sliceTensorDataset(ds, 0, n) : subset(ds, 0, n)) as D;
}
/** The samples of `ds` from `start` on: views. */
function tail<D extends SplitData>(ds: D, start: number): D {
  return (isTensorDataset(ds) ? sliceTensorDataset(ds, start, ds.count) : subset(ds, start, ds.count - start)) as D;
}
/**
 * The samples of `a` then those of `b`, of either kind (both image datasets of one shape, or both
 * `TensorDataset`s of the same inputs).
 *
 * ```ts
 * const all = concatSamples(split.train, split.validation);
 * ```
 */
export function concatSamples<D extends SplitData>(a: D, b: D): D {
  return (isTensorDataset(a) ? concatTensorDatasets(a, b as TensorDataset) : concatDatasets(a, b as Dataset)) as D;
}

function gatherImages(ds: Dataset, indices: Uint32Array): Dataset {
  const size = sampleSize(ds.shape);
  const images = new Uint8Array(indices.length * size);
  const labels = new Uint8Array(indices.length);
  for (let i = 0; i < indices.length; i++) {
    const j = indices[i] as number;
    images.set(ds.images.subarray(j * size, (j + 1) * size), i * size);
    labels[i] = ds.labels[j] as number;
  }
  return { images, labels, count: indices.length, shape: [...ds.shape], numClasses: ds.numClasses };
}

/**
 * Holds out a random validation split of a dataset, the same for the same seed on every run.
 * `sizeOrFraction` below 1 is a fraction of the samples (rounded to the nearest sample); 1 or
 * more is a sample count. Samples are drawn by a seeded shuffle (not the last ones, which may be
 * ordered by class or source) and copied; each side keeps the original order.
 *
 * ```ts
 * const { train, validation } = splitValidation(mnist.train, 0.1, { seed: 42 }); // 54000 + 6000
 * const split = splitValidation(mnist.train, 5000);                               // 55000 + 5000, seed 0
 * ```
 */
export function splitValidation<D extends SplitData>(ds: D, sizeOrFraction: number, options: { seed?: number } = {}): { train: D; validation: D } {
  let n: number;
  if (sizeOrFraction > 0 && sizeOrFraction < 1) n = Math.round(ds.count * sizeOrFraction);
  else if (Number.isInteger(sizeOrFraction) && sizeOrFraction >= 1) n = sizeOrFraction;
  else {
    throw new WhittleError('BAD_ARGUMENT', `validation split ${sizeOrFraction} is neither a fraction in (0, 1) nor a sample count >= 1; pass e.g. 0.1 or 5000`);
  }
  if (n < 1 || n >= ds.count) {
    throw new WhittleError(
      'BAD_ARGUMENT',
      `validation split ${sizeOrFraction} gives ${n} validation samples of ${ds.count}; ` +
        'keep at least one sample on each side: pass a smaller fraction or count, or more training data',
    );
  }
  const order = shuffledIndices(ds.count, createRng(deriveSeed(options.seed ?? 0, SPLIT_STREAM)));
  const held = order.slice(0, n).sort();
  const kept = order.slice(n).sort();
  return { train: gather(ds, kept), validation: gather(ds, held) };
}

/**
 * Which split a model was trained with, so that later commands hold out the same validation
 * samples: the seeded split of the first `samples` samples of the data with `fingerprint`, or
 * (`valData`) every training sample, validated on another dataset.
 */
export type SplitRecord = { seed: number; fraction: number; samples: number; fingerprint: string } | { valData: string; samples: number; fingerprint: string };

/** A short content hash of the first `count` samples of `ds`: shape, classes, labels and pixels. */
export function datasetFingerprint(ds: SplitData, count = ds.count): string {
  if (isTensorDataset(ds)) {
    const h = createHash('sha256');
    h.update(`${ds.inputs.map((t) => `${t.name}:${t.dtype}[${t.shape.join(',')}]`).join(' ')}/${count}/`);
    if (ds.labels !== undefined) h.update(new Uint8Array(ds.labels.buffer, ds.labels.byteOffset, count * 4));
    for (const t of ds.inputs) {
      const n = t.shared === true ? t.data.length : count * sizeOf(t.shape);
      const bytes = (t.data as Float32Array).BYTES_PER_ELEMENT;
      h.update(new Uint8Array(t.data.buffer, t.data.byteOffset, n * bytes));
    }
    return h.digest('hex').slice(0, 16);
  }
  const size = sampleSize(ds.shape);
  const h = createHash('sha256');
  h.update(`${ds.shape.join('x')}/${ds.numClasses}/${count}/`);
  h.update(ds.labels.subarray(0, count));
  h.update(ds.images.subarray(0, count * size));
  return h.digest('hex').slice(0, 16);
}

/** The record of `splitValidation(ds, fraction, { seed })`. */
export function splitRecord(ds: SplitData, fraction: number, seed: number): SplitRecord {
  return { seed, fraction, samples: ds.count, fingerprint: datasetFingerprint(ds) };
}

/**
 * The split a record describes, held out of `ds`: when `ds` starts with the recorded samples, the
 * same validation samples, and every other sample on the training side (the recorded training
 * samples and any that follow them). Undefined when `ds` does not hold the recorded data, or when
 * the record is of a `valData` split (the caller loads that dataset).
 *
 * ```ts
 * const record = splitRecord(mnist.train, 0.1, 3);        // stored in the trained model
 * const again = splitByRecord(mnist.train, record);       // the same 6000 validation images
 * ```
 */
export function splitByRecord<D extends SplitData>(ds: D, record: SplitRecord): { train: D; validation: D } | undefined {
  if ('valData' in record) return undefined;
  if (ds.count < record.samples || datasetFingerprint(ds, record.samples) !== record.fingerprint) return undefined;
  const first = record.samples === ds.count ? ds : firstSamples(ds, record.samples);
  const split = splitValidation(first, record.fraction, { seed: record.seed });
  if (record.samples === ds.count) return split;
  return { train: concatSamples(split.train, tail(ds, record.samples)), validation: split.validation };
}

/** Parses a record as stored in model metadata; undefined when it is not one. */
export function parseSplitRecord(text: string): SplitRecord | undefined {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof v !== 'object' || v === null) return undefined;
  const r = v as Record<string, unknown>;
  const count = r['samples'];
  const fingerprint = r['fingerprint'];
  if (!(typeof count === 'number' && Number.isInteger(count) && count >= 2 && typeof fingerprint === 'string')) return undefined;
  if (typeof r['valData'] === 'string') return { valData: r['valData'], samples: count, fingerprint };
  const seed = r['seed'];
  const fraction = r['fraction'];
  if (typeof seed === 'number' && Number.isInteger(seed) && typeof fraction === 'number' && fraction > 0 && fraction < count)
    return { seed, fraction, samples: count, fingerprint };
  return undefined;
}
