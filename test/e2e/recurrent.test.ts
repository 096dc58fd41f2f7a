// Recurrent networks end to end: the zoo's row LSTM trains from scratch, and PyTorch's exported
// LSTM row classifier (test/fixtures/corpus, trained 2 epochs in PyTorch) fine-tunes through the
// LSTM gradient without losing accuracy.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { tempDir, whittle } from './cli.js';

const CORPUS = fileURLToPath(new URL('../../../test/fixtures/corpus/', import.meta.url));

test('the zoo lstm (MNIST rows as a 28-step sequence) learns in one short epoch', () => {
  const out = join(tempDir(), 'lstm.onnx');
  const r = whittle([
    'train',
    '--model',
    'lstm',
    '--epochs',
    '1',
    '--samples',
    '6400',
    '--optimizer',
    'adam',
    '--lr',
    '0.003',
    '--seed',
    '1',
    '--out',
    out,
    '--json',
  ]);
  assert.equal(r.code, 0, r.stderr);
  // Chance is 10%; 100 Adam steps reach ~60% (a gradient that is wrong anywhere stays near chance).
  assert.ok(Number(r.json?.['accuracy']) > 0.5, `accuracy ${r.json?.['accuracy']}`);
  assert.deepEqual(r.json?.['recoveries'], []);
});

test("fine-tuning PyTorch's LSTM row classifier keeps its accuracy", () => {
  const manifest = JSON.parse(readFileSync(join(CORPUS, 'manifest.json'), 'utf8')) as { models: { file: string; test_accuracy_10000: number }[] };
  const file = 'mnist_lstm.opset17.onnx';
  const pytorch = manifest.models.find((m) => m.file === file)?.test_accuracy_10000 ?? assert.fail(`${file} is not in the manifest`);
  const out = join(tempDir(), 'tuned.onnx');
  const r = whittle(['train', '--model', join(CORPUS, file), '--epochs', '1', '--samples', '6400', '--normalize', 'mnist-mean-std', '--out', out, '--json']);
  assert.equal(r.code, 0, r.stderr);
  // 100 steps at the fine-tuning rate: within half a point of PyTorch's 97.48% (a wrong gradient
  // drags it down within a few steps; the full-epoch target is in the closing note).
  assert.ok(Number(r.json?.['accuracy']) >= pytorch - 0.005, `accuracy ${r.json?.['accuracy']} vs PyTorch ${pytorch}`);
});
