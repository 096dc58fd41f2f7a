// Whittle's public API: named exports only, one name per thing (no aliases, no namespaces), and
// only what a user calls or implements. Internals (op tables, graph helpers) stay behind it.

// Models: the graph, tensors, reading and writing ONNX, inspecting.
export { WhittleError } from './ir/errors.js';
export type { ErrorCode } from './ir/errors.js';
export { Tensor } from './ir/tensor.js';
export type { DType } from './ir/tensor.js';
export { attr, Graph, GraphBuilder, makeModel } from './ir/graph.js';
export type { Attribute, Dim, Model, Node, ValueInfo } from './ir/graph.js';
export { decodeModel, encodeModel } from './ir/onnx.js';
export { saveModel } from './ir/io.js';
export type { SaveOptions } from './ir/io.js';
export { loadModel } from './load.js';
export type { LoadOptions } from './load.js';
export { inferShapes, modelStats } from './inspect.js';
export type { InferOptions, TypeShape } from './ir/shape.js';
export type { ModelStats, Signature } from './ir/stats.js';

// Building and training.
export { countParameters, createModel, ModelBuilder, ZOO_NAMES } from './nn/index.js';
export type { BuilderOptions, Conv2dOptions, DenseOptions, Pool2dOptions, ZooName, ZooOptions } from './nn/index.js';
export { addGradients } from './autodiff/gradients.js';
export { buildTrainStep, trainableParameters } from './autodiff/train-step.js';
export type { LossContext, StepExtensions, TrainStep, TrainStepOptions } from './autodiff/train-step.js';
export { Optimizer, optimizerFromName } from './autodiff/optimizer.js';
export type { OptimizerConfig } from './autodiff/optimizer.js';
export { scheduleFromName } from './train/schedule.js';
export type { ScheduleConfig, ScheduleOptions } from './train/schedule.js';
export { train } from './train/trainer.js';
export { trainingDefaults, trainingFamily } from './train/defaults.js';
export type { TrainingDefaults, TrainingFamily } from './train/defaults.js';
export type { EpochContext, EpochRecord, ProgressEvent, StepContext, TrainCallback, TrainOptions, TrainResult } from './train/trainer.js';
export type { Recovery } from './train/recovery.js';
export { chooseNormalization, evaluate } from './train/evaluate.js';
export type { EvalOptions, EvalResult, NormalizationTrial } from './train/evaluate.js';
export { compareModels, evaluateTensors } from './train/compare.js';
export type { CompareOptions, ModelComparison } from './train/compare.js';
export type { OutputAgreement } from './train/agreement.js';

// Data.
export {
  loadCifar10,
  loadDataForModel,
  loadIdxDataset,
  normalizeBatch,
  randomTensorDataset,
  splitByRecord,
  splitRecord,
  splitValidation,
  subset,
} from './data/index.js';
export type { DataForModelOptions, Dataset, Normalization, SplitRecord, TensorDataset } from './data/index.js';

// Running: onnxruntime sessions and latency.
export { Session } from './runtime/session.js';
export type { Backend, Feeds, SessionOptions } from './runtime/session.js';
export { compareLatency, timeSession } from './runtime/latency.js';
export type { LatencyCase, LatencyOptions, LatencyRow, LatencySetting } from './runtime/latency.js';

// Transforms: each one step, graph to graph (or a training extension).
export { dependencyGroups, magnitudePrune, pruneChannels, pruneReport, sensitivity, sparseStats } from './compress/prune/index.js';
export type {
  ChannelPruneOptions,
  ChannelPruneResult,
  MagnitudeOptions,
  MaskedModel,
  PruneGroup,
  PruneReport,
  SensitivityOptions,
} from './compress/prune/index.js';
export { groupLassoRegularizer, l1Regularizer, sparsifyVariational, variationalKL, variationalModel } from './compress/regularize/index.js';
export { distillationStep, distillStudent } from './compress/distill/index.js';
export type { DistillOptions, Hint } from './compress/distill/index.js';
export { mergeNeurons } from './compress/merge/index.js';
export type { MergeOptions, MergeResult } from './compress/merge/index.js';
export { deepen, growWhenStuck, widen } from './compress/grow/index.js';
export type { DeepenOptions, GrowPolicy, GrowResult, WidenOptions } from './compress/grow/index.js';
export { calibrate, finalizeQat, foldBatchNorm, prepareQat, quantizeDynamic, quantizeStatic, simulateQdq } from './compress/quantize/index.js';
export type { CalibrationMethod, CalibrationOptions, ModelData, QatOptions, StaticQuantOptions } from './compress/quantize/index.js';
export { kmeansShareWeights, writeKmeansContainer } from './compress/kmeans/index.js';
export { decodeContainer, encodeContainer, readContainer, writeContainer } from './compress/codec/index.js';
export type { ContainerBreakdown, SharedWeight } from './compress/codec/index.js';

// Deployment forms.
export { exportFp16, exportInt4 } from './export/index.js';
export type { Fp16Options, Int4Options } from './export/index.js';
export type { LayerReport, QuantizeResult, SkippedNode } from './export/quant-graph.js';

// Pipelines: multi-stage jobs, one call each, progress through `onEvent`.
export {
  compressToContainer,
  deepCompress,
  distillModel,
  growModel,
  mergeModel,
  pruneModel,
  pruneWithoutData,
  quantizeModel,
  recordedSplit,
  withSplit,
} from './pipeline/index.js';
export type {
  ContainerOptions,
  ContainerRun,
  DeepCompressionOptions,
  DeepCompressionResult,
  DistillModelOptions,
  DistillModelResult,
  GrowModelOptions,
  GrowModelResult,
  KeepFloatChoice,
  LayerPlan,
  MergeModelOptions,
  MergeModelResult,
  PipelineEvent,
  PipelineListener,
  PruneModelData,
  PruneModelOptions,
  PruneModelResult,
  PruneWithoutDataOptions,
  PruneWithoutDataResult,
  QuantFormat,
  QuantizeModelResult,
  QuantizeOptions,
  QuantSchemeName,
  TrainSettings,
} from './pipeline/index.js';

// Recipes: YAML files → pipeline calls.
export { containerOptions, loadDeepCompressionRecipe } from './recipe/deep-compression.js';
export type { DeepCompressionRecipe } from './recipe/deep-compression.js';
