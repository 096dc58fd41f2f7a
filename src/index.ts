// Whittle's public API: named exports only.
export { WhittleError } from './ir/errors.js';
export type { ErrorCode } from './ir/errors.js';
export { Tensor } from './ir/tensor.js';
export type { DType } from './ir/tensor.js';
export { attr, Graph, GraphBuilder, makeModel } from './ir/graph.js';
export type { Attribute, Dim, Model, Node, ValueInfo } from './ir/graph.js';
export { decodeModel, decodeTensor, encodeModel } from './ir/onnx.js';
export { loadModelFile, saveModel } from './ir/io.js';
export type { SaveOptions } from './ir/io.js';
export { loadModel } from './load.js';
export type { LoadOptions } from './load.js';
export { inferShapes } from './ir/shape.js';
export type { InferOptions, TypeShape } from './ir/shape.js';
export { modelStats } from './ir/stats.js';
export type { ModelStats, Signature } from './ir/stats.js';
export { OPS, SHAPE_RULES } from './ops/index.js';
export type { OpDef } from './ops/index.js';
export { addGradients } from './autodiff/gradients.js';
export { buildTrainStep, trainableParameters } from './autodiff/train-step.js';
export { Optimizer, optimizerFromName } from './autodiff/optimizer.js';
export type { OptimizerConfig } from './autodiff/optimizer.js';
export { BACKENDS, Session } from './runtime/session.js';
export type { Backend, SessionOptions } from './runtime/session.js';
export { compareLatency, timeSession } from './runtime/latency.js';
export type { LatencyCase, LatencyOptions, LatencyRow, LatencySetting } from './runtime/latency.js';
export * as nn from './nn/index.js';
export { createModel, ZOO_NAMES } from './nn/index.js';
export * as data from './data/index.js';
export { loadIdxDataset, splitValidation } from './data/index.js';
export type { Dataset, Normalization } from './data/index.js';
export { train } from './train/trainer.js';
export type { EpochRecord, ProgressEvent, TrainOptions, TrainResult } from './train/trainer.js';
export type { Recovery } from './train/recovery.js';
export { evaluate } from './train/evaluate.js';
export { compareModels, evaluateTensors } from './train/compare.js';
export type { CompareOptions, ModelComparison } from './train/compare.js';
export { AgreementMeter, outputAgreement } from './train/agreement.js';
export type { OutputAgreement } from './train/agreement.js';
export { loadDataForModel, randomTensorDataset } from './data/index.js';
export type { DataForModelOptions, TensorDataset } from './data/index.js';
export { learningRate, scheduleFromName } from './train/schedule.js';
export type { ScheduleConfig } from './train/schedule.js';
export * as prune from './compress/prune/index.js';
export { magnitudePrune, pruneChannels, thinChannels, dependencyGroups, sparseStats } from './compress/prune/index.js';
export type { MagnitudeOptions, MaskedModel, PruneGroup, ChannelPruneOptions, PruneReport } from './compress/prune/index.js';
export { groupLassoRegularizer, l1Regularizer } from './compress/regularize/index.js';
export * as distill from './compress/distill/index.js';
export { distillationStep, distillStudent } from './compress/distill/index.js';
export type { DistillOptions, Hint } from './compress/distill/index.js';
export * as merge from './compress/merge/index.js';
export { maxAbsOutputChange, mergeNeurons } from './compress/merge/index.js';
export type { MergeOptions, MergeResult } from './compress/merge/index.js';
export * as grow from './compress/grow/index.js';
export { growWhenStuck } from './compress/grow/index.js';
export type { GrowPolicy, GrowResult } from './compress/grow/index.js';
export * as codec from './compress/codec/index.js';
export { decodeContainer, encodeContainer, huffmanCodeLengths, readContainer, writeContainer } from './compress/codec/index.js';
export type { ContainerBreakdown, SharedWeight } from './compress/codec/index.js';
export * as kmeans from './compress/kmeans/index.js';
export { deepCompress, kmeans1d, kmeansShareWeights, writeKmeansContainer } from './compress/kmeans/index.js';
export type { DeepCompressionOptions, DeepCompressionResult, LayerPlan } from './compress/kmeans/index.js';
export * as quantize from './compress/quantize/index.js';
export { quantizeModel, quantizeStatic, quantizeDynamic, prepareQat, finalizeQat, simulateQdq, calibrate, foldBatchNorm } from './compress/quantize/index.js';
export type {
  QuantizeOptions,
  QuantizeModelResult,
  QuantSchemeName,
  QuantFormat,
  CalibrationMethod,
  LayerReport,
  ModelData,
  SkippedNode,
} from './compress/quantize/index.js';
export { exportFp16, exportInt4, FP16_DEFAULT_BLOCK } from './export/index.js';
export type { Fp16Options } from './export/index.js';
