// The user's own samples as the e2e tests write them: MNIST images as a folder of .npy files.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Dataset } from '../../src/data/index.js';
import { encodeNpy } from '../../src/data/npy.js';

/**
 * The images as the user's own input.npy (x / 255, float32 [N, 1, 28, 28]; with `meanStd`, MNIST's
 * (x / 255 − 0.1307) / 0.3081, as PyTorch examples feed it), with a labels.npy (int64) unless `labels` is false.
 */
export function npyDir(dir: string, ds: Dataset, labels = true, meanStd = false): string {
  mkdirSync(dir, { recursive: true });
  const pixel = meanStd ? (v: number): number => (v / 255 - 0.1307) / 0.3081 : (v: number): number => v / 255;
  writeFileSync(join(dir, 'input.npy'), encodeNpy({ dtype: 'float32', dims: [ds.count, 1, 28, 28], data: Float32Array.from(ds.images, pixel) }));
  if (labels) writeFileSync(join(dir, 'labels.npy'), encodeNpy({ dtype: 'int64', dims: [ds.count], data: BigInt64Array.from(ds.labels, (l) => BigInt(l)) }));
  return dir;
}
