import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createDataset } from '../data/index.js';
import { createModel } from '../nn/index.js';
import { sharedSessions } from '../runtime/session.js';
import { evaluate } from './evaluate.js';

/** 50 random 28×28 images with labels 0..9. */
function randomImages(count: number, seed: number) {
  let s = seed;
  const next = (): number => {
    s = (s * 1103515245 + 12345) >>> 0;
    return s >>> 24;
  };
  const images = Uint8Array.from({ length: count * 784 }, next);
  return createDataset({ images, labels: Uint8Array.from({ length: count }, (_, i) => i % 10), shape: [1, 28, 28], numClasses: 10 });
}

test('evaluating the same graph twice (validation, then test) builds one session, and both results are right', async () => {
  const model = createModel('lenet-300-100', { seed: 1 });
  const val = randomImages(50, 1);
  const testSet = randomImages(30, 2);
  const before = sharedSessions.stats;
  const a = await evaluate(model, val, { normalization: 'x/255', threads: 1, batchSize: 16 });
  const b = await evaluate(model, testSet, { normalization: 'x/255', threads: 1, batchSize: 16 });
  const after = sharedSessions.stats;
  assert.equal(after.created - before.created, 1, "the second evaluation reused the first one's session");
  assert.equal(after.hits - before.hits, 1);
  // The reused session gives what a fresh one gives: evaluate the test set once more after a
  // different model has gone through the cache.
  await evaluate(createModel('lenet-300-100', { seed: 2 }), testSet, { normalization: 'x/255', threads: 1 });
  const c = await evaluate(model, testSet, { normalization: 'x/255', threads: 1, batchSize: 7 });
  assert.equal(c.correct, b.correct);
  assert.ok(Math.abs(c.loss - b.loss) < 1e-5, `${c.loss} vs ${b.loss}`);
  assert.equal(a.samples, 50);
  assert.equal(b.samples, 30);
  // An untrained 10-class model: loss near ln 10, not 0 or NaN.
  assert.ok(a.loss > 1 && a.loss < 10, `loss ${a.loss}`);
  await sharedSessions.clear();
});
