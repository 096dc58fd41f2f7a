// Quantization: uniform affine math, calibration, PTQ (static QDQ and dynamic), QAT with
// straight-through estimators, binary/ternary weights, clipping.
export {
  type Bits,
  type QuantParams,
  type QuantScheme,
  SUPPORTED_BITS,
  checkBits,
  dequantizeArray,
  dequantizeValue,
  fakeQuantizeArray,
  quantRange,
  quantizeArray,
  quantizeValue,
  rangeToParams,
  roundHalfEven,
  weightParams,
} from '../../export/affine.js';
export { type ActivationRange, type CalibrationMethod, type CalibrationOptions, CALIBRATION_METHODS, calibrate, checkCalibrationShape } from './calibrate.js';
export { type ActivationClip, ACTIVATION_CLIPS, clipActivations, clipWeights, layerWeights, pactToClip, weightClipCallback } from './clip.js';
export { type DynamicQuantOptions, quantizeDynamic, quantizeSubgraphsDynamic } from './dynamic.js';
export { type ModelData, checkFeeds, collectFeeds } from './feeds.js';
export { type SkippedNode, foldWeightTransposes } from '../../export/quant-graph.js';
export { graphValueTypes, valueTypes } from '../../ir/value-types.js';
export { foldBatchNorm } from './fold-bn.js';
export { foldHardSwish } from './fold-hardswish.js';
export { type QatOptions, type QatPlan, type QatScheme, QAT_SCHEMES, prepareQat } from './qat.js';
export { binarize, finalizeQat, qatPlanOf, ternarize } from './qat-finalize.js';
export { simulateQdq } from './simulate.js';
export {
  type LayerReport,
  type QdqConsumer,
  type QdqPlan,
  type QuantizeResult,
  type StaticQuantOptions,
  QDQ_OPS,
  buildQdq,
  planQdq,
  quantizeStatic,
} from './static.js';
