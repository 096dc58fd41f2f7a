// Per-family training defaults (src/train/defaults.ts) as `whittle train` applies them: a new zoo
// model takes its family's batch, optimizer, learning rate and input normalization unless the
// command line gives them; a model file keeps the general ones (a tenth of the learning rate).
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { tempDir, whittle } from './cli.js';

type Json = Record<string, unknown>;
const quick = ['--epochs', '1', '--samples', '1280', '--threads', '1', '--json'];

function settings(j: Json | undefined): unknown[] {
  return [j?.['batch'], j?.['optimizer'], j?.['lr'], j?.['lrSchedule'], j?.['normalize'], j?.['labelSmoothing'], j?.['defaults']];
}

test('an MLP trains with its family defaults, LeNet-5 with the general ones, and flags override either', () => {
  const dir = tempDir();
  const mlp = whittle(['train', '--model', 'lenet-300-100', ...quick, '--out', join(dir, 'mlp.onnx')]);
  assert.equal(mlp.code, 0, mlp.stderr);
  assert.deepEqual(settings(mlp.json), [32, 'nesterov', 0.03, 'linear', 'mnist-mean-std', 0, 'mlp']);
  // 1,152 training samples (10% held out) at batch 32: 36 steps, not 18.
  assert.equal(mlp.json?.['trainSamples'], 1152);
  // The schedule is applied, not only reported: the last of 36 steps (index 35) runs at
  // 0.03 · (1 − 35/36) decaying linearly; cosine would give 0.03 · (1 + cos(35π/36))/2 ≈ 5.7e-5.
  const lastLr = (j: Json | undefined): number => Number((j?.['history'] as { lr: number }[] | undefined)?.[0]?.lr);
  assert.ok(Math.abs(lastLr(mlp.json) - 0.03 / 36) < 1e-9, `last lr ${lastLr(mlp.json)}`);
  const small = whittle(['train', '--model', 'mlp:784-30-10', ...quick]);
  assert.equal(small.code, 0, small.stderr);
  assert.deepEqual(settings(small.json), [32, 'nesterov', 0.03, 'linear', 'mnist-mean-std', 0, 'mlp']);

  const lenet = whittle(['train', '--model', 'lenet-5', ...quick]);
  assert.equal(lenet.code, 0, lenet.stderr);
  assert.deepEqual(settings(lenet.json), [64, 'momentum', 0.05, 'cosine', 'x/255', 0, 'default']);

  const given = whittle([
    'train',
    '--model',
    'lenet-300-100',
    ...quick,
    '--batch',
    '64',
    '--optimizer',
    'momentum',
    '--lr',
    '0.05',
    '--normalize',
    'x/255',
    '--label-smoothing',
    '0',
    '--lr-schedule',
    'cosine',
    '--out',
    join(dir, 'given.onnx'),
  ]);
  assert.equal(given.code, 0, given.stderr);
  assert.deepEqual(settings(given.json), [64, 'momentum', 0.05, 'cosine', 'x/255', 0, 'mlp']);
  // 18 steps at batch 64: the last at 0.05 · (1 + cos(17π/18))/2.
  assert.ok(Math.abs(lastLr(given.json) - (0.05 * (1 + Math.cos((17 * Math.PI) / 18))) / 2) < 1e-9, `last lr ${lastLr(given.json)}`);

  // The file records its label smoothing; distilling from it says a smoothed teacher teaches less.
  const smoothed = whittle(['train', '--model', 'lenet-300-100', ...quick, '--label-smoothing', '0.1', '--out', join(dir, 'smoothed.onnx')]);
  assert.equal(smoothed.code, 0, smoothed.stderr);
  assert.equal(smoothed.json?.['labelSmoothing'], 0.1);
  const student = whittle(['distill', '--teacher', join(dir, 'smoothed.onnx'), '--student', 'mlp:784-16-10', ...quick]);
  assert.equal(student.code, 0, student.stderr);
  assert.match(student.stderr, /distill: the teacher was trained with label smoothing 0\.1, whose flatter soft targets teach a student less/);
  const plain = whittle(['distill', '--teacher', join(dir, 'given.onnx'), '--student', 'mlp:784-16-10', ...quick]);
  assert.equal(plain.code, 0, plain.stderr);
  assert.doesNotMatch(plain.stderr, /label smoothing/);

  // Fine-tuning the MLP's file: the general defaults at a tenth of the lr, the recorded normalization.
  const tune = whittle(['train', '--model', join(dir, 'mlp.onnx'), ...quick]);
  assert.equal(tune.code, 0, tune.stderr);
  assert.deepEqual(settings(tune.json), [64, 'momentum', 0.005, 'cosine', 'mnist-mean-std', 0, 'default']);
  assert.equal(tune.json?.['fineTuning'], true);
});

test('a run that collapses with a finite loss is undone and reported in the JSON; --no-recover stops it with one clear line', () => {
  // LeNet-300-100 at mean/std inputs, batch 16, lr 0.1, cosine decay: training accuracy climbs past 40%, then
  // falls back towards chance with no NaN. Measured: the guarded run 79.4% validation, 77.9% test.
  const collapsing = [
    'train',
    '--model',
    'lenet-300-100',
    '--epochs',
    '1',
    '--samples',
    '8192',
    '--batch',
    '16',
    '--lr',
    '0.1',
    '--warmup',
    '20',
    '--label-smoothing',
    '0',
    '--lr-schedule',
    'cosine',
  ];
  const flags = ['--steps-per-run', '16', '--threads', '1', '--json'];
  const r = whittle([...collapsing, ...flags]);
  assert.equal(r.code, 0, r.stderr);
  const recoveries = r.json?.['recoveries'] as { reason: string; accuracy: number; bestAccuracy: number; lr: number }[];
  assert.ok(
    recoveries.some((x) => x.reason === 'collapse' && x.accuracy < x.bestAccuracy),
    JSON.stringify(recoveries),
  );
  assert.match(r.stderr, /training accuracy collapsed to [\d.]+% from [\d.]+% \(loss [\d.]+\) at step \d+; went back to step \d+ and halved the learning rate/);
  assert.ok((r.json?.['valAccuracy'] as number) > 0.6, `validation ${r.json?.['valAccuracy']}`);

  const strict = whittle([...collapsing, ...flags, '--no-recover']);
  assert.equal(strict.code, 1);
  assert.match(strict.stderr, /whittle: error \[NAN_LOSS\]: training collapsed at epoch 1, step \d+ .*fell to [\d.]+% from [\d.]+% with a finite loss/);
  assert.equal(strict.stdout, '');
});
