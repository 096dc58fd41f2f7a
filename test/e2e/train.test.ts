import assert from 'node:assert/strict';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { tempDir, whittle } from './cli.js';

test('train → eval → info on the bundled MNIST: LeNet-300-100, 2 epochs, ≥ 97% test accuracy', () => {
  const dir = tempDir();
  const out = join(dir, 'mlp.onnx');
  const t = whittle(['train', '--model', 'lenet-300-100', '--epochs', '2', '--threads', '2', '--seed', '1', '--out', out, '--json']);
  assert.equal(t.code, 0, t.stderr);
  const j = t.json as Record<string, number | string>;
  assert.ok(Number(j['accuracy']) >= 0.97, `accuracy ${j['accuracy']}`);
  assert.equal(j['epochs'], 2);
  // Validation: 10% of the 60000 training images held out; the test split only at the end.
  assert.equal(j['valSamples'], 6000);
  assert.equal(j['trainSamples'], 54000);
  assert.equal(j['testSamples'], 10000);
  const history = j['history'] as unknown as { valAccuracy: number; valLoss: number }[];
  assert.equal(history.length, 2);
  assert.equal(j['valAccuracy'], history[1]?.valAccuracy);
  assert.ok(Number(j['valAccuracy']) >= 0.97 && Number(history[1]?.valLoss) > 0);
  assert.deepEqual(j['recoveries'], []);
  // The MLP family's defaults (src/train/defaults.ts): batch 32, Nesterov at lr 0.03 decaying linearly, mean/std inputs, no label smoothing.
  assert.equal(j['lr'], 0.03);
  assert.equal(j['lrSchedule'], 'linear');
  assert.equal(j['labelSmoothing'], 0);
  assert.equal(j['batch'], 32);
  assert.equal(j['optimizer'], 'nesterov');
  assert.equal(j['normalize'], 'mnist-mean-std');
  assert.equal(j['defaults'], 'mlp');
  assert.equal(j['fineTuning'], false);
  assert.match(t.stderr, /train: test accuracy [0-9.]+% \(10000 samples\)/);
  assert.ok(Number(j['samplesPerSec']) > 0);
  assert.equal(j['out'], out);
  assert.equal(j['bytes'], statSync(out).size);
  assert.match(t.stderr, /epoch 2\/2: loss [0-9.]+ acc [0-9.]+ \| val loss/);
  // stdout carries exactly one JSON object.
  assert.equal(t.stdout.trim().split('\n').length, 1);

  const e = whittle(['eval', '--model', out, '--json']);
  assert.equal(e.code, 0, e.stderr);
  assert.equal(e.json?.['samples'], 10000);
  assert.ok(Math.abs(Number(e.json?.['accuracy']) - Number(j['accuracy'])) < 1e-9, 'eval reproduces the accuracy train reported');
  assert.equal(e.json?.['normalize'], 'mnist-mean-std', 'normalization recorded in the model is used');

  const i = whittle(['info', '--model', out, '--json']);
  assert.equal(i.code, 0, i.stderr);
  assert.equal(i.json?.['params'], 266_610);
  assert.equal(i.json?.['bytes'], statSync(out).size);
  // 2·(784·300 + 300·100 + 100·10) multiply-adds + biases + ReLUs.
  assert.ok(Number(i.json?.['flops']) >= 2 * 266_200);
  assert.ok(!existsSync(`${out}.tmp`));
  assert.ok(readFileSync(out).length > 1_000_000);
});

test('a diverging run recovers: each non-finite loss is undone, the learning rate halved, reported on stderr and in the JSON', () => {
  const r = whittle([
    'train',
    '--model',
    'lenet-5',
    '--samples',
    '2276',
    '--batch',
    '32',
    '--lr',
    '0.2',
    '--warmup',
    '0',
    '--lr-schedule',
    'constant',
    '--steps-per-run',
    '4',
    '--epochs',
    '1',
    '--seed',
    '1',
    '--threads',
    '1',
    '--json',
  ]);
  assert.equal(r.code, 0, r.stderr);
  const recoveries = r.json?.['recoveries'] as { epoch: number; step: number; restoredStep: number; lr: number }[];
  assert.ok(recoveries.length >= 1 && recoveries.length <= 8, JSON.stringify(recoveries));
  recoveries.forEach((x, i) => {
    assert.equal(x.lr, 0.2 / 2 ** (i + 1));
    assert.equal(x.epoch, 1);
    assert.ok(x.restoredStep < x.step && x.step - x.restoredStep <= 64 + 4, JSON.stringify(x));
  });
  assert.equal(
    r.stderr.match(/train: (non-finite loss|loss blew up to [0-9.e+]+) at step \d+; went back to step \d+ and halved the learning rate/g)?.length,
    recoveries.length,
  );
  assert.equal(r.json?.['status'], 'completed');
  assert.equal(r.json?.['lr'], 0.2, 'the JSON keeps the learning rate asked for; recoveries say what it became');
});
