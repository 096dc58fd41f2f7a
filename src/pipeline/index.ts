// Multi-stage jobs, each one typed function: options object in, result object out, progress
// through a callback (nothing printed). The CLI maps flags to exactly one of these.
export {
  type DeepCompressionOptions,
  type DeepCompressionResult,
  type FineTune,
  type LayerPlan,
  type StageEvent,
  type StageName,
  deepCompress,
  expandLayerPlans,
} from './deep-compression.js';
export {
  type QuantFormat,
  type QuantSchemeName,
  type QuantizeModelResult,
  type QuantizeOptions,
  QUANT_FORMATS,
  QUANT_SCHEMES,
  quantizeModel,
  resolveQuantizeOptions,
} from './quantize.js';
export { type PipelineEvent, type PipelineListener, type TrainSettings } from './events.js';
export {
  type PruneGranularity,
  type PruneMethod,
  type PruneModelData,
  type PruneModelOptions,
  type PruneModelResult,
  type PruneSchedule,
  type PruneWithoutDataOptions,
  type PruneWithoutDataResult,
  PRUNE_GRANULARITIES,
  PRUNE_METHODS,
  PRUNE_SCHEDULES,
  checkPruneOptions,
  pruneModel,
  pruneWithoutData,
} from './prune.js';
export { type ContainerLayer, type ContainerOptions, type ContainerRun, compressToContainer, denseParameterBytes, layerBreakdown } from './container.js';
export { NORMALIZE_KEY, recordedSplit, SPLIT_KEY, withNormalization, withSplit } from './metadata.js';
export { type DistillModelOptions, type DistillModelResult, type StudentResult, distillModel } from './distill.js';
export {
  type GrowModelOptions,
  type GrowModelResult,
  type MergeModelOptions,
  type MergeModelResult,
  OUTPUT_CHANGE_SAMPLES,
  growModel,
  mergeModel,
} from './grow.js';
export { type KeepFloatChoice, fewInputChannelConvs } from './quantize.js';
