// k-means weight sharing and the Deep Compression pipeline (prune → share → fine-tune centroids).
export { type KMeansResult, kmeans1d } from './kmeans.js';
export { CODEBOOK_SUFFIX, denseFromShared, kmeansShareWeights, readCodebooks, sharedTrainingModel, withSharedValues } from './share.js';
export {
  type DeepCompressionOptions,
  type DeepCompressionResult,
  type FineTune,
  type LayerPlan,
  type StageEvent,
  type StageName,
  deepCompress,
  resolveWeight,
} from './pipeline.js';
export { type KmeansContainerOptions, writeKmeansContainer } from './container.js';
