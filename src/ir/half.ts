// IEEE half precision (binary16), bit-exact: fp16 weight export and the Deep Compression
// container (codebooks and biases stored in 2 bytes when every value survives the round trip).
const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** float32 → float16 bits, rounding to nearest even (overflow → ±Infinity). */
export function toHalfBits(v: number): number {
  f32[0] = v;
  const x = u32[0] as number;
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant !== 0 ? 0x200 : 0);
  const e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    let h = mant >>> shift;
    const rem = mant & ((1 << shift) - 1);
    const half = 1 << (shift - 1);
    if (rem > half || (rem === half && (h & 1) === 1)) h++;
    return sign | h;
  }
  let h = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && (h & 1) === 1)) h++;
  return sign | h;
}

/** float16 bits → number. */
export function fromHalfBits(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >>> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0) return s * m * 2 ** -24;
  if (e === 31) return m !== 0 ? Number.NaN : s * Number.POSITIVE_INFINITY;
  return s * (1 + m / 1024) * 2 ** (e - 15);
}

/** True when every value is exactly a float16 (so 2 bytes store it losslessly). */
export function halfExact(values: Float32Array): boolean {
  for (const v of values) if (!Object.is(fromHalfBits(toHalfBits(v)), v)) return false;
  return true;
}

/**
 * The values rounded to the nearest float16, kept as float32.
 *
 * ```ts
 * roundToHalf(Float32Array.of(0.1)); // Float32Array [0.0999755859375]
 * ```
 */
export function roundToHalf(values: Float32Array): Float32Array {
  return values.map((v) => fromHalfBits(toHalfBits(v)));
}
