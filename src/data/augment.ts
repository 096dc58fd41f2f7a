// Training-time augmentation on the raw pixel bytes of a batch: each image translated by a
// random whole number of pixels, the uncovered border filled with 0 (MNIST's background).
import { WhittleError } from '../ir/errors.js';
import type { Rng } from './rng.js';

/**
 * Shifts each of the `n` images in `bytes` (laid out [n, ...shape], the last two dims H × W, any
 * before them channels) in place by dx, dy drawn uniformly from −maxShift..maxShift (each image
 * its own, every channel alike), filling the uncovered border with 0. Returns the shifts drawn.
 *
 * ```ts
 * shiftImages(batchBytes, 64, [1, 28, 28], 2, createRng(deriveSeed(seed, step)));
 * ```
 */
export function shiftImages(bytes: Uint8Array, n: number, shape: readonly number[], maxShift: number, rng: Rng): Int8Array {
  if (!Number.isInteger(maxShift) || maxShift < 0)
    throw new WhittleError('BAD_ARGUMENT', `the image shift must be a whole number of pixels ≥ 0, got ${maxShift}`);
  const h = shape[shape.length - 2];
  const w = shape[shape.length - 1];
  if (shape.length < 2 || h === undefined || w === undefined)
    throw new WhittleError('BAD_ARGUMENT', `shifting images needs samples shaped [..., H, W]; these are [${shape.join(', ')}]`);
  const planes = shape.slice(0, -2).reduce((a, d) => a * d, 1);
  const per = planes * h * w;
  if (bytes.length < n * per) throw new WhittleError('BAD_ARGUMENT', `shiftImages: ${bytes.length} bytes hold fewer than ${n} samples of ${per}`);
  const shifts = new Int8Array(2 * n);
  const plane = new Uint8Array(h * w);
  const span = 2 * maxShift + 1;
  for (let i = 0; i < n; i++) {
    const dx = Math.floor(rng.next() * span) - maxShift;
    const dy = Math.floor(rng.next() * span) - maxShift;
    shifts[2 * i] = dx;
    shifts[2 * i + 1] = dy;
    if (dx === 0 && dy === 0) continue;
    for (let p = 0; p < planes; p++) {
      const off = i * per + p * h * w;
      plane.set(bytes.subarray(off, off + h * w));
      const img = bytes.subarray(off, off + h * w);
      img.fill(0);
      const x0 = Math.max(0, dx);
      const x1 = Math.min(w, w + dx);
      for (let y = Math.max(0, dy); y < Math.min(h, h + dy); y++) {
        const src = (y - dy) * w;
        img.set(plane.subarray(src + x0 - dx, src + x1 - dx), y * w + x0);
      }
    }
  }
  return shifts;
}
