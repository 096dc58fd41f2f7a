// Holding out a validation split from training data: every choice (early stopping, schedules,
// sensitivity, settings) is made on it, so the test set stays unseen until the final figure.
import { WhittleError } from '../ir/errors.js';
import { type Dataset, sampleSize } from './dataset.js';
import { createRng, deriveSeed, shuffledIndices } from './rng.js';

/** The generator stream of the split; epochs shuffle with streams 0, 1, 2, … of the same seed. */
const SPLIT_STREAM = -1;

/** The fraction of the training data `splitValidation` holds out unless told otherwise. */
export const DEFAULT_VALIDATION_FRACTION = 0.1;

/** The samples of `ds` at `indices`, in that order (copied). */
function gather(ds: Dataset, indices: Uint32Array): Dataset {
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
export function splitValidation(ds: Dataset, sizeOrFraction: number, options: { seed?: number } = {}): { train: Dataset; validation: Dataset } {
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
