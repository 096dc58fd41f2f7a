// Every form Whittle ships runs in onnxruntime-web (its WebAssembly backend, what a browser runs)
// and computes what onnxruntime-node computes: `whittle eval --runtime web` against the default.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { tempDir, whittle } from './cli.js';

const dir = tempDir();

function run(args: string[]): Record<string, unknown> {
  const r = whittle(args);
  assert.equal(r.code, 0, `whittle ${args.join(' ')}\n${r.stderr}`);
  return r.json ?? {};
}

/** Accuracy equal and loss within float rounding, on the same 1,000 test images. */
function sameOnBothRuntimes(model: string): void {
  const node = run(['eval', '--model', model, '--eval-limit', '1000', '--threads', '1', '--json']);
  const web = run(['eval', '--model', model, '--eval-limit', '1000', '--runtime', 'web', '--json']);
  assert.equal(web['runtime'], 'web');
  assert.equal(node['runtime'], 'node');
  assert.equal(web['correct'], node['correct'], `${model}: web ${web['accuracy']} vs node ${node['accuracy']}`);
  const dl = Math.abs(Number(web['loss']) - Number(node['loss']));
  assert.ok(dl <= 1e-4 * Math.max(1, Number(node['loss'])), `${model}: loss web ${web['loss']} vs node ${node['loss']}`);
  assert.ok(Number(node['accuracy']) > 0.5, `${model}: accuracy ${node['accuracy']} (a model that learned something)`);
}

test('onnxruntime-web runs every exported form of an MLP as onnxruntime-node does', () => {
  const mlp = join(dir, 'mlp.onnx');
  run(['train', '--model', 'lenet-300-100', '--epochs', '1', '--samples', '6400', '--lr', '0.05', '--threads', '1', '--out', mlp, '--json']);
  const forms: [string, string[]][] = [
    ['sparse.onnx', ['prune', '--model', mlp, '--sparsity', '0.9', '--scope', 'global', '--fine-tune-epochs', '0', '--sparse', '--eval-limit', '500']],
    ['qdq.onnx', ['quantize', '--model', mlp, '--scheme', 'ptq', '--calibration-samples', '256', '--eval-limit', '500']],
    ['dynamic.onnx', ['quantize', '--model', mlp, '--scheme', 'dynamic', '--eval-limit', '500']],
    ['fp16.onnx', ['quantize', '--model', mlp, '--format', 'fp16', '--eval-limit', '500']],
    ['int4.onnx', ['quantize', '--model', mlp, '--format', 'int4', '--eval-limit', '500']],
    ['ternary.onnx', ['quantize', '--model', mlp, '--scheme', 'ternary', '--epochs', '1', '--samples', '2048', '--lr', '0.01', '--eval-limit', '500']],
  ];
  sameOnBothRuntimes(mlp);
  for (const [name, args] of forms) {
    const out = join(dir, name);
    run([...args, '--threads', '1', '--out', out, '--json']);
    sameOnBothRuntimes(out);
  }
  // The Deep Compression container, decoded back to ONNX.
  const wtl = join(dir, 'kmeans.wtl');
  run(['quantize', '--model', mlp, '--scheme', 'kmeans', '--format', 'container', '--eval-limit', '500', '--threads', '1', '--out', wtl, '--json']);
  const decoded = join(dir, 'kmeans.onnx');
  run(['decode', '--model', wtl, '--out', decoded, '--json']);
  sameOnBothRuntimes(decoded);
});

test('onnxruntime-web runs a thinned and an int8 (QLinearConv) LeNet-5 as onnxruntime-node does', () => {
  const l5 = join(dir, 'lenet5.onnx');
  run(['train', '--model', 'lenet-5', '--epochs', '1', '--samples', '3200', '--lr', '0.02', '--threads', '1', '--out', l5, '--json']);
  const thin = join(dir, 'lenet5-thin.onnx');
  run([
    'prune',
    '--model',
    l5,
    '--granularity',
    'channel',
    '--sparsity',
    '0.5',
    '--fine-tune-epochs',
    '0',
    '--eval-limit',
    '500',
    '--threads',
    '1',
    '--out',
    thin,
    '--json',
  ]);
  const int8 = join(dir, 'lenet5-int8.onnx');
  run(['quantize', '--model', l5, '--scheme', 'ptq', '--calibration-samples', '256', '--eval-limit', '500', '--threads', '1', '--out', int8, '--json']);
  for (const m of [l5, thin, int8]) sameOnBothRuntimes(m);
});

test('--runtime takes node or web only', () => {
  const r = whittle(['eval', '--model', 'lenet-300-100', '--runtime', 'wasm']);
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /--runtime.*(node|web)/);
  assert.equal(r.stdout, '');
});
