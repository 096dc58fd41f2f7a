// The library's way to open any .onnx file: what `whittle` does with --model, so a library user
// gets the same model as the CLI. It ties ir/ (reading, validation, folding) to ops/ (the shape
// rules folding uses), which ir/ may not import itself.
import { foldConstants } from './ir/fold.js';
import type { Model } from './ir/graph.js';
import { loadModelFile } from './ir/io.js';
import type { WhittleError } from './ir/errors.js';
import { modelProblems } from './ir/problems.js';
import { validateGraph } from './ir/validate.js';
import { SHAPE_RULES } from './ops/index.js';

/** Ops onnxruntime's own constant folding leaves alone, so its QDQ fusion still sees them. */
const AS_SHIPPED: ReadonlySet<string> = new Set(['DequantizeLinear']);

export interface LoadOptions {
  /** Fold constant subgraphs (shape computations, Constant nodes) into initializers; default true. */
  fold?: boolean;
  /**
   * Keep DequantizeLinear of constant (int8/int4/int32) tensors as it is, as onnxruntime does: the
   * model is the file as shipped, its weights still integer (for `info`, `eval`, `bench`). Without
   * it, folding turns a QDQ model's quantized weights into float ones (what a transform that
   * quantizes again wants).
   */
  asShipped?: boolean;
  /**
   * Keep a weight that the file names twice (an Identity of an initializer) as one tensor, for
   * inference transforms and saving (quantize, fp16, info): no second copy in the output. Without
   * it (training, pruning) each name gets its own copy: exporters also deduplicate parameters that
   * merely have equal values, such as fresh BatchNorm statistics of different layers, and those
   * must stay separate parameters.
   */
  shareWeights?: boolean;
  /**
   * What makes the model unusable (an opset onnxruntime cannot run, no outputs, impossible input
   * shapes, NaN/Infinity weights): thrown by default; given this, handed over instead (`info` shows
   * such a model and says what the other commands would refuse).
   */
  onProblems?: (problems: WhittleError[]) => void;
}

/**
 * Reads an .onnx file (external data beside it, sparse initializers densified), checks its
 * structure, and folds what is computable before run time. Any valid ONNX model loads: ops and
 * domains Whittle has no rules for are kept as they are.
 *
 * ```ts
 * import { loadModel, modelStats } from 'whittle';
 * const model = loadModel('mobilenet.onnx');
 * console.log(modelStats(model).params);
 * ```
 */
export function loadModel(path: string, options: LoadOptions = {}): Model {
  const model = loadModelFile(path);
  // Structure first (dangling inputs, duplicate outputs, order), so a broken file fails with a
  // clear message here rather than deep inside onnxruntime.
  validateGraph(model.graph);
  const problems = modelProblems(model, path);
  if (options.onProblems !== undefined) options.onProblems(problems);
  else if (problems[0] !== undefined) throw problems[0];
  if (options.fold === false) return model;
  const shareAliases = options.shareWeights === true;
  return { ...model, graph: foldConstants(model.graph, SHAPE_RULES, options.asShipped === true ? { keep: AS_SHIPPED, shareAliases } : { shareAliases }) };
}
