// whittle bench: rows for every model × runtime setting, figures that agree with each other, the
// file's real size, and clear errors for bad flags.
import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { tempDir, whittle } from './cli.js';

const dir = tempDir();
const CORPUS = fileURLToPath(new URL('../../../test/fixtures/corpus/', import.meta.url));

test('bench times models side by side on onnxruntime-node and -web', () => {
  const file = join(dir, 'mlp.onnx');
  const t = whittle(['train', '--model', 'mlp:784-30-10', '--epochs', '1', '--samples', '640', '--threads', '1', '--out', file, '--json']);
  assert.equal(t.code, 0, t.stderr);
  const r = whittle([
    'bench',
    '--model',
    'lenet-300-100',
    '--model',
    file,
    '--runtime',
    'node,web',
    '--threads',
    '1',
    '--batch',
    '16',
    '--rounds',
    '3',
    '--warmup',
    '1',
    '--runs',
    '3',
    '--json',
  ]);
  assert.equal(r.code, 0, r.stderr);
  const j = r.json ?? {};
  assert.equal(j['batch'], 16);
  const rows = j['rows'] as {
    model: string;
    bytes: number;
    runtime: string;
    threads: number;
    msPerBatch: number;
    samplesPerSec: number;
    speedup: number;
    samples: number[];
  }[];
  assert.deepEqual(
    rows.map((x) => `${x.runtime}/${x.threads}/${x.model}`),
    ['node/1/lenet-300-100', `node/1/${file}`, 'web/1/lenet-300-100', `web/1/${file}`],
  );
  for (const x of rows) {
    assert.equal(x.samples.length, 3);
    const sorted = [...x.samples].sort((a, b) => a - b);
    assert.equal(x.msPerBatch, sorted[1]);
    assert.ok(Math.abs(x.samplesPerSec - 16_000 / x.msPerBatch) < 1e-6);
    const ref = rows.find((y) => y.runtime === x.runtime && y.model === 'lenet-300-100');
    assert.equal(x.speedup, (ref?.msPerBatch ?? NaN) / x.msPerBatch);
  }
  assert.equal(rows[1]?.bytes, statSync(file).size);
  assert.match(r.stderr, /ms\/batch/);
});

test('bench: bad flags are named', () => {
  for (const [args, pattern] of [
    [['bench'], /at least one --model/],
    [['bench', '--model', 'lenet-300-100', '--runtime', 'gpu'], /--runtime takes node, web/],
    [['bench', '--model', 'lenet-300-100', '--threads', '0'], /--threads must be an integer ≥ 1/],
    [['bench', '--model', join(dir, 'missing.onnx')], /missing\.onnx/],
  ] as const) {
    const r = whittle([...args]);
    assert.notEqual(r.code, 0, args.join(' '));
    assert.match(r.stderr, pattern);
    assert.equal(r.stdout, '');
  }
});

test('bench: any model, on its own .npy data or on random inputs shaped like its own', () => {
  const quick = ['--threads', '1', '--rounds', '1', '--warmup', '1', '--runs', '2', '--json'];
  // A 3×32×32 CNN on 32 images from a .npy file, and a Transformer (int64 token ids) on random inputs.
  const cnn = whittle(['bench', '--model', join(CORPUS, 'resnet18.opset17.onnx'), '--data', join(CORPUS, 'images32.input.npy'), '--batch', '8', ...quick]);
  assert.equal(cnn.code, 0, cnn.stderr);
  const tf = whittle(['bench', '--model', join(CORPUS, 'transformer_encoder.opset17.onnx'), '--batch', '2', ...quick]);
  assert.equal(tf.code, 0, tf.stderr);
  for (const [r, batch] of [
    [cnn, 8],
    [tf, 2],
  ] as const) {
    const rows = (r.json?.['rows'] ?? []) as { msPerBatch: number; samplesPerSec: number }[];
    assert.equal(rows.length, 1);
    assert.ok((rows[0]?.msPerBatch ?? 0) > 0);
    assert.ok(Math.abs((rows[0]?.samplesPerSec ?? 0) - (1000 * batch) / (rows[0]?.msPerBatch ?? NaN)) < 1e-6);
  }
  // Data that does not fit the model, or too little of it for the batch: one clear line each.
  for (const [args, pattern] of [
    [['--model', join(CORPUS, 'resnet18.opset17.onnx'), '--data', join(CORPUS, 'gru.input.npy')], /input "input" expects \[batch, 3, 32, 32\]/],
    [['--model', join(CORPUS, 'resnet18.opset17.onnx'), '--data', join(CORPUS, 'images32.input.npy'), '--batch', '64'], /32 samples, fewer than --batch 64/],
  ] as const) {
    const r = whittle(['bench', ...args, ...quick]);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, pattern);
    assert.doesNotMatch(r.stderr, /at .*\.js:\d+/, 'no stack trace');
    assert.equal(r.stdout, '');
  }
});
