import assert from 'node:assert/strict';
import { test } from 'node:test';
import { WhittleError } from '../ir/errors.js';
import { Tensor } from '../ir/tensor.js';
import { epochOrder, normalizeBatch } from './batches.js';
import { createDataset } from './dataset.js';
import { imageSource, rowSource, runBatches, tensorSource } from './runner.js';
import { createTensorDataset } from './tensor-dataset.js';

/** 23 samples of shape [1, 2, 2]: sample i's pixels are i, i+1, i+2, i+3; label i % 10. */
function images(count = 23) {
  const img = new Uint8Array(count * 4).map((_, k) => Math.floor(k / 4) + (k % 4));
  return createDataset({ images: img, labels: new Uint8Array(count).map((_, i) => i % 10), shape: [1, 2, 2], numClasses: 10 });
}

test('runBatches visits every sample once, in order, in batches of batchSize with a short last one', async () => {
  const ds = images();
  const seen: number[] = [];
  const sizes: number[] = [];
  const n = await runBatches(imageSource(ds, { input: 'x', normalization: 'none', labelInput: 'y' }), { batchSize: 10 }, ({ feeds, labels, size }, at) => {
    assert.equal(at.start, at.index * 10);
    const x = feeds['x'] as Tensor;
    assert.deepEqual(x.dims, [size, 1, 2, 2]);
    for (let i = 0; i < size; i++) seen.push((x.data as Float32Array)[i * 4] as number);
    assert.deepEqual([...(feeds['y']?.data as BigInt64Array)].map(Number), [...(labels as Int32Array)]);
    sizes.push(size);
  });
  assert.equal(n, 23);
  assert.deepEqual(sizes, [10, 10, 3]);
  assert.deepEqual(
    seen,
    Array.from({ length: 23 }, (_, i) => i),
  );
});

test('runBatches: a limit and a shuffled order; the values are the normalized pixels of those samples', async () => {
  const ds = images();
  const order = epochOrder(ds.count, { shuffle: true, seed: 3, epoch: 1 });
  const got: number[] = [];
  await runBatches(imageSource(ds, { input: 'x', normalization: 'x/255', shape: [4] }), { batchSize: 4, limit: 9, order }, ({ feeds, labels }) => {
    const x = feeds['x'] as Tensor;
    assert.equal(x.dims[1], 4, 'a flat per-sample shape takes the images flattened');
    got.push(...(x.data as Float32Array));
    assert.ok(labels !== undefined);
  });
  const want = normalizeBatch(ds, order.subarray(0, 9), 'x/255');
  assert.deepEqual(got, [...want]);
});

test('imageSource stacks K batches for a Loop and reuses its buffers when asked', () => {
  const ds = images();
  const src = imageSource(ds, { input: 'x', normalization: 'none', labelInput: 'y', reuse: true });
  const a = src.gather([0, 1, 2, 3, 4, 5], [3, 2]);
  assert.deepEqual(a.feeds['x']?.dims, [3, 2, 1, 2, 2]);
  assert.deepEqual(a.feeds['y']?.dims, [3, 2]);
  const first = a.feeds['x']?.data;
  const b = src.gather([9, 8]);
  assert.equal((b.feeds['x']?.data as Float32Array).buffer, (first as Float32Array).buffer, 'the same buffer, no allocation per step');
  assert.deepEqual([...(b.feeds['y']?.data as BigInt64Array)], [9n, 8n]);
  assert.throws(
    () => src.gather([0, 1, 2], [2, 2]),
    (e: unknown) => e instanceof WhittleError && e.code === 'BAD_ARGUMENT',
  );
  assert.throws(
    () => imageSource(ds, { input: 'x', normalization: 'none', shape: [5] }),
    (e: unknown) => e instanceof WhittleError && e.code === 'SHAPE_MISMATCH',
  );
});

test('tensorSource and rowSource: contiguous batches are views, gathered ones copies; bad indices are errors', async () => {
  const ids = BigInt64Array.from({ length: 10 }, (_, i) => BigInt(100 + i));
  const ds = createTensorDataset({
    source: 'mine',
    inputs: [
      { name: 'ids', dtype: 'int64', shape: [2], data: ids },
      { name: 'mask', dtype: 'float32', shape: [2], data: new Float32Array(10).fill(1) },
    ],
    labels: Int32Array.from({ length: 5 }, (_, i) => i),
  });
  const src = tensorSource(ds);
  const view = src.gather([1, 2]);
  assert.deepEqual([...(view.feeds['ids']?.data as BigInt64Array)], [102n, 103n, 104n, 105n]);
  assert.equal((view.feeds['ids']?.data as BigInt64Array).buffer, ids.buffer);
  const copy = src.gather([4, 0]);
  assert.deepEqual([...(copy.feeds['ids']?.data as BigInt64Array)], [108n, 109n, 100n, 101n]);
  assert.deepEqual([...(copy.labels as Int32Array)], [4, 0]);
  assert.throws(
    () => src.gather([5]),
    (e: unknown) => e instanceof WhittleError && e.code === 'BAD_ARGUMENT' && e.message.includes('mine'),
  );
  const t = Tensor.fromArray('float32', [3, 2], [1, 2, 3, 4, 5, 6]);
  const rows: number[][] = [];
  await runBatches(rowSource(t, 'input'), { batchSize: 2 }, ({ feeds }) => {
    rows.push([...(feeds['input']?.data as Float32Array)]);
  });
  assert.deepEqual(rows, [
    [1, 2, 3, 4],
    [5, 6],
  ]);
  await assert.rejects(
    runBatches(rowSource(t, 'input'), { batchSize: 0 }, () => {}),
    (e: unknown) => e instanceof WhittleError && e.code === 'BAD_ARGUMENT',
  );
});
