import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Tensor } from '../../ir/tensor.js';
import { createModel } from '../../nn/index.js';
import { sharedSessions } from '../../runtime/session.js';
import { calibrate } from './calibrate.js';

test('calibration runs its two passes (range, then histogram) on one session, batch by batch through the runner', async () => {
  const model = createModel('lenet-300-100', { seed: 3 });
  const n = 40;
  const x = Float32Array.from({ length: n * 784 }, (_, i) => ((i * 7919) % 256) / 255);
  const samples = new Tensor('float32', [n, 1, 28, 28], x);
  await sharedSessions.clear();
  const before = sharedSessions.stats;
  const ranges = await calibrate(model, samples, ['relu1', 'logits'], { method: 'entropy', batchSize: 16, threads: 1 });
  const after = sharedSessions.stats;
  assert.equal(after.created - before.created, 1, 'one session for both passes');
  assert.equal(after.hits - before.hits, 1);
  const relu = ranges.get('relu1');
  assert.ok(relu !== undefined && relu.min === 0 && relu.max > 0, JSON.stringify(relu));
  assert.ok(relu.lo === 0 && relu.hi > 0 && relu.hi <= relu.max, 'a ReLU output keeps 0 as its low end and clips only the top');
  const logits = ranges.get('logits');
  assert.ok(logits !== undefined && logits.min < 0 && logits.max > 0 && logits.lo >= logits.min && logits.hi <= logits.max, JSON.stringify(logits));
  // Min-max over the batches equals min-max over all samples at once.
  const whole = await calibrate(model, samples, ['relu1'], { method: 'minmax', batchSize: n, threads: 1 });
  const batched = await calibrate(model, samples, ['relu1'], { method: 'minmax', batchSize: 7, threads: 1 });
  assert.deepEqual(batched.get('relu1'), whole.get('relu1'));
  await sharedSessions.clear();
});
