// The samples a trial sees, rebuilt identically in every worker process from a DataRef: the same
// seeded validation split the coordinator made, then the first N samples of each side.
import type { Dataset } from '../data/index.js';
import { loadCifar10, loadIdxDataset, splitValidation, subset } from '../data/index.js';
import { CIFAR10_TEST_FILE } from '../data/index.js';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { DataRef } from './types.js';

export interface SearchData {
  /** Training side of the split (all of it). */
  train: Dataset;
  /** Held-out validation side: every choice is made on it. */
  validation: Dataset;
  /** The test split: evaluated once, on the winner, at the end. */
  test: Dataset;
}

const cache = new Map<string, SearchData>();

/** The dataset in `dir` (CIFAR-10 batches or MNIST-format IDX; the bundled MNIST when absent). */
export function loadDatasetDir(dir: string | undefined): { train: Dataset; test: Dataset } {
  if (dir !== undefined && [dir, join(dir, 'cifar-10-batches-bin')].some((d) => existsSync(join(d, CIFAR10_TEST_FILE)))) return loadCifar10(dir);
  return loadIdxDataset(dir);
}

/** Train/validation/test of a DataRef, loaded once per process. */
export function searchData(ref: DataRef): SearchData {
  const k = JSON.stringify([ref.dir ?? '', ref.valSplit, ref.splitSeed]);
  let d = cache.get(k);
  if (d === undefined) {
    const all = loadDatasetDir(ref.dir);
    const { train, validation } = splitValidation(all.train, ref.valSplit, { seed: ref.splitSeed });
    d = { train, validation, test: all.test };
    cache.set(k, d);
  }
  return d;
}

/** The samples one trial fine-tunes on and is measured on. */
export function trialData(ref: DataRef): { train: Dataset; validation: Dataset } {
  const d = searchData(ref);
  return {
    train: subset(d.train, 0, Math.min(ref.trainSamples, d.train.count)),
    validation: subset(d.validation, 0, Math.min(ref.valSamples, d.validation.count)),
  };
}
