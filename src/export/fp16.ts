// fp16 export: every float32 weight stored as IEEE half (half the bytes) and cast back to float32
// in the graph; onnxruntime folds the casts at load, so inference runs its float32 kernels.
import type { Model } from '../ir/graph.js';
import { attr, GraphBuilder } from '../ir/graph.js';
import { toHalfBits } from '../ir/half.js';
import { Tensor } from '../ir/tensor.js';

/** float32 ↔ IEEE binary16 bits (round to nearest even); the same conversion the container uses. */
export { fromHalfBits as fromFloat16Bits, toHalfBits as toFloat16Bits } from '../ir/half.js';

/**
 * Stores every float32 initializer as float16, with a Cast back to float32 where it is read.
 *
 * ```ts
 * saveModel(exportFp16(model), 'model-fp16.onnx');
 * ```
 */
export function exportFp16(model: Model): Model {
  const g = model.graph.clone();
  const b = new GraphBuilder(g, 'fp16');
  const casts = [];
  for (const [name, t] of [...g.initializers]) {
    if (t.dtype !== 'float32') continue;
    const h = new Uint16Array(t.size);
    for (let i = 0; i < t.size; i++) h[i] = toHalfBits(t.data[i] as number);
    const half = `${name}.fp16`;
    g.initializers.delete(name);
    g.initializers.set(half, new Tensor('float16', t.dims, h));
    casts.push({ name: b.fresh(`${name}.cast`), opType: 'Cast', domain: '', inputs: [half], outputs: [name], attributes: { to: attr.int(1) } });
  }
  g.nodes = [...casts, ...g.nodes];
  return { ...model, graph: g, metadata: { ...model.metadata, 'whittle.quantization': 'fp16-weights' } };
}
