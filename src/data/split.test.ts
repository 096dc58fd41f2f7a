import assert from 'node:assert/strict';
import { test } from 'node:test';
import { WhittleError } from '../ir/errors.js';
import { concatDatasets, createDataset } from './dataset.js';
import { splitValidation } from './split.js';

/** `n` samples of shape [1, 2, 2]; sample i has all pixels = i, label i % 3. */
function numbered(n: number) {
  const images = new Uint8Array(4 * n).map((_, k) => Math.floor(k / 4));
  const labels = new Uint8Array(n).map((_, i) => i % 3);
  return createDataset({ images, labels, shape: [1, 2, 2], numClasses: 3 });
}

/** The sample ids of a split side (each sample's pixels hold its id), checking every pixel and label. */
function ids(ds: ReturnType<typeof numbered>): number[] {
  const out: number[] = [];
  for (let i = 0; i < ds.count; i++) {
    const id = ds.images[4 * i] as number;
    assert.deepEqual([...ds.images.subarray(4 * i, 4 * i + 4)], [id, id, id, id], 'a sample is copied whole');
    assert.equal(ds.labels[i], id % 3, 'the label travels with its sample');
    out.push(id);
  }
  return out;
}

function hasCode(code: string, ...fragments: string[]) {
  return (e: unknown): boolean => {
    assert.ok(e instanceof WhittleError);
    assert.equal(e.code, code);
    for (const f of fragments) assert.ok(e.message.includes(f), `message "${e.message}" lacks "${f}"`);
    return true;
  };
}

test('splitValidation is disjoint, covers the data and has the asked size', () => {
  const ds = numbered(200);
  const { train, validation } = splitValidation(ds, 0.1, { seed: 7 });
  assert.equal(validation.count, 20);
  assert.equal(train.count, 180);
  const v = ids(validation);
  const t = ids(train);
  assert.equal(new Set([...v, ...t]).size, 200, 'disjoint and covering');
  assert.deepEqual(
    [...v, ...t].sort((a, b) => a - b),
    Array.from({ length: 200 }, (_, i) => i),
  );
  // Each side keeps the original order.
  assert.deepEqual(
    v,
    [...v].sort((a, b) => a - b),
  );
  assert.deepEqual(
    t,
    [...t].sort((a, b) => a - b),
  );
  // A shuffle, not the tail: the held-out ids are spread over the whole range.
  assert.notDeepEqual(
    v,
    Array.from({ length: 20 }, (_, i) => 180 + i),
  );
  assert.ok(Math.min(...v) < 100 && Math.max(...v) >= 100, `held out ${v.join(',')}`);
  assert.equal(splitValidation(ds, 37).validation.count, 37, 'a count of samples');
});

test('splitValidation is deterministic for a seed and differs between seeds', () => {
  const ds = numbered(100);
  const a = splitValidation(ds, 0.2, { seed: 3 });
  const b = splitValidation(ds, 0.2, { seed: 3 });
  assert.deepEqual(ids(a.validation), ids(b.validation));
  assert.deepEqual([...a.train.images], [...b.train.images]);
  assert.notDeepEqual(ids(splitValidation(ds, 0.2, { seed: 4 }).validation), ids(a.validation));
  assert.deepEqual(ids(splitValidation(ds, 0.2).validation), ids(splitValidation(ds, 0.2, { seed: 0 }).validation), 'seed 0 by default');
});

test('splitValidation rejects splits that leave a side empty or make no sense', () => {
  const ds = numbered(10);
  assert.throws(() => splitValidation(ds, 10), hasCode('BAD_ARGUMENT', 'at least one'));
  assert.throws(() => splitValidation(ds, 11), hasCode('BAD_ARGUMENT', '11 validation samples of 10'));
  assert.throws(() => splitValidation(ds, 0.01), hasCode('BAD_ARGUMENT', '0 validation samples'));
  assert.throws(() => splitValidation(ds, -1), hasCode('BAD_ARGUMENT', 'e.g. 0.1 or 5000'));
  assert.throws(() => splitValidation(ds, 0), hasCode('BAD_ARGUMENT', 'e.g. 0.1 or 5000'));
  assert.throws(() => splitValidation(ds, 2.5), hasCode('BAD_ARGUMENT'));
});

test('concatDatasets gives held-out samples back and refuses mismatched samples', () => {
  const ds = numbered(10);
  const { train, validation } = splitValidation(ds, 3);
  const all = concatDatasets(train, validation);
  assert.equal(all.count, 10);
  assert.deepEqual(
    ids(all).sort((a, b) => a - b),
    Array.from({ length: 10 }, (_, i) => i),
  );
  const other = createDataset({ images: new Uint8Array(8), labels: new Uint8Array(2), shape: [1, 4] });
  assert.throws(() => concatDatasets(ds, other), hasCode('SHAPE_MISMATCH', '[1, 2, 2]', '[1, 4]'));
});
