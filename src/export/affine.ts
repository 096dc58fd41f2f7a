// Uniform affine quantization with ONNX QuantizeLinear's exact rules: q = saturate(round(x / s) + z),
// division in float32, round half to even, saturation to the integer type's range.
import { WhittleError } from '../ir/errors.js';

/** Bit widths Whittle quantizes to. */
export const SUPPORTED_BITS = [2, 4, 8] as const;
export type Bits = (typeof SUPPORTED_BITS)[number];

export interface QuantScheme {
  bits: Bits;
  /** int8/int4/int2 (true) or uint8/uint4/uint2 (false). */
  signed: boolean;
  /** Zero point fixed at 0 (signed) or the middle of the range (unsigned). */
  symmetric: boolean;
  /**
   * Signed 8-bit codes kept in [-64, 63] (7 bits). x86 CPUs without VNNI multiply uint8
   * activations by int8 weights in pairs summed into 16 bits (vpmaddubsw), which saturates for
   * full-range weights (2·255·128 > 32767) and silently corrupts int8 Conv/MatMul outputs there;
   * 7-bit weights cannot overflow it (2·255·64 ≤ 32767). onnxruntime's tool calls it reduce_range.
   */
  reduceRange?: boolean;
}

/** Weights as int8 with the zero point at 0: what static (QDQ) and dynamic int8 both store. */
export const INT8_WEIGHTS: QuantScheme = { bits: 8, signed: true, symmetric: true };
/** INT8_WEIGHTS in 7 bits, for weights an integer kernel multiplies with uint8 activations (see QuantScheme.reduceRange). */
export const INT8_WEIGHTS_REDUCED: QuantScheme = { ...INT8_WEIGHTS, reduceRange: true };

/** The int8 weight scheme: INT8_WEIGHTS_REDUCED when `reduceRange`, else INT8_WEIGHTS. */
export function int8Weights(reduceRange: boolean): QuantScheme {
  return reduceRange ? INT8_WEIGHTS_REDUCED : INT8_WEIGHTS;
}

/** Quantization parameters: one scale and zero point per channel along `axis`, or one (axis undefined). */
export interface QuantParams {
  scale: Float32Array;
  zeroPoint: Int32Array;
  axis: number | undefined;
  scheme: QuantScheme;
}

/** Throws BAD_ARGUMENT unless `bits` is one Whittle supports. */
export function checkBits(bits: number, supported: readonly number[] = SUPPORTED_BITS): Bits {
  if (!supported.includes(bits)) {
    throw new WhittleError('BAD_ARGUMENT', `options.bits '${bits}' is not supported here; choose one of ${supported.join(', ')}`);
  }
  return bits as Bits;
}

/** The integer range [qmin, qmax] of a scheme, e.g. int8 → [-128, 127]. */
export function quantRange(s: Pick<QuantScheme, 'bits' | 'signed' | 'reduceRange'>): [number, number] {
  if (s.reduceRange === true && s.signed && s.bits === 8) return [-64, 63];
  return s.signed ? [-(2 ** (s.bits - 1)), 2 ** (s.bits - 1) - 1] : [0, 2 ** s.bits - 1];
}

/** Rounds to the nearest integer, ties to even (ONNX Round / QuantizeLinear, IEEE default). */
export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  // Math.round sends every .5 up; bring the odd results of exact ties back down.
  return r - x === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** q = saturate(round(x / scale) + zeroPoint), with the division done in float32 as ORT does. */
export function quantizeValue(x: number, scale: number, zeroPoint: number, qmin: number, qmax: number): number {
  const q = roundHalfEven(Math.fround(Math.fround(x) / Math.fround(scale))) + zeroPoint;
  return q < qmin ? qmin : q > qmax ? qmax : q;
}

/** x = (q − zeroPoint) · scale in float32 (ONNX DequantizeLinear). */
export function dequantizeValue(q: number, scale: number, zeroPoint: number): number {
  return Math.fround(Math.fround(q - zeroPoint) * Math.fround(scale));
}

/**
 * Scale and zero point that map the real range [lo, hi] (widened to include 0, so that zero is
 * exact) onto the scheme's integers.
 *
 * ```ts
 * const { scale, zeroPoint } = rangeToParams(-1, 3, { bits: 8, signed: false, symmetric: false });
 * ```
 */
