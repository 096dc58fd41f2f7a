import { WhittleError } from '../ir/errors.js';

/** A seeded pseudo-random generator; the same seed always yields the same sequence. */
export interface Rng {
  /** A float in [0, 1) with 32 random bits. */
  next(): number;
  /** An unsigned 32-bit integer. */
  nextUint32(): number;
}

const TWO_POW_32 = 4294967296;

/** One splitmix32 output: turns correlated seeds (0, 1, 2, …) into unrelated states. */
function splitmix32(x: number): number {
  let z = (x + 0x9e3779b9) | 0;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return (z ^ (z >>> 16)) >>> 0;
}

function checkSeed(seed: number, what: string): void {
  if (!Number.isSafeInteger(seed)) {
    throw new WhittleError('BAD_ARGUMENT', `${what} must be an integer, got ${seed}; pass e.g. 42`);
  }
}

/** Splits a safe integer into its low and high 32-bit words (two's complement for negatives). */
function words(n: number): [number, number] {
  return [n >>> 0, Math.floor(n / TWO_POW_32) >>> 0];
}

/** xoshiro128** (Blackman & Vigna): fast, 128-bit state, passes BigCrush. */
class Xoshiro128 implements Rng {
  #s0: number;
  #s1: number;
  #s2: number;
  #s3: number;

  constructor(s0: number, s1: number, s2: number, s3: number) {
    this.#s0 = s0 | 0;
    this.#s1 = s1 | 0;
    this.#s2 = s2 | 0;
    this.#s3 = s3 | 0;
    // An all-zero state would emit zeros forever.
    if ((this.#s0 | this.#s1 | this.#s2 | this.#s3) === 0) this.#s0 = 1;
  }

  nextUint32(): number {
    const s1 = this.#s1;
    const m = Math.imul(s1, 5);
    const result = Math.imul((m << 7) | (m >>> 25), 9);
    const t = s1 << 9;
    this.#s2 ^= this.#s0;
    this.#s3 ^= s1;
    this.#s1 ^= this.#s2;
    this.#s0 ^= this.#s3;
    this.#s2 ^= t;
    this.#s3 = (this.#s3 << 11) | (this.#s3 >>> 21);
    return result >>> 0;
  }

  next(): number {
    return this.nextUint32() / TWO_POW_32;
  }
}

/**
 * Creates a seeded random generator (xoshiro128**). The seed is any safe integer.
 *
 * ```ts
 * const rng = createRng(42);
 * const u = rng.next(); // same value on every run with seed 42
 * ```
 */
export function createRng(seed: number): Rng {
  checkSeed(seed, 'seed');
  const [lo, hi] = words(seed);
  const s0 = splitmix32(lo);
  const s1 = splitmix32(s0 ^ hi);
  const s2 = splitmix32(s1 ^ 0x6a09e667);
  return new Xoshiro128(s0, s1, s2, splitmix32(s2 ^ 0xbb67ae85));
}

/** A xoshiro128** generator started from an explicit 128-bit state; for checks against the reference outputs. */
export function rngFromState(s0: number, s1: number, s2: number, s3: number): Rng {
  return new Xoshiro128(s0, s1, s2, s3);
}

/**
 * Derives an independent seed for one epoch (or any other stream) of a run, so that epoch `e` of
 * a resumed run draws exactly what epoch `e` of the original run drew.
 *
 * ```ts
 * const rng = createRng(deriveSeed(42, 3)); // the generator for epoch 3 of seed 42
 * ```
 */
export function deriveSeed(seed: number, stream: number): number {
  checkSeed(seed, 'seed');
  checkSeed(stream, 'stream');
  const [seedLo, seedHi] = words(seed);
  const [streamLo, streamHi] = words(stream);
  const a = splitmix32(seedLo ^ splitmix32(seedHi));
  const b = splitmix32(a ^ streamLo ^ 0x243f6a88);
  const c = splitmix32(b ^ streamHi ^ 0x85a308d3);
  // 53 bits of derived seed: high 21 bits from c, low 32 from b.
  return (c & 0x1fffff) * TWO_POW_32 + b;
}

/**
 * Returns 0..n-1 in a uniformly random order (Fisher–Yates), drawn from `rng`.
 *
 * ```ts
 * const order = shuffledIndices(60000, createRng(deriveSeed(42, epoch)));
 * ```
 */
export function shuffledIndices(n: number, rng: Rng): Uint32Array {
  if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) {
    throw new WhittleError('BAD_ARGUMENT', `shuffledIndices needs a count in 0..2^32-1, got ${n}`);
  }
  const out = new Uint32Array(n);
  for (let i = 0; i < n; i++) out[i] = i;
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rng.next() * (i + 1));
    const tmp = out[i] as number;
    out[i] = out[j] as number;
    out[j] = tmp;
  }
  return out;
}
