// fp16 export: every float32 weight stored as IEEE half (half the bytes) and cast back to float32
// in the graph; onnxruntime folds the casts at load, so inference runs its float32 kernels.
import type { Model } from '../ir/graph.js';
import { attr, GraphBuilder } from '../ir/graph.js';
import { Tensor } from '../ir/tensor.js';

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** float32 → IEEE 754 binary16 bits, round to nearest even (overflow → ±Inf, NaN kept). */
export function toFloat16Bits(value: number): number {
  f32[0] = value;
  const x = u32[0] as number;
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  const e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    // Subnormal half: shift the implicit bit in, round half to even.
    mant |= 0x800000;
    const shift = 14 - e;
    const half = 1 << (shift - 1);
    let m = mant >>> shift;
    const rest = mant & ((1 << shift) - 1);
    if (rest > half || (rest === half && (m & 1) === 1)) m++;
    return sign | m;
  }
  let h = sign | (e << 10) | (mant >>> 13);
  const rest = mant & 0x1fff;
  // Carry into the exponent is the right result (it may round up to Inf).
  if (rest > 0x1000 || (rest === 0x1000 && (h & 1) === 1)) h++;
  return h;
}

/** IEEE binary16 bits → number. */
export function fromFloat16Bits(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >>> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 0x1f) return mant ? NaN : sign * Infinity;
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}

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
    for (let i = 0; i < t.size; i++) h[i] = toFloat16Bits(t.data[i] as number);
    const half = `${name}.fp16`;
    g.initializers.delete(name);
    g.initializers.set(half, new Tensor('float16', t.dims, h));
    casts.push({ name: b.fresh(`${name}.cast`), opType: 'Cast', domain: '', inputs: [half], outputs: [name], attributes: { to: attr.int(1) } });
  }
  g.nodes = [...casts, ...g.nodes];
  return { ...model, graph: g, metadata: { ...model.metadata, 'whittle.quantization': 'fp16-weights' } };
}