export function rangeToParams(lo: number, hi: number, scheme: QuantScheme): { scale: number; zeroPoint: number } {
  const [qmin, qmax] = quantRange(scheme);
  const a = Math.min(lo, 0);
  const b = Math.max(hi, 0);
  if (scheme.symmetric) {
    const amax = Math.max(Math.abs(a), Math.abs(b));
    // Signed: z = 0 and the range is [-amax, amax] on [-(qmax), qmax] (qmin unused, as in ORT).
    // Unsigned symmetric: z at the middle.
    const half = scheme.signed ? qmax : (qmax - qmin) / 2;
    const scale = amax > 0 ? Math.fround(amax / half) : 1;
    const zeroPoint = scheme.signed ? 0 : Math.ceil((qmax + qmin) / 2);
    return { scale, zeroPoint };
  }
  const span = b - a;
  if (!(span > 0)) return { scale: 1, zeroPoint: scheme.signed ? 0 : qmin };
  const scale = Math.fround(span / (qmax - qmin));
  const zeroPoint = Math.min(qmax, Math.max(qmin, roundHalfEven(qmin - a / scale)));
  return { scale, zeroPoint };
}

/** Per-channel (along `axis`) or per-tensor min and max of a row-major array of shape `dims`. */
export function channelRanges(data: ArrayLike<number>, dims: readonly number[], axis: number | undefined): { lo: Float64Array; hi: Float64Array } {
  const channels = axis === undefined ? 1 : (dims[axis] ?? 1);
  const inner = axis === undefined ? data.length : dims.slice(axis + 1).reduce((a, d) => a * d, 1);
  const lo = new Float64Array(channels).fill(Infinity);
  const hi = new Float64Array(channels).fill(-Infinity);
  for (let i = 0; i < data.length; i++) {
    const c = axis === undefined ? 0 : Math.floor(i / inner) % channels;
    const v = data[i] as number;
    if (v < (lo[c] as number)) lo[c] = v;
    if (v > (hi[c] as number)) hi[c] = v;
  }
  return { lo, hi };
}

/**
 * Min-max quantization parameters for a weight tensor, per channel along `axis` or per tensor.
 *
 * ```ts
 * const p = weightParams(w.data, w.dims, { bits: 8, signed: true, symmetric: true }, 0);
 * ```
 */
export function weightParams(data: ArrayLike<number>, dims: readonly number[], scheme: QuantScheme, axis: number | undefined): QuantParams {
  const { lo, hi } = channelRanges(data, dims, axis);
  const scale = new Float32Array(lo.length);
  const zeroPoint = new Int32Array(lo.length);
  for (let c = 0; c < lo.length; c++) {
    const p = rangeToParams(lo[c] as number, hi[c] as number, scheme);
    scale[c] = p.scale;
    zeroPoint[c] = p.zeroPoint;
  }
  return { scale, zeroPoint, axis, scheme };
}

/** Integer codes of `data` under `p` (values in the scheme's range). */
export function quantizeArray(data: ArrayLike<number>, dims: readonly number[], p: QuantParams): Int32Array {
  const [qmin, qmax] = quantRange(p.scheme);
  const channels = p.scale.length;
  const inner = p.axis === undefined ? data.length : dims.slice(p.axis + 1).reduce((a, d) => a * d, 1);
  const out = new Int32Array(data.length);
  for (let i = 0; i < data.length; i++) {
    const c = p.axis === undefined ? 0 : Math.floor(i / inner) % channels;
    out[i] = quantizeValue(data[i] as number, p.scale[c] as number, p.zeroPoint[c] as number, qmin, qmax);
  }
  return out;
}

/** Real values of integer codes under `p`. */
export function dequantizeArray(q: ArrayLike<number>, dims: readonly number[], p: QuantParams): Float32Array {
  const channels = p.scale.length;
  const inner = p.axis === undefined ? q.length : dims.slice(p.axis + 1).reduce((a, d) => a * d, 1);
  const out = new Float32Array(q.length);
  for (let i = 0; i < q.length; i++) {
    const c = p.axis === undefined ? 0 : Math.floor(i / inner) % channels;
    out[i] = dequantizeValue(q[i] as number, p.scale[c] as number, p.zeroPoint[c] as number);
  }
  return out;
}

/** Quantize then dequantize: the values a quantized model computes with. */
export function fakeQuantizeArray(data: ArrayLike<number>, dims: readonly number[], p: QuantParams): Float32Array {
  return dequantizeArray(quantizeArray(data, dims, p), dims, p);
}
