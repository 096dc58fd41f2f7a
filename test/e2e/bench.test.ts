// whittle bench: rows for every model × runtime setting, figures that agree with each other, the
// file's real size, and clear errors for bad flags.
import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { tempDir, whittle } from './cli.js';

const dir = tempDir();

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
