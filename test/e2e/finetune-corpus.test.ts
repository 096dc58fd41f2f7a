// Fine-tuning PyTorch-trained models at the opsets they come in (11, 13, 17): the training graph
// loads in onnxruntime, the training loss falls, and test accuracy stays near PyTorch's.
// Small runs (576 training images, 2 epochs) so the suite stays fast; the full-epoch figures are
// in test/fixtures/corpus/finetune-results.md.
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { attr, Graph, makeModel } from '../../src/ir/graph.js';
import { encodeModel } from '../../src/ir/onnx.js';
import { Tensor } from '../../src/ir/tensor.js';
import { randomTensor } from '../gradcheck.js';
import { tempDir, whittle } from './cli.js';

const CORPUS = fileURLToPath(new URL('../../../test/fixtures/corpus/', import.meta.url));
const manifest = JSON.parse(readFileSync(join(CORPUS, 'manifest.json'), 'utf8')) as { models: { file: string; test_accuracy_10000?: number }[] };

function pytorchAccuracy(file: string): number {
  const m = manifest.models.find((x) => x.file === file);
  assert.ok(m?.test_accuracy_10000 !== undefined, `manifest.json has no accuracy for ${file}`);
  return m.test_accuracy_10000;
}

interface Epoch {
  loss: number;
}

for (const file of [
  'mnist_resnet20_bn.opset11.onnx',
  'mnist_resnet20_bn.opset13.onnx',
  'mnist_resnet20_bn.opset17.onnx',
  'mnist_mobilenet_v3.opset17.onnx',
  'mnist_vit.opset11.onnx',
]) {
  test(`fine-tune ${file} with no flags but size: mnist-mean-std is picked on validation, the loss falls, test accuracy stays within a point of PyTorch's`, () => {
    const out = join(tempDir(), 'tuned.onnx');
    // No --normalize: the file records none, so train tries each normalization on validation samples.
    const args = ['train', '--model', join(CORPUS, file), '--epochs', '2', '--samples', '640'];
    const r = whittle([...args, '--threads', '1', '--json', '--out', out]);
    assert.equal(r.code, 0, r.stderr);
    const j = r.json ?? {};
    assert.equal(j['normalize'], 'mnist-mean-std', r.stderr);
    assert.equal(j['normalizeFrom'], 'validation');
    assert.match(
      r.stderr,
      /train: the model records no input normalization; on 64 validation samples x\/255 [0-9.]+% \(loss [0-9.]+\), mnist-mean-std [0-9.]+% \(loss [0-9.]+\), none [0-9.]+% \(loss [0-9.]+\): training with mnist-mean-std, the lowest loss/,
    );
    const history = j['history'] as Epoch[];
    assert.equal(history.length, 2);
    assert.ok((history[1] as Epoch).loss < (history[0] as Epoch).loss, `training loss ${history.map((h) => h.loss.toFixed(4)).join(' → ')}`);
    const floor = pytorchAccuracy(file) - 0.01;
    assert.ok((j['accuracy'] as number) >= floor, `test accuracy ${j['accuracy']} < ${floor.toFixed(4)} (PyTorch's − 1 point)`);
  });
}

/** x → Flatten → fc1 → Floor → fc2: Floor has no gradient rule. */
function floorModel(): Uint8Array {
  const g = new Graph('floor');
  g.inputs.push({ name: 'x', dtype: 'float32', shape: ['N', 1, 28, 28] });
  g.initializers.set('fc1.weight', randomTensor('float32', [16, 784], 1, -0.05, 0.05));
  g.initializers.set('fc1.bias', Tensor.fromArray('float32', [16], new Array(16).fill(0)));
  g.initializers.set('fc2.weight', randomTensor('float32', [10, 16], 2, -0.3, 0.3));
  g.initializers.set('fc2.bias', Tensor.fromArray('float32', [10], new Array(10).fill(0)));
  const t = { transB: attr.int(1) };
  g.nodes.push(
    { name: 'flatten', opType: 'Flatten', domain: '', inputs: ['x'], outputs: ['f'], attributes: {} },
    { name: 'fc1', opType: 'Gemm', domain: '', inputs: ['f', 'fc1.weight', 'fc1.bias'], outputs: ['h'], attributes: t },
    { name: 'quantize_steps', opType: 'Floor', domain: '', inputs: ['h'], outputs: ['q'], attributes: {} },
    { name: 'fc2', opType: 'Gemm', domain: '', inputs: ['q', 'fc2.weight', 'fc2.bias'], outputs: ['logits'], attributes: t },
  );
  g.outputs.push({ name: 'logits', dtype: 'float32', shape: ['N', 10] });
  return encodeModel(makeModel(g));
}

test('an op without a gradient rule: one line naming the op, the node, an alternative and what to freeze; --freeze then trains', () => {
  const dir = tempDir();
  const path = join(dir, 'floor.onnx');
  writeFileSync(path, floorModel());
  const base = ['train', '--model', path, '--epochs', '1', '--samples', '256', '--threads', '1'];
  const r = whittle([...base, '--out', join(dir, 'a.onnx')]);
  assert.notEqual(r.code, 0);
  const line = r.stderr.trim().split('\n').at(-1) ?? '';
  assert.match(line, /NO_GRADIENT/);
  assert.match(line, /Floor "quantize_steps" has no gradient rule/);
  assert.match(line, /replace it with Round/);
  assert.match(line, /freeze the parameters before it \(fc1\.weight, fc1\.bias\)/);
  assert.match(line, /--freeze/);
  assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
  const frozen = whittle([...base, '--freeze', 'fc1', '--json', '--out', join(dir, 'b.onnx')]);
  assert.equal(frozen.code, 0, frozen.stderr);
  assert.equal(frozen.json?.['status'], 'completed');
  const typo = whittle([...base, '--freeze', 'fc9', '--out', join(dir, 'c.onnx')]);
  assert.notEqual(typo.code, 0);
  assert.match(typo.stderr, /--freeze fc9: no trainable parameter/);
});
