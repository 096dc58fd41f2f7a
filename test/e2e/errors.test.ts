// Bad input: one clear line naming the problem and the fix, a non-zero exit, no stack trace, no
// partial output file.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { tempDir, whittle } from './cli.js';
import { encodeModel } from '../../src/ir/onnx.js';
import { attr, Graph, makeModel } from '../../src/ir/graph.js';
import { Tensor } from '../../src/ir/tensor.js';
import { createModel } from '../../src/nn/index.js';
import { encodeIdx } from '../../src/data/idx.js';
import { defaultMnistDir } from '../../src/data/mnist.js';

function assertCleanError(r: { code: number | null; stderr: string; stdout: string }, pattern: RegExp): void {
  assert.notEqual(r.code, 0, 'exit status must be non-zero');
  assert.match(r.stderr, pattern);
  assert.doesNotMatch(r.stderr, /^\s+at /m, 'no stack trace without --verbose');
  assert.equal(r.stdout, '', 'nothing on stdout');
}

test('a truncated .onnx file is refused with the file named', () => {
  const dir = tempDir();
  const good = encodeModel(createModel('lenet-300-100'));
  const path = join(dir, 'cut.onnx');
  writeFileSync(path, good.subarray(0, 5000));
  assertCleanError(whittle(['eval', '--model', path, '--json']), /BAD_ONNX.*cut\.onnx/);
  const junk = join(dir, 'junk.onnx');
  writeFileSync(junk, Buffer.from('this is not a model at all, just text'.repeat(10)));
  assertCleanError(whittle(['info', '--model', junk]), /junk\.onnx/);
});

test('an unknown flag names the flag', () => {
  assertCleanError(whittle(['train', '--model', 'lenet-5', '--epoch', '3']), /unknown option '--epoch'/);
});

test('a missing dataset directory lists the files it expects', () => {
  assertCleanError(whittle(['eval', '--model', 'lenet-300-100', '--data', '/nonexistent/mnist']), /DATA_NOT_FOUND.*--data DIR.*train-images-idx3-ubyte/);
});

test('a model whose input does not match the data shape', () => {
  const dir = tempDir();
  mkdirSync(join(dir, 'tiny'));
  const n = 20;
  const img = new Uint8Array(n * 8 * 8).map((_, i) => i % 251);
  const lab = new Uint8Array(n).map((_, i) => i % 10);
  for (const split of ['train', 't10k']) {
    writeFileSync(join(dir, 'tiny', `${split}-images-idx3-ubyte`), encodeIdx([n, 8, 8], img));
    writeFileSync(join(dir, 'tiny', `${split}-labels-idx1-ubyte`), encodeIdx([n], lab));
  }
  const model = join(dir, 'mnist-mlp.onnx');
  writeFileSync(model, encodeModel(createModel('lenet-300-100')));
  assertCleanError(
    whittle(['train', '--model', model, '--data', join(dir, 'tiny'), '--epochs', '1', '--batch', '4']),
    /SHAPE_MISMATCH.*\[1, 28, 28\].*\[1, 8, 8\]/,
  );
  assertCleanError(whittle(['eval', '--model', model, '--data', join(dir, 'tiny')]), /SHAPE_MISMATCH/);
  // A zoo model is built for the data instead.
  const zoo = whittle(['train', '--model', 'lenet-300-100', '--data', join(dir, 'tiny'), '--epochs', '1', '--batch', '4', '--json']);
  assert.equal(zoo.code, 0, zoo.stderr);
});

test('NaN loss from a huge learning rate: 8 halvings, then a clear error, the last good state checkpointed and no model', () => {
  const dir = tempDir();
  const out = join(dir, 'nan.onnx');
  const r = whittle(['train', '--model', 'lenet-300-100', '--lr', '1e6', '--epochs', '1', '--samples', '2048', '--out', out, '--json']);
  assertCleanError(
    r,
    /NAN_LOSS.*again after 8 halvings of the learning rate; the last good state \(step \d+\) is saved in .*nan\.onnx\.ckpt.*\(--lr, --warmup\)/,
  );
  assert.equal(r.stderr.match(/(non-finite loss|loss blew up to [0-9.e+]+) at step \d+; went back to step \d+ and halved the learning rate/g)?.length, 8);
  assert.ok(!existsSync(out), 'no partial output');
  assert.ok(existsSync(`${out}.ckpt`), 'the last good state is kept');
  assert.deepEqual(
    readdirSync(dir).filter((f) => f.endsWith('.tmp')),
    [],
  );
  // --no-recover: the first non-finite loss stops the run.
  const strict = whittle(['train', '--model', 'lenet-300-100', '--lr', '1e6', '--epochs', '1', '--samples', '2048', '--no-recover', '--json']);
  assertCleanError(
    strict,
    /NAN_LOSS.*the loss became (NaN|-?Infinity) at epoch 1, step \d+ \(learning rate [0-9.e+]+\); lower the learning rate.*without --no-recover/,
  );
  assert.doesNotMatch(strict.stderr, /halved/);
});

