// The samples a trial sees, rebuilt identically in every worker process from a DataRef: the same
// seeded validation split the coordinator made, then the first N samples of each side.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Dataset, TensorDataset } from '../data/index.js';
import { CIFAR10_TEST_FILE, firstSamples, loadCifar10, loadDataForModel, loadIdxDataset, loadLabelledForModel, splitValidation } from '../data/index.js';
import type { Model } from '../ir/graph.js';
import { predictLabels } from '../train/evaluate.js';
import type { DataRef, OwnDataRef } from './types.js';

/** Labelled samples of either kind: image bytes (MNIST/CIFAR) or the user's own tensors. */
export type SearchSamples = Dataset | TensorDataset;

export interface SearchData {
  /** Training side of the split (all of it). */
  train: SearchSamples;
  /** Held-out validation side: every choice is made on it. */
  validation: SearchSamples;
  /** The test split: evaluated once, on the winner, at the end. */
  test: SearchSamples;
}

const trainCache = new Map<string, Promise<Omit<SearchData, 'test'>>>();
const testCache = new Map<string, Promise<SearchSamples>>();

/** `load()` once per key and process; a failed load is not kept, so the next call tries again and throws its own error. */
function once<T>(cache: Map<string, Promise<T>>, key: string, load: () => Promise<T>): Promise<T> {
  let p = cache.get(key);
  if (p === undefined) {
    p = load();
    cache.set(key, p);
    p.catch(() => cache.delete(key));
  }
  return p;
}

/** The dataset in `dir` (CIFAR-10 batches or MNIST-format IDX; the bundled MNIST when absent). */
export function loadDatasetDir(dir: string | undefined): { train: Dataset; test: Dataset } {
  if (dir !== undefined && [dir, join(dir, 'cifar-10-batches-bin')].some((d) => existsSync(join(d, CIFAR10_TEST_FILE)))) return loadCifar10(dir);
  return loadIdxDataset(dir);
}

/** loadDatasetDir once per directory and process (the split and the test side both read it). */
const dirCache = new Map<string, Promise<{ train: Dataset; test: Dataset }>>();
function datasetDir(dir: string | undefined): Promise<{ train: Dataset; test: Dataset }> {
  return once(dirCache, dir ?? '', async () => loadDatasetDir(dir));
}

/**
 * The user's own samples at `path`: with their labels, or (`labels: 'model'`) labelled with the
 * input model's top-1 predictions, computed at one thread so that every worker derives the same.
 */
async function ownSamples(model: Model, path: string, own: OwnDataRef): Promise<TensorDataset> {
  if (own.labels !== 'model') return loadLabelledForModel(model, path, own.options, 'a search');
  const ds = loadDataForModel(model, path, own.options);
  return { ...ds, labels: await predictLabels(model, ds, { threads: 1 }) };
}

/**
 * Train/validation/test of a DataRef, loaded once per process. `model` (the search's input) says
 * how the user's own samples are read (its input's name, shape and dtype) and labels them when
 * they come without labels.
 */
export async function searchData(ref: DataRef, model: Model): Promise<SearchData> {
  const [split, test] = await Promise.all([splitData(ref, model), testData(ref, model)]);
  return { ...split, test };
}

/** Train and validation of a DataRef (what a trial needs: workers never read the test samples). */
function splitData(ref: DataRef, model: Model): Promise<Omit<SearchData, 'test'>> {
  return once(trainCache, JSON.stringify([ref.dir ?? '', ref.own ?? null, ref.valSplit, ref.splitSeed]), async () => {
    const all = ref.own === undefined ? (await datasetDir(ref.dir)).train : await ownSamples(model, ref.own.train, ref.own);
    return splitValidation(all, ref.valSplit, { seed: ref.splitSeed });
  });
}

/** The test side of a DataRef. */
function testData(ref: DataRef, model: Model): Promise<SearchSamples> {
  return once(testCache, JSON.stringify([ref.dir ?? '', ref.own ?? null]), async () =>
    ref.own === undefined ? (await datasetDir(ref.dir)).test : ownSamples(model, ref.own.test, ref.own),
  );
}

/** The samples one trial fine-tunes on and is measured on. */
export async function trialData(ref: DataRef, model: Model): Promise<{ train: SearchSamples; validation: SearchSamples }> {
  const d = await splitData(ref, model);
  return { train: firstSamples(d.train, ref.trainSamples), validation: firstSamples(d.validation, ref.valSamples) };
}
