import assert from 'node:assert/strict';
import { test } from 'node:test';
import { WhittleError } from '../ir/errors.js';
import { concatDatasets, createDataset } from './dataset.js';
import { datasetFingerprint, parseSplitRecord, splitByRecord, splitRecord, splitValidation } from './split.js';
import { concatTensorDatasets, selectTensorDataset, tensorDatasetFromImages } from './tensor-dataset.js';

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

function subsetOf(ds: ReturnType<typeof numbered>, n: number) {
  return createDataset({ images: ds.images.slice(0, 4 * n), labels: ds.labels.slice(0, n), shape: [1, 2, 2], numClasses: 3 });
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

test('splitByRecord: a model trained on a recorded split is validated on the same samples, disjoint from its training samples', () => {
  const ds = numbered(250);
  const trained = splitValidation(ds, 0.1, { seed: 7 });
  const record = parseSplitRecord(JSON.stringify(splitRecord(ds, 0.1, 7)));
  assert.ok(record !== undefined);
  const again = splitByRecord(ds, record);
  assert.ok(again !== undefined);
  const trainedOn = new Set(ids(trained.train));
  assert.deepEqual(ids(again.validation), ids(trained.validation));
  assert.ok(
    ids(again.validation).every((i) => !trainedOn.has(i)),
    'no validation sample was a training sample',
  );
  // The default split of a later command (seed 0) would have held out training samples: the leak this prevents.
  const leaked = ids(splitValidation(ds, 0.1, { seed: 0 }).validation).filter((i) => trainedOn.has(i));
  assert.ok(leaked.length > 15, `seed 0 holds out ${leaked.length} of seed 7's training samples`);
});

test('splitByRecord: a split of the first N samples holds out the same samples of the whole data; everything else trains', () => {
  const ds = numbered(250);
  const head = subsetOf(ds, 100);
  const trained = splitValidation(head, 0.25, { seed: 2 });
  const again = splitByRecord(ds, splitRecord(head, 0.25, 2));
  assert.ok(again !== undefined);
  assert.deepEqual(ids(again.validation), ids(trained.validation));
  const val = new Set(ids(again.validation));
  assert.deepEqual(
    ids(again.train).sort((a, b) => a - b),
    Array.from({ length: 250 }, (_, i) => i).filter((i) => !val.has(i)),
  );
});

test('splitByRecord: other data, fewer samples or a changed sample do not match', () => {
  const ds = numbered(240);
  const record = splitRecord(ds, 0.1, 1);
  assert.equal(splitByRecord(subsetOf(ds, 239), record), undefined, 'fewer samples than recorded');
  const changed = numbered(240);
  (changed.images as Uint8Array)[4 * 150] = 255;
  assert.equal(splitByRecord(changed, record), undefined, 'one pixel differs');
  const relabelled = numbered(240);
  (relabelled.labels as Uint8Array)[3] = 2;
  assert.notEqual(datasetFingerprint(relabelled), datasetFingerprint(ds), 'labels are part of the identity');
  assert.equal(splitByRecord(ds, { valData: '/elsewhere', samples: 240, fingerprint: record.fingerprint }), undefined);
});

test('parseSplitRecord: refuses what is not a record', () => {
  for (const text of ['', 'not json', 'null', '{}', '{"seed":1,"fraction":0.1,"samples":100}', '{"seed":-0.5,"fraction":0.1,"samples":100,"fingerprint":"ab"}'])
    assert.equal(parseSplitRecord(text), undefined, text);
  assert.deepEqual(parseSplitRecord('{"valData":"/v","samples":100,"fingerprint":"ab"}'), { valData: '/v', samples: 100, fingerprint: 'ab' });
});

test('a TensorDataset splits as its images do: the same samples each side, a record that finds them again', () => {
  const images = Uint8Array.from({ length: 50 * 4 }, (_, i) => (i * 37) % 251);
  const labels = Uint8Array.from({ length: 50 }, (_, i) => i % 7);
  const bytes = createDataset({ images, labels, shape: [1, 2, 2], numClasses: 7 });
  const floats = tensorDatasetFromImages(bytes, { name: 'x', normalization: 'x/255', source: 'floats' });
  const a = splitValidation(bytes, 0.2, { seed: 4 });
  const b = splitValidation(floats, 0.2, { seed: 4 });
  assert.equal(b.validation.count, 10);
  assert.equal(b.train.count, 40);
  assert.deepEqual([...(b.validation.labels ?? [])], [...a.validation.labels]);
  assert.deepEqual(
    [...(b.train.inputs[0]?.data ?? [])],
    [...a.train.images].map((v) => Math.fround(v / 255)),
  );
  // The record of the float data finds the same split again, also with samples appended after it.
  const record = splitRecord(floats, 0.2, 4);
  const more = concatTensorDatasets(floats, selectTensorDataset(floats, [0, 1, 2]));
  const again = splitByRecord(more, record);
  assert.ok(again !== undefined);
  assert.deepEqual([...(again.validation.labels ?? [])], [...(b.validation.labels ?? [])]);
  assert.equal(again.train.count, 43);
  // Any change to the values or labels is another fingerprint, so another dataset.
  const relabelled = { ...floats, labels: Int32Array.from(floats.labels ?? [], (l, i) => (i === 3 ? (l + 1) % 7 : l)) };
  assert.notEqual(datasetFingerprint(relabelled), datasetFingerprint(floats));
  assert.equal(splitByRecord(relabelled, record), undefined);
  assert.throws(
    () => concatTensorDatasets(floats, { ...floats, labels: undefined }),
    (e: unknown) => e instanceof WhittleError && /cannot join floats .* and floats .*; they must match/.test(e.message),
  );
});
