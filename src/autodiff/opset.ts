// The training graph's opset. Gradient rules, the in-graph optimizer and the training Loop emit
// opset-17 nodes (axes as inputs, BatchNormalization's training_mode, LayerNormalization), so a
// model exported at an older opset has its forward nodes rewritten to their opset-17 forms first
// (ir/opset.ts: the one upgrader) — same math, one coherent opset for the whole graph.
import type { Model } from '../ir/graph.js';
import { upgradeOpset } from '../ir/opset.js';
import { SHAPE_RULES } from '../ops/index.js';

/** The default-domain opset training graphs are built at. */
export const TRAINING_OPSET = 17;

/**
 * Returns `model` in its opset-17 form (any opset from 7 on); a model at 17 or newer is returned
 * as it is.
 *
 * ```ts
 * const m17 = upgradeToTrainingOpset(await loadModel('resnet.opset13.onnx'));
 * ```
 */
export function upgradeToTrainingOpset(model: Model): Model {
  return upgradeOpset(model, TRAINING_OPSET, { rules: SHAPE_RULES });
}
