// Models exported by PyTorch's torch.onnx.export (test/fixtures, made by export_fixtures.py).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { decodeModel } from '../../src/ir/onnx.js';
import { tempDir, whittle } from './cli.js';

const FIXTURES = fileURLToPath(new URL('../../../test/fixtures/', import.meta.url));

for (const name of ['mlp.opset13.onnx', 'cnn.opset17.onnx']) {
  test(`info and eval work on PyTorch's ${name}`, () => {
    const path = join(FIXTURES, name);
    const model = decodeModel(readFileSync(path));
    let params = 0;
    for (const t of model.graph.initializers.values()) if (t.dtype === 'float32') params += t.size;
    const i = whittle(['info', '--model', path, '--json']);
    assert.equal(i.code, 0, i.stderr);
    assert.equal(i.json?.['params'], params);
    assert.equal(i.json?.['bytes'], readFileSync(path).length);
    assert.ok(Number(i.json?.['flops']) > 0);
    const e = whittle(['eval', '--model', path, '--normalize', 'x/255', '--eval-limit', '2000', '--json']);
    assert.equal(e.code, 0, e.stderr);
    assert.equal(e.json?.['samples'], 2000);
    assert.ok(Number(e.json?.['accuracy']) >= 0 && Number(e.json?.['accuracy']) <= 1);
  });
}

test('train fine-tunes a PyTorch-exported MLP and records its normalization; the input is untouched', () => {
  const dir = tempDir();
  const src = join(FIXTURES, 'mlp.opset17.onnx');
  const before = readFileSync(src);
  const out = join(dir, 'tuned.onnx');
  const r = whittle(['train', '--model', src, '--epochs', '1', '--samples', '12800', '--normalize', 'mnist-mean-std', '--out', out, '--json']);
  assert.equal(r.code, 0, r.stderr);
  assert.ok(Number(r.json?.['accuracy']) > 0.85, `accuracy ${r.json?.['accuracy']}`);
  assert.deepEqual(readFileSync(src), before);
  assert.equal(decodeModel(readFileSync(out)).metadata['whittle.normalize'], 'mnist-mean-std');
  const e = whittle(['eval', '--model', out, '--json']);
  assert.equal(e.json?.['normalize'], 'mnist-mean-std');
  assert.equal(e.json?.['accuracy'], r.json?.['accuracy']);
});

test('train fine-tunes a PyTorch-exported residual CNN (Conv, Add, MaxPool, GlobalAveragePool, Reshape)', () => {
  const src = join(FIXTURES, 'cnn.opset17.onnx');
  const before = whittle(['eval', '--model', src, '--json']);
  assert.equal(before.code, 0, before.stderr);
  const r = whittle(['train', '--model', src, '--epochs', '1', '--samples', '6400', '--batch', '32', '--optimizer', 'adam', '--lr', '0.01', '--json']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.json?.['lr'], 0.01, 'an explicit --lr wins over the fine-tuning default');
  assert.ok(Number(r.json?.['accuracy']) > Number(before.json?.['accuracy']) + 0.1, `before ${before.json?.['accuracy']}, after ${r.json?.['accuracy']}`);
});

test('fine-tuning a PyTorch ResNet with BatchNorm at the default learning rate: a tenth of the from-scratch rate, no divergence', () => {
  const src = join(FIXTURES, 'resnet-bn.opset17.onnx');
  const before = whittle(['eval', '--model', src, '--json']);
  assert.equal(before.code, 0, before.stderr);
  const r = whittle(['train', '--model', src, '--epochs', '1', '--samples', '3200', '--json']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.json?.['lr'], 0.005);
  assert.equal(r.json?.['fineTuning'], true);
  assert.match(r.stderr, /fine-tuning .*resnet-bn\.opset17\.onnx at learning rate 0\.005 \(a tenth of the from-scratch default/);
  assert.deepEqual(r.json?.['recoveries'], []);
  assert.ok(Number.isFinite(Number(r.json?.['loss'])));
  assert.ok(Number(r.json?.['accuracy']) > Number(before.json?.['accuracy']) + 0.05, `before ${before.json?.['accuracy']}, after ${r.json?.['accuracy']}`);
});
