// The model's layer table for the report: each node that reads parameters, with their sizes and
// how many are nonzero.
import type { Model } from '../ir/graph.js';

export interface LayerRow {
  name: string;
  op: string;
  /** Shape of the layer's largest parameter (its weight). */
  weightShape: number[];
  params: number;
  nonzeros: number;
}

/**
 * One row per node that reads an initializer (Gemm, Conv, MatMul, BatchNormalization, ...).
 *
 * ```ts
 * layerRows(createModel('lenet-300-100')); // [{ name: 'fc1', op: 'Gemm', weightShape: [300, 784], ... }, ...]
 * ```
 */
export function layerRows(model: Model): LayerRow[] {
  const rows: LayerRow[] = [];
  const seen = new Set<string>();
  for (const node of model.graph.nodes) {
    const params = node.inputs.filter((i) => model.graph.initializers.has(i) && !seen.has(i));
    const tensors = params.map((i) => model.graph.initializers.get(i)!).filter((t) => t.dtype.startsWith('float') && t.dims.length > 0);
    if (tensors.length === 0) continue;
    for (const p of params) seen.add(p);
    let size = 0;
    let nonzeros = 0;
    let weight = tensors[0]!;
    for (const t of tensors) {
      size += t.size;
      for (let k = 0; k < t.size; k++) if ((t.data[k] as number) !== 0) nonzeros++;
      if (t.size > weight.size) weight = t;
    }
    rows.push({ name: node.name || node.opType, op: node.opType, weightShape: [...weight.dims], params: size, nonzeros });
  }
  return rows;
}
