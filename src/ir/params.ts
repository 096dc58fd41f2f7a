// Which initializers are trainable parameters: one definition, shared by the trainer (what the
// optimizer updates) and by parameter counting (what PyTorch's `sum(p.numel())` reports).
import type { Graph, Node } from './graph.js';
import type { DType } from './tensor.js';

/** Initializer slots that are hyper-parameters or statistics, never trained. */
function nonTrainableSlots(n: Node): number[] {
  switch (n.opType) {
    case 'BatchNormalization':
      return [3, 4];
    case 'Dropout':
    case 'Pow':
    case 'Clip':
      return [1, 2];
    default:
      return [];
  }
}

const TRAINABLE_DTYPES: ReadonlySet<DType> = new Set<DType>(['float32', 'float64']);

/**
 * Float initializers that are weights, whatever their names (imported models name them
 * `onnx::Conv_12`, `fc.0.weight`, ...): non-scalar, read by some node, and not a BatchNorm
 * statistic or an op's hyper-parameter slot. `dtypes` defaults to float32/float64 (what training
 * updates); counting passes float16 too.
 *
 * ```ts
 * trainableInitializers(createModel('lenet-300-100').graph); // ['fc1.weight', 'fc1.bias', ...]
 * ```
 */
export function trainableInitializers(graph: Graph, frozen: readonly string[] = [], dtypes: ReadonlySet<DType> = TRAINABLE_DTYPES): string[] {
  const excluded = new Set(frozen);
  for (const n of graph.nodes) for (const i of nonTrainableSlots(n)) if (n.inputs[i]) excluded.add(n.inputs[i] as string);
  const used = new Set(graph.nodes.flatMap((n) => n.inputs));
  return [...graph.initializers].filter(([k, t]) => dtypes.has(t.dtype) && t.dims.length > 0 && used.has(k) && !excluded.has(k)).map(([k]) => k);
}
