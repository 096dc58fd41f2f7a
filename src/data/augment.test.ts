// Image shifts: each image moved by whole pixels within ±maxShift, the border zero-filled,
// checked against a per-pixel reference; deterministic for a seed.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { WhittleError } from '../ir/errors.js';
import { shiftImages } from './augment.js';
import { createRng } from './rng.js';

/** The shifted image pixel by pixel: out(y, x) = in(y − dy, x − dx), 0 outside. */
function reference(img: Uint8Array, h: number, w: number, dx: number, dy: number): Uint8Array {
  const out = new Uint8Array(h * w);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) {
      const sy = y - dy;
      const sx = x - dx;
      out[y * w + x] = sy >= 0 && sy < h && sx >= 0 && sx < w ? (img[sy * w + sx] as number) : 0;
    }
  return out;
}

test('shiftImages moves every image (every channel alike) by its drawn dx, dy within ±maxShift, zero-filling the border', () => {
  const [n, c, h, w] = [40, 2, 6, 5];
  const bytes = Uint8Array.from({ length: n * c * h * w }, (_, i) => 1 + ((i * 37) % 250));
  const before = bytes.slice();
  const shifts = shiftImages(bytes, n, [c, h, w], 2, createRng(7));
  const seen = new Set<string>();
  for (let i = 0; i < n; i++) {
    const dx = shifts[2 * i] as number;
    const dy = shifts[2 * i + 1] as number;
    assert.ok(Math.abs(dx) <= 2 && Math.abs(dy) <= 2, `shift ${dx}, ${dy} out of range`);
    seen.add(`${dx},${dy}`);
    for (let p = 0; p < c; p++) {
      const off = (i * c + p) * h * w;
      assert.deepEqual(bytes.subarray(off, off + h * w), reference(before.subarray(off, off + h * w), h, w, dx, dy), `image ${i} channel ${p}`);
    }
  }
  assert.ok(seen.size >= 10, `40 images should draw many of the 25 shifts, drew ${seen.size}`);
  const again = before.slice();
  assert.deepEqual(shiftImages(again, n, [c, h, w], 2, createRng(7)), shifts, 'the same seed draws the same shifts');
  assert.deepEqual(again, bytes);
});

test('shiftImages with 0 leaves the images as they are; a bad shift or shape is refused', () => {
  const bytes = Uint8Array.from({ length: 3 * 16 }, (_, i) => i);
  shiftImages(bytes, 3, [4, 4], 0, createRng(1));
  assert.deepEqual(
    bytes,
    Uint8Array.from({ length: 48 }, (_, i) => i),
  );
  assert.throws(
    () => shiftImages(bytes, 3, [4, 4], 1.5, createRng(1)),
    (e: unknown) => e instanceof WhittleError && e.code === 'BAD_ARGUMENT',
  );
  assert.throws(
    () => shiftImages(bytes, 3, [16], 1, createRng(1)),
    (e: unknown) => e instanceof WhittleError && /\[\.\.\., H, W\]/.test(e.message),
  );
});
