import assert from 'node:assert/strict';
import { test } from 'node:test';
import { WhittleError } from '../ir/errors.js';
import { batchCount, batches, epochOrder, gatherLabels, normalizeBatch, normalizeValue, parseNormalization } from './batches.js';
import { createDataset } from './dataset.js';

/** 103 samples of shape [2, 3]: sample i's pixels are (i + k) & 0xff, label i % 10. */
function synthetic(count = 103) {
  const size = 6;
  const images = new Uint8Array(count * size);
  for (let i = 0; i < count; i++) for (let k = 0; k < size; k++) images[i * size + k] = (i + k * 50) & 0xff;
  const labels = new Uint8Array(count).map((_, i) => i % 10);
  return createDataset({ images, labels, shape: [2, 3], numClasses: 10 });
}

test('normalization values for known pixels', () => {
  const ds = createDataset({ images: new Uint8Array([0, 255, 128, 51]), labels: new Uint8Array([1]), shape: [1, 2, 2] });
  const close = (a: ArrayLike<number>, b: number[]) => b.forEach((v, i) => assert.ok(Math.abs((a[i] as number) - v) < 1e-6, `${a[i]} vs ${v}`));
  close(normalizeBatch(ds, [0], 'x/255'), [0, 1, 128 / 255, 0.2]);
  close(normalizeBatch(ds, [0], 'mnist-mean-std'), [-0.1307 / 0.3081, (1 - 0.1307) / 0.3081, (128 / 255 - 0.1307) / 0.3081, (0.2 - 0.1307) / 0.3081]);
  close(normalizeBatch(ds, [0], 'none'), [0, 255, 128, 51]);
  // Spelled-out constants: (0 - 0.1307) / 0.3081 and (1 - 0.1307) / 0.3081.
  assert.ok(Math.abs(normalizeValue(0, 'mnist-mean-std') - -0.42421) < 1e-5);
  assert.ok(Math.abs(normalizeValue(255, 'mnist-mean-std') - 2.82149) < 1e-5);
});

test('parseNormalization accepts the three names and lists them on error', () => {
  for (const s of ['x/255', 'mnist-mean-std', 'none']) assert.equal(parseNormalization(s), s);
  assert.throws(
    () => parseNormalization('zscore'),
    (e: unknown) =>
      e instanceof WhittleError && e.code === 'BAD_ARGUMENT' && e.message.includes('"zscore"') && e.message.includes('x/255, mnist-mean-std, none'),
  );
});

test('normalizeBatch gathers the right samples in order, into a given buffer', () => {
  const ds = synthetic();
  const out = new Float32Array(3 * 6 + 5).fill(-1);
  normalizeBatch(ds, [7, 0, 102], 'none', out);
  assert.deepEqual([...out.subarray(0, 6)], [7, 57, 107, 157, 207, 1]);
  assert.deepEqual([...out.subarray(6, 12)], [0, 50, 100, 150, 200, 250]);
  assert.deepEqual([...out.subarray(12, 18)], [102, 152, 202, 252, 46, 96]);
  assert.equal(out[18], -1);
  assert.deepEqual([...gatherLabels(ds, [7, 0, 102])], [7n, 0n, 2n]);
  assert.throws(
    () => normalizeBatch(ds, [103], 'x/255'),
    (e: unknown) => e instanceof WhittleError && e.message.includes('0..102'),
  );
});

test('same seed and epoch give the same order; another epoch or seed gives another', () => {
  const a = epochOrder(1000, { seed: 5, epoch: 2 });
  assert.deepEqual(a, epochOrder(1000, { seed: 5, epoch: 2 }));
  assert.notDeepEqual(a, epochOrder(1000, { seed: 5, epoch: 3 }));
  assert.notDeepEqual(a, epochOrder(1000, { seed: 6, epoch: 2 }));
  assert.deepEqual([...epochOrder(5, { shuffle: false, seed: 5, epoch: 2 })], [0, 1, 2, 3, 4]);

  const ds = synthetic();
  const run = (epoch: number) => [...batches(ds, { batchSize: 16, seed: 9, epoch })].flatMap((b) => [...b.indices]);
  assert.deepEqual(run(4), run(4));
  assert.notDeepEqual(run(4), run(5));
});

test('batches cover every index exactly once per epoch, with matching x and y', () => {
  const ds = synthetic();
  for (const epoch of [0, 1, 2]) {
    const seen = new Uint8Array(ds.count);
    const sizes: number[] = [];
    for (const b of batches(ds, { batchSize: 16, seed: 1, epoch, normalization: 'none' })) {
      sizes.push(b.size);
      assert.deepEqual(b.xDims, [b.size, 2, 3]);
      assert.equal(b.x.length, b.size * 6);
      assert.equal(b.y.length, b.size);
      for (let i = 0; i < b.size; i++) {
        const idx = b.indices[i]!;
        seen[idx]! += 1;
        assert.equal(b.y[i], BigInt(idx % 10));
        assert.equal(b.x[i * 6], idx & 0xff);
        assert.equal(b.x[i * 6 + 1], (idx + 50) & 0xff);
      }
    }
    assert.deepEqual(sizes, [16, 16, 16, 16, 16, 16, 7]);
    assert.ok(seen.every((c) => c === 1));
  }
  assert.equal(batchCount(ds, { batchSize: 16 }), 7);
});

test('dropLast skips the short batch; shuffle false keeps dataset order', () => {
  const ds = synthetic();
  const dropped = [...batches(ds, { batchSize: 16, dropLast: true })];
  assert.equal(dropped.length, 6);
  assert.equal(batchCount(ds, { batchSize: 16, dropLast: true }), 6);
  assert.ok(dropped.every((b) => b.size === 16));
  const ordered = [...batches(ds, { batchSize: 50, shuffle: false })].flatMap((b) => [...b.indices]);
  assert.deepEqual(
    ordered,
    Array.from({ length: 103 }, (_, i) => i),
  );
});

test('bad batch options fail when passed, not at the first batch', () => {
  const ds = synthetic();
  const bad = (opts: Parameters<typeof batches>[1], fragment: string) =>
    assert.throws(
      () => batches(ds, opts),
      (e: unknown) => e instanceof WhittleError && e.code === 'BAD_ARGUMENT' && e.message.includes(fragment),
    );
  bad({ batchSize: 0 }, 'batch size');
  bad({ batchSize: 1.5 }, 'batch size');
  bad({ batchSize: 8, normalization: 'bogus' as never }, 'bogus');
  bad({ batchSize: 8, seed: 0.5 }, 'seed');
});
