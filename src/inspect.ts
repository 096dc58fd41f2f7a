// Model statistics and shape inference with Whittle's own op rules filled in: what a library user
// calls (ir/ cannot name the rules itself; they live in ops/, above it).
import type { Graph, Model } from './ir/graph.js';
import { constantValues, inferShapes as inferWithRules } from './ir/shape.js';
import type { InferOptions, TypeShape } from './ir/shape.js';
import { modelStats as statsWithRules } from './ir/stats.js';
import type { ModelStats } from './ir/stats.js';
import { SHAPE_RULES } from './ops/index.js';

/**
 * Parameters, nonzeros, bytes, FLOPs and op counts of a model.
 *
 * ```ts
 * import { loadModel, modelStats } from 'whittle';
 * console.log(modelStats(loadModel('mobilenet.onnx')).params);
 * ```
 */
export function modelStats(model: Model, options: { known?: ReadonlyMap<string, TypeShape> } = {}): ModelStats {
  return statsWithRules(model, SHAPE_RULES, options);
}

/**
 * The type and shape of every value of a graph (recorded in `graph.valueInfo` too).
 *
 * ```ts
 * const shapes = inferShapes(model.graph);
 * shapes.get('logits'); // { dtype: 'float32', shape: ['batch', 10] }
 * ```
 */
export function inferShapes(graph: Graph, options: InferOptions = {}): Map<string, TypeShape> {
  return inferWithRules(graph, SHAPE_RULES, constantValues(graph), options);
}
