// Datasets, seeded shuffling and batching. Imports nothing of Whittle but ir/errors.
export { type Dataset, type DatasetArrays, type DatasetSplits, concatDatasets, createDataset, labelHistogram, sampleSize, subset } from './dataset.js';
export { DEFAULT_VALIDATION_FRACTION, splitValidation } from './split.js';
export { type IdxArray, decodeIdx, encodeIdx, readIdx } from './idx.js';
export { IDX_DATASET_FILES, defaultMnistDir, loadIdxDataset } from './mnist.js';
export { CIFAR10_SHAPE, CIFAR10_TEST_FILE, CIFAR10_TRAIN_FILES, loadCifar10, parseCifar10 } from './cifar.js';
export { type Rng, createRng, deriveSeed, shuffledIndices } from './rng.js';
export {
  type Batch,
  type BatchOptions,
  type Normalization,
  NORMALIZATIONS,
  batchCount,
  batches,
  epochOrder,
  gatherLabels,
  normalizeBatch,
  normalizeValue,
  parseNormalization,
} from './batches.js';
