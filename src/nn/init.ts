// Seeded parameter initialization: the same seed gives bit-identical weights on every machine,
// because the generator is a pure 32-bit integer recurrence (no Math.random, no platform RNG).
import { WhittleError } from '../ir/errors.js';
import { Tensor } from '../ir/tensor.js';

/**
 * A seeded pseudo-random generator (mulberry32) with uniform and normal samplers.
 *
 * ```ts
 * const rng = new Rng(42);
 * const u = rng.uniform(); // in [0, 1)
 * const z = rng.normal(); // standard normal
 * ```
 */
export class Rng {
  #state: number;
  #spare: number | undefined;

  constructor(seed: number) {
    if (!Number.isFinite(seed)) throw new WhittleError('BAD_ARGUMENT', `seed must be a finite number, got ${seed}`);
    this.#state = Math.trunc(seed) >>> 0;
  }

  /** A uniform sample in [0, 1), 32 bits of resolution. */
  uniform(): number {
    this.#state = (this.#state + 0x6d2b79f5) >>> 0;
    let t = this.#state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** A uniform sample in [lo, hi). */
  uniformIn(lo: number, hi: number): number {
    return lo + (hi - lo) * this.uniform();
  }

  /** A standard normal sample (Box–Muller; the second value of each pair is kept for the next call). */
  normal(): number {
    if (this.#spare !== undefined) {
      const z = this.#spare;
      this.#spare = undefined;
      return z;
    }
    // 1 - u lies in (0, 1], so the log is finite.
    const r = Math.sqrt(-2 * Math.log(1 - this.uniform()));
    const theta = 2 * Math.PI * this.uniform();
    this.#spare = r * Math.sin(theta);
    return r * Math.cos(theta);
  }
}

/** How a weight tensor is initialized. */
export type InitKind = 'he' | 'glorot';

/** Fan-in and fan-out of a weight stored PyTorch-style: [out, in] or [outC, inC/groups, kh, kw]. */
export function fans(dims: readonly number[]): { fanIn: number; fanOut: number } {
  if (dims.length < 2) throw new WhittleError('BAD_ARGUMENT', `a weight needs at least 2 dimensions [out, in, ...], got [${dims.join(', ')}]`);
  let receptive = 1;
  for (const d of dims.slice(2)) receptive *= d;
  return { fanIn: (dims[1] as number) * receptive, fanOut: (dims[0] as number) * receptive };
}

/**
 * Kaiming/He normal init (fan_in, gain √2): N(0, 2 / fan_in). For layers followed by ReLU.
 *
 * ```ts
 * const w = heNormal(new Rng(0), [300, 784]); // std ≈ sqrt(2 / 784)
 * ```
 */
export function heNormal(rng: Rng, dims: readonly number[]): Tensor {
  const std = Math.sqrt(2 / fans(dims).fanIn);
  const t = new Tensor('float32', dims);
  const d = t.data as Float32Array;
  for (let i = 0; i < d.length; i++) d[i] = std * rng.normal();
  return t;
}

/**
 * Glorot/Xavier uniform init: U(-a, a) with a = √(6 / (fan_in + fan_out)). For layers not
 * followed by ReLU.
 *
 * ```ts
 * const w = glorotUniform(new Rng(0), [10, 100]);
 * ```
 */
export function glorotUniform(rng: Rng, dims: readonly number[]): Tensor {
  const { fanIn, fanOut } = fans(dims);
  const a = Math.sqrt(6 / (fanIn + fanOut));
  const t = new Tensor('float32', dims);
  const d = t.data as Float32Array;
  for (let i = 0; i < d.length; i++) d[i] = rng.uniformIn(-a, a);
  return t;
}

/**
 * A weight initialized by `kind`.
 *
 * ```ts
 * const w = initWeight(new Rng(1), [20, 1, 5, 5], 'glorot');
 * ```
 */
export function initWeight(rng: Rng, dims: readonly number[], kind: InitKind): Tensor {
  return kind === 'he' ? heNormal(rng, dims) : glorotUniform(rng, dims);
}

/** A float32 tensor filled with `value` (zero biases, BatchNorm scale 1, running variance 1). */
export function filled(dims: readonly number[], value: number): Tensor {
  const t = new Tensor('float32', dims);
  (t.data as Float32Array).fill(value);
  return t;
}
