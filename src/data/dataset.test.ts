import assert from 'node:assert/strict';
import { test } from 'node:test';
import { WhittleError } from '../ir/errors.js';
import { createDataset, labelHistogram, sampleSize, subset } from './dataset.js';

/** 10 samples of shape [1, 2, 2]; sample i has all pixels = i, label i % 3. */
function tiny() {
  const images = new Uint8Array(40).map((_, k) => Math.floor(k / 4));
  const labels = new Uint8Array(10).map((_, i) => i % 3);
  return createDataset({ images, labels, shape: [1, 2, 2] });
}

function hasCode(code: string, ...fragments: string[]) {
  return (e: unknown): boolean => {
    assert.ok(e instanceof WhittleError);
    assert.equal(e.code, code);
    for (const f of fragments) assert.ok(e.message.includes(f), `message "${e.message}" lacks "${f}"`);
    return true;
  };
}

test('createDataset infers count and numClasses', () => {
  const ds = tiny();
  assert.equal(ds.count, 10);
  assert.equal(ds.numClasses, 3);
  assert.deepEqual(ds.shape, [1, 2, 2]);
  assert.equal(sampleSize(ds.shape), 4);
  assert.deepEqual([...labelHistogram(ds)], [4, 3, 3]);
});

test('createDataset rejects size mismatches and out-of-range labels', () => {
  assert.throws(() => createDataset({ images: new Uint8Array(7), labels: new Uint8Array(2), shape: [1, 2, 2] }), hasCode('BAD_DATA', '8', 'got 7'));
  assert.throws(
    () => createDataset({ images: new Uint8Array(4), labels: new Uint8Array([3]), shape: [1, 2, 2], numClasses: 3 }),
    hasCode('BAD_DATA', 'label 3', '3 classes'),
  );
  assert.throws(() => createDataset({ images: new Uint8Array(0), labels: new Uint8Array(0), shape: [0] }), hasCode('BAD_ARGUMENT'));
});

test('subset shares memory and keeps metadata', () => {
  const ds = tiny();
  const s = subset(ds, 2, 3);
  assert.equal(s.count, 3);
  assert.deepEqual([...s.labels], [2, 0, 1]);
  assert.deepEqual([...s.images], [2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4]);
  assert.equal(s.images.buffer, ds.images.buffer);
  assert.equal(s.numClasses, 3);
  assert.throws(() => subset(ds, 8, 3), hasCode('BAD_ARGUMENT', 'start=8', '10 samples'));
});