test('a validation split that is no fraction or larger than the data is refused', () => {
  assertCleanError(
    whittle(['train', '--model', 'lenet-300-100', '--val-split', '1.5']),
    /--val-split must be a fraction of the training data in \(0, 1\), e\.g\. 0\.1; got "1\.5"/,
  );
  assertCleanError(whittle(['train', '--model', 'lenet-300-100', '--val-split', '0']), /--val-split must be a fraction/);
  assertCleanError(whittle(['prune', '--model', 'lenet-300-100', '--sparsity', '0.5', '--val-split', '1']), /--val-split must be a fraction/);
  assertCleanError(
    whittle(['train', '--model', 'lenet-300-100', '--samples', '4']),
    /--val-split 0\.1: validation split 0\.1 gives 0 validation samples of 4; keep at least one sample on each side/,
  );
  assertCleanError(
    whittle(['train', '--model', 'lenet-300-100', '--val-data', defaultMnistDir()]),
    /--val-data .* is the --data directory, whose test split must stay unseen/,
  );
});

test('an op without a gradient rule is named when training', () => {
  const dir = tempDir();
  const g = new Graph('floor');
  g.inputs.push({ name: 'input', dtype: 'float32', shape: ['N', 1, 28, 28] });
  g.initializers.set('w', Tensor.fromArray('float32', [10, 784], new Array(7840).fill(0.001)));
  g.nodes.push(
    { name: 'flat', opType: 'Flatten', domain: '', inputs: ['input'], outputs: ['f'], attributes: { axis: attr.int(1) } },
    { name: 'fc', opType: 'Gemm', domain: '', inputs: ['f', 'w'], outputs: ['h'], attributes: { transB: attr.int(1) } },
    { name: 'quantize', opType: 'Floor', domain: '', inputs: ['h'], outputs: ['logits'], attributes: {} },
  );
  g.outputs.push({ name: 'logits', dtype: 'float32', shape: ['N', 10] });
  const path = join(dir, 'floor.onnx');
  writeFileSync(path, encodeModel(makeModel(g)));
  const before = readFileSync(path);
  assertCleanError(whittle(['train', '--model', path, '--epochs', '1', '--samples', '256']), /NO_GRADIENT.*Floor "quantize"/);
  assert.deepEqual(readFileSync(path), before, 'input untouched');
});

test('--out equal to the input model is refused, input untouched', () => {
  const dir = tempDir();
  const path = join(dir, 'm.onnx');
  writeFileSync(path, encodeModel(createModel('lenet-300-100')));
  const before = readFileSync(path);
  assertCleanError(whittle(['train', '--model', path, '--epochs', '1', '--samples', '256', '--out', path]), /never overwrites its input/);
  assert.deepEqual(readFileSync(path), before);
});

test('a structurally broken graph (dangling input) is refused at load with the value named', () => {
  const dir = tempDir();
  const g = new Graph('broken');
  g.inputs.push({ name: 'input', dtype: 'float32', shape: ['N', 1, 28, 28] });
  g.nodes.push(
    { name: 'flat', opType: 'Flatten', domain: '', inputs: ['input'], outputs: ['f'], attributes: {} },
    { name: 'fc', opType: 'Gemm', domain: '', inputs: ['f', 'missing_weight'], outputs: ['logits'], attributes: { transB: attr.int(1) } },
  );
  g.outputs.push({ name: 'logits', dtype: 'float32', shape: ['N', 10] });
  const path = join(dir, 'broken.onnx');
  writeFileSync(path, encodeModel(makeModel(g)));
  assertCleanError(whittle(['info', '--model', path]), /INVALID_GRAPH.*missing_weight/);
});
