import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { WhittleError } from '../ir/errors.js';
import { createDataset, type Dataset, type DatasetSplits } from './dataset.js';

/** CIFAR-10 binary files: five training batches and one test batch. */
export const CIFAR10_TRAIN_FILES = ['data_batch_1.bin', 'data_batch_2.bin', 'data_batch_3.bin', 'data_batch_4.bin', 'data_batch_5.bin'] as const;
export const CIFAR10_TEST_FILE = 'test_batch.bin';

/** Per-sample shape of CIFAR-10: channels first (R, G, B planes of 32×32). */
export const CIFAR10_SHAPE: readonly number[] = [3, 32, 32];
const CIFAR10_CLASSES = 10;
const PIXELS = 3 * 32 * 32;
/** One record: a label byte, then 3072 pixel bytes (1024 R, 1024 G, 1024 B, row-major). */
const RECORD = 1 + PIXELS;

const EXPECTED = [...CIFAR10_TRAIN_FILES, CIFAR10_TEST_FILE].join(', ');
const HOW_TO_FIX =
  `pass the directory (--data DIR on the command line) holding ${EXPECTED}: ` + 'the "CIFAR-10 binary version" (cifar-10-binary.tar.gz), extracted';

/**
 * Parses the bytes of CIFAR-10 binary batch files into one dataset. `source` names the data in
 * error messages.
 *
 * ```ts
 * const ds = parseCifar10([readFileSync('test_batch.bin')]); // 10000 samples, [3, 32, 32]
 * ```
 */
export function parseCifar10(files: readonly Uint8Array[], source = 'CIFAR-10 data'): Dataset {
  let count = 0;
  for (const bytes of files) {
    if (bytes.length % RECORD !== 0) {
      throw new WhittleError(
        'BAD_DATA',
        `${source}: a batch of ${bytes.length} bytes is not a whole number of ${RECORD}-byte CIFAR-10 records; ` +
          'the file is truncated or is the Python/Matlab version: download the binary version again',
      );
    }
    count += bytes.length / RECORD;
  }
  const images = new Uint8Array(count * PIXELS);
  const labels = new Uint8Array(count);
  let i = 0;
  for (const bytes of files) {
    for (let off = 0; off < bytes.length; off += RECORD, i++) {
      const label = bytes[off] as number;
      if (label >= CIFAR10_CLASSES) {
        throw new WhittleError(
          'BAD_DATA',
          `${source}: record ${i} has label ${label}, CIFAR-10 labels are 0..9; ` + 'this may be CIFAR-100 (2 label bytes per record) or a damaged file',
        );
      }
      labels[i] = label;
      images.set(bytes.subarray(off + 1, off + RECORD), i * PIXELS);
    }
  }
  return createDataset({ images, labels, shape: [...CIFAR10_SHAPE], numClasses: CIFAR10_CLASSES }, source);
}

function readBatch(path: string): Uint8Array {
  try {
    return readFileSync(path);
  } catch (e) {
    throw new WhittleError('DATA_NOT_FOUND', `cannot read ${path}: ${(e as Error).message}; ${HOW_TO_FIX}`, { cause: e });
  }
}

/**
 * Loads CIFAR-10 from its binary distribution: `dir` holds data_batch_1..5.bin and test_batch.bin
 * directly or in a `cifar-10-batches-bin/` subdirectory (as the archive extracts).
 *
 * ```ts
 * const { train, test } = loadCifar10('data/cifar10'); // 50000 + 10000, shape [3, 32, 32]
 * ```
 */
export function loadCifar10(dir: string): DatasetSplits {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) {
    throw new WhittleError('DATA_NOT_FOUND', `CIFAR-10 directory ${dir} does not exist; ${HOW_TO_FIX}`);
  }
  const nested = join(dir, 'cifar-10-batches-bin');
  const root = existsSync(join(dir, CIFAR10_TEST_FILE)) || !existsSync(nested) ? dir : nested;
  const missing = [...CIFAR10_TRAIN_FILES, CIFAR10_TEST_FILE].filter((f) => !existsSync(join(root, f)));
  if (missing.length > 0) {
    throw new WhittleError('DATA_NOT_FOUND', `CIFAR-10 directory ${root} lacks ${missing.join(', ')}; ${HOW_TO_FIX}`);
  }
  const train = parseCifar10(
    CIFAR10_TRAIN_FILES.map((f) => readBatch(join(root, f))),
    `CIFAR-10 training batches in ${root}`,
  );
  const test = parseCifar10([readBatch(join(root, CIFAR10_TEST_FILE))], join(root, CIFAR10_TEST_FILE));
  return { train, test };
}
