// Limits on what a file may make Whittle allocate: every length, count and dimension read from a
// file is checked against the bytes present and against these before any memory is taken.
import type { ErrorCode } from './errors.js';
import { WhittleError } from './errors.js';

export interface ReadLimits {
  /** Most elements in one tensor or array read from a file. */
  maxElements: number;
  /** Most bytes one file may decode or decompress to (a tensor, a graph, a data set). */
  maxBytes: number;
}

const GiB = 2 ** 30;

function fromEnv(name: string, fallback: number): number {
  // No `process` in the browser build, which reads containers with the same checks.
  const env = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env;
  const v = env?.[name];
  const n = v === undefined ? Number.NaN : Number(v);
  return Number.isSafeInteger(n) && n > 0 ? n : fallback;
}

// 2 GiB: protobuf's own limit for a model, and past any one tensor or data file Whittle trains on.
let current: ReadLimits = {
  maxElements: fromEnv('WHITTLE_MAX_ELEMENTS', 2 ** 31 - 1),
  maxBytes: fromEnv('WHITTLE_MAX_BYTES', 2 * GiB),
};

/** The limits in force (defaults, or WHITTLE_MAX_ELEMENTS / WHITTLE_MAX_BYTES from the environment). */
export function readLimits(): ReadLimits {
  return current;
}

/**
 * Changes the limits; returns the previous ones.
 *
 * ```ts
 * const old = setReadLimits({ maxBytes: 256 * 2 ** 20 });
 * ```
 */
export function setReadLimits(limits: Partial<ReadLimits>): ReadLimits {
  const old = current;
  current = { ...current, ...limits };
  return old;
}

/**
 * Checks dimensions read from a file (non-negative safe integers, element count and bytes within
 * the limits) and returns the element count. Throws `code` naming `what` and `source`.
 *
 * ```ts
 * const n = checkedSize([60000, 28, 28], 1, 'the images', 'train-images-idx3-ubyte', 'BAD_DATA');
 * ```
 */
export function checkedSize(dims: readonly number[], bytesPerElement: number, what: string, source: string, code: ErrorCode): number {
  const shape = `[${dims.map((d) => String(d)).join(', ')}]`;
  let n = 1;
  for (const d of dims) {
    if (!Number.isSafeInteger(d) || d < 0)
      throw new WhittleError(code, `${source}: ${what} has an impossible shape ${shape} (a dimension is not a non-negative integer); the file is damaged`);
    n *= d;
  }
  const { maxElements, maxBytes } = current;
  if (n > maxElements || n * bytesPerElement > maxBytes)
    throw new WhittleError(
      code,
      `${source}: ${what} claims shape ${shape} (${n.toExponential(2)} elements, ${(n * bytesPerElement).toExponential(2)} bytes), past the limit of ${maxElements} elements / ${maxBytes} bytes; the file is damaged, or raise WHITTLE_MAX_ELEMENTS / WHITTLE_MAX_BYTES`,
    );
  return n;
}

/** Checks a byte count (a decompressed size, say) against the byte limit. */
export function checkedBytes(n: number, what: string, source: string, code: ErrorCode): number {
  if (!Number.isSafeInteger(n) || n < 0) throw new WhittleError(code, `${source}: ${what} is ${n} bytes, which is impossible; the file is damaged`);
  if (n > current.maxBytes)
    throw new WhittleError(
      code,
      `${source}: ${what} claims ${n} bytes, past the limit of ${current.maxBytes}; the file is damaged, or raise WHITTLE_MAX_BYTES`,
    );
  return n;
}
