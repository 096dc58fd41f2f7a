// k-means weight sharing (the Deep Compression pipeline that uses it is src/pipeline/deep-compression.ts).
export { type KMeansResult, kmeans1d } from './kmeans.js';
export {
  CODEBOOK_SUFFIX,
  denseFromShared,
  kmeansShareWeights,
  readCodebooks,
  resolveWeight,
  sharedTrainingModel,
  withSharedValues,
} from './share.js';
export { type KmeansContainerOptions, writeKmeansContainer } from './container.js';
