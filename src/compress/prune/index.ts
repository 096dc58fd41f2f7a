// Pruning: unstructured magnitude pruning with masks for fine-tuning, structured filter/neuron
// pruning over coupled groups with thinning, schedules, sensitivity analysis, sparse storage.
export { magnitudePrune, magnitudePrune as magnitude, masksFromZeros, layerSparsity } from './magnitude.js';
export type { LayerSparsity, MagnitudeOptions, MaskedModel, PruneScope } from './magnitude.js';
export { checkSparsity, isLinearLayer, prunableLayers, resolveLayers } from './layers.js';
export type { PrunableLayer } from './layers.js';
export { dependencyGroups } from '../../graph/dependency.js';
export type { GroupMember, PruneGroup } from '../../graph/dependency.js';
export { followFlattenReshapes, gatherAxis, thinChannels } from '../../graph/thin.js';
export { activationImportance, magnitudeImportance, topChannels } from './importance.js';
export type { ActivationStats, ImportanceKind } from './importance.js';
export { activationStats } from './activations.js';
export type { CalibrationOptions } from './activations.js';
export {
  AUTO_CONV_ROUND_TO,
  autoRoundsAny,
  CHANNEL_ROUNDINGS,
  checkRounding,
  groupRoundTo,
  pruneChannels,
  pruneChannels as channels,
  roundedKeep,
} from './structured.js';
export { sparsityForFlops } from './budget.js';
export type { FlopsBudgetResult } from './budget.js';
export type { ChannelPruneOptions, ChannelPruneResult, ChannelRoundTo, ChannelRounding, GroupResult } from './structured.js';
export { agpCallback, agpChannelPrune, agpMaskedWeights, agpPrune, agpSparsity, fineTuneMasked, iterativePrune } from './schedule.js';
export type { AgpChannelOptions, AgpOptions, IterationRecord, IterativeOptions, PruneStep } from './schedule.js';
export { proposeForTarget, proposeSparsities, sensitivity } from './sensitivity.js';
export type { LayerSensitivity, SensitivityOptions, SensitivityPoint } from './sensitivity.js';
export { decodeSparse, encodeSparse, sparseStats } from './sparse.js';
export type { SparseForm, SparseStats, TensorStorage } from './sparse.js';
export { pruneReport } from './report.js';
export type { LayerReport, PruneReport } from './report.js';
export { decodeSparseOnnx, encodeSparseOnnx, loadSparseOnnxFile } from './sparse-onnx.js';
export type { SparseOnnxOptions } from './sparse-onnx.js';
