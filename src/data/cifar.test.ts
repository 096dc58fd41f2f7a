import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { WhittleError } from '../ir/errors.js';
import { normalizeBatch } from './batches.js';
import { CIFAR10_TEST_FILE, CIFAR10_TRAIN_FILES, loadCifar10, parseCifar10 } from './cifar.js';

const tmp = mkdtempSync(join(tmpdir(), 'whittle-cifar-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

/** The pixel value of a synthetic sample at channel c, row y, column x. */
const pixel = (sample: number, c: number, y: number, x: number) => (sample * 7 + c * 60 + y * 3 + x) & 0xff;

/** A CIFAR-10 binary batch written from the format's definition: label byte, then R, G, B planes. */
function batchBytes(firstSample: number, records: number): Uint8Array {
  const out = new Uint8Array(records * 3073);
  for (let r = 0; r < records; r++) {
    const s = firstSample + r;
    const base = r * 3073;
    out[base] = s % 10;
    for (let c = 0; c < 3; c++)
      for (let y = 0; y < 32; y++)
        for (let x = 0; x < 32; x++) {
          out[base + 1 + c * 1024 + y * 32 + x] = pixel(s, c, y, x);
        }
  }
  return out;
}

test('a synthetic CIFAR-10 directory (as the archive extracts) parses to CHW samples', () => {
  const dir = join(tmp, 'extracted');
  const inner = join(dir, 'cifar-10-batches-bin');
  mkdirSync(inner, { recursive: true });
  CIFAR10_TRAIN_FILES.forEach((f, i) => writeFileSync(join(inner, f), batchBytes(i * 2, 2)));
  writeFileSync(join(inner, CIFAR10_TEST_FILE), batchBytes(100, 3));

  const { train, test: testSet } = loadCifar10(dir);
  assert.equal(train.count, 10);
  assert.equal(testSet.count, 3);
  assert.deepEqual(train.shape, [3, 32, 32]);
  assert.equal(train.numClasses, 10);
  assert.deepEqual([...train.labels], [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  assert.deepEqual([...testSet.labels], [0, 1, 2]);
  for (const [s, c, y, x] of [
    [0, 0, 0, 0],
    [3, 1, 5, 31],
    [9, 2, 31, 7],
  ] as const) {
    assert.equal(train.images[s * 3072 + c * 1024 + y * 32 + x], pixel(s, c, y, x));
  }
  assert.equal(testSet.images[2 * 3072 + 2 * 1024 + 10 * 32 + 4], pixel(102, 2, 10, 4));
  const x = normalizeBatch(train, [3], 'none');
  assert.equal(x[1024 + 5 * 32 + 31], pixel(3, 1, 5, 31));
});

test('a truncated CIFAR-10 batch or a label above 9 is BAD_DATA', () => {
  const good = batchBytes(0, 2);
  assert.throws(
    () => parseCifar10([good.subarray(0, 3073 + 100)], 'short.bin'),
    (e: unknown) => e instanceof WhittleError && e.code === 'BAD_DATA' && e.message.includes('short.bin') && e.message.includes('3073'),
  );
  const badLabel = batchBytes(0, 1);
  badLabel[0] = 42;
  assert.throws(
    () => parseCifar10([badLabel], 'cifar100.bin'),
    (e: unknown) => e instanceof WhittleError && e.code === 'BAD_DATA' && e.message.includes('label 42'),
  );
});

test('missing CIFAR-10 files are DATA_NOT_FOUND listing them', () => {
  const dir = join(tmp, 'partial');
  mkdirSync(dir);
  writeFileSync(join(dir, CIFAR10_TEST_FILE), batchBytes(0, 1));
  assert.throws(
    () => loadCifar10(dir),
    (e: unknown) => e instanceof WhittleError && e.code === 'DATA_NOT_FOUND' && CIFAR10_TRAIN_FILES.every((f) => e.message.includes(f)),
  );
  assert.throws(
    () => loadCifar10(join(tmp, 'absent')),
    (e: unknown) => e instanceof WhittleError && e.code === 'DATA_NOT_FOUND' && e.message.includes('test_batch.bin'),
  );
});
