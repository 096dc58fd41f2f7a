// Datasets, seeded shuffling and batching. Imports nothing of Whittle but ir/.
export {
  type Dataset,
  type DatasetArrays,
  type DatasetSplits,
  checkLabelRange,
  concatDatasets,
  createDataset,
  labelHistogram,
  sampleSize,
  subset,
} from './dataset.js';
export {
  type SplitRecord,
  DEFAULT_VALIDATION_FRACTION,
  concatSamples,
  datasetFingerprint,
  firstSamples,
  parseSplitRecord,
  splitByRecord,
  splitRecord,
  splitValidation,
} from './split.js';
export { type IdxArray, decodeIdx, encodeIdx, readIdx } from './idx.js';
export { IDX_DATASET_FILES, defaultMnistDir, loadIdxDataset } from './mnist.js';
export { CIFAR10_SHAPE, CIFAR10_TEST_FILE, CIFAR10_TRAIN_FILES, loadCifar10, parseCifar10 } from './cifar.js';
export { type Rng, createRng, deriveSeed, shuffledIndices } from './rng.js';
export { shiftImages } from './augment.js';
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
  normalizationAffine,
  normalizeValue,
  parseNormalization,
} from './batches.js';
export { type NpyArray, decodeNpy, encodeNpy, readNpy } from './npy.js';
export { decodeNpz, readNpz, readZipEntries } from './npz.js';
export { type JsonlArrays, parseJsonl, readJsonl } from './jsonl.js';
export { type ImageOptions, type RgbaImage, IMAGE_EXTENSIONS, decodeImage, listImageFolder, readImageFolder, resizeBilinear } from './image-folder.js';
export {
  type SampleTensor,
  type TensorDataset,
  castData,
  concatTensorDatasets,
  createTensorDataset,
  isTensorDataset,
  labelsFromArray,
  sampleFeed,
  selectTensorDataset,
  sliceTensorDataset,
  tensorBatch,
  tensorDatasetFromImages,
} from './tensor-dataset.js';
export { type RandomDataOptions, bindArrays, feedInputs, fixedBatchSize, randomTensorDataset } from './bind.js';
export { type DataForModelOptions, type DataSourceKind, detectDataSource, loadDataForModel, loadLabelledForModel } from './source.js';
export {
  type BatchPosition,
  type BatchSource,
  type ImageSourceOptions,
  type RunBatchesOptions,
  type SampleBatch,
  type TensorSourceOptions,
  imageSource,
  rowSource,
  runBatches,
  tensorSource,
} from './runner.js';
