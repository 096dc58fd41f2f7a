// `whittle train --model FILE --data OWN`: fine-tuning a PyTorch export on the user's own labelled
// samples (.npy + labels.npy, an image folder with class sub-folders) rather than an MNIST/CIFAR
// directory; validation held out of them, the test figure from --test-data, once.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { PNG } from 'pngjs';
import { loadIdxDataset, subset } from '../../src/data/index.js';
import { tempDir, whittle } from './cli.js';
import { npyDir } from './own-data.js';

// A PyTorch export (torch.onnx, opset 17) with untrained weights: input [batch, 1, 28, 28], 10 logits.
const MODEL = 'test/fixtures/mlp.opset17.onnx';
const mnist = loadIdxDataset();

function json(stdout: string): Record<string, unknown> {
  return JSON.parse(stdout) as Record<string, unknown>;
}

test('train fine-tunes a PyTorch export on .npy samples, holds out validation from them, and scores --test-data as eval does', () => {
  const dir = tempDir();
  const trainDir = npyDir(join(dir, 'train'), subset(mnist.train, 0, 3000));
  const testDir = npyDir(join(dir, 'test'), subset(mnist.test, 0, 1000));
  const out = join(dir, 'ft.onnx');
  const r = whittle(['train', '--model', MODEL, '--data', trainDir, '--test-data', testDir, '--epochs', '2', '--lr', '0.05', '--out', out, '--json']);
  assert.equal(r.code, 0, r.stderr);
  const j = json(r.stdout);
  assert.equal(j['trainSamples'], 2700);
  assert.equal(j['valSamples'], 300);
  assert.equal(j['testSamples'], 1000);
  assert.equal(j['normalizeFrom'], 'data');
  // Untrained (chance: 10%); two epochs of 2,700 samples reach 85% here.
  assert.ok((j['accuracy'] as number) > 0.75, `test accuracy ${String(j['accuracy'])}`);
  assert.ok((j['valAccuracy'] as number) > 0.75, `validation accuracy ${String(j['valAccuracy'])}`);
  assert.match(r.stderr, /train epoch 2\/2: .*val loss/);
  // The test figure is the written model's accuracy on --test-data, as `whittle eval` reads it.
  const e = whittle(['eval', '--model', out, '--data', testDir, '--json']);
  assert.equal(e.code, 0, e.stderr);
  assert.equal(json(e.stdout)['accuracy'], j['accuracy']);
  // The export records no training split: the held-out samples may include ones it was trained on, and it says so.
  assert.equal((j['split'] as { source: string }).source, 'unrecorded');
  assert.match(r.stderr, /the model records no training split; holding out --val-split 0\.1 --split-seed 0/);
});

test('train reads an image folder with class sub-folders as labelled samples', () => {
  const dir = tempDir();
  const root = join(dir, 'digits');
  const ds = subset(mnist.train, 0, 400);
  for (let i = 0; i < ds.count; i++) {
    const png = new PNG({ width: 28, height: 28, colorType: 0, inputColorType: 0, inputHasAlpha: false });
    const px = ds.images.subarray(i * 784, (i + 1) * 784);
    for (let k = 0; k < 784; k++) {
      const v = px[k] as number;
      png.data[4 * k] = v;
      png.data[4 * k + 1] = v;
      png.data[4 * k + 2] = v;
      png.data[4 * k + 3] = 255;
    }
    const cls = join(root, `digit-${ds.labels[i] as number}`);
    mkdirSync(cls, { recursive: true });
    writeFileSync(join(cls, `${i}.png`), PNG.sync.write(png, { colorType: 0 }));
  }
  const r = whittle(['train', '--model', MODEL, '--data', root, '--epochs', '3', '--lr', '0.05', '--val-split', '0.25', '--json']);
  assert.equal(r.code, 0, r.stderr);
  const j = json(r.stdout);
  assert.equal(j['trainSamples'], 300);
  assert.equal(j['valSamples'], 100);
  // Folder names sort digit-0 … digit-9, so the class indices are the digits: it learns them.
  assert.ok((j['valAccuracy'] as number) > 0.3, `validation accuracy ${String(j['valAccuracy'])} (chance 10%; 44% here)`);
  assert.match(r.stderr, /no --test-data, so no test figure/);
});

test('train on own data: no labels, a zoo model, --normalize each get one clear line and a non-zero exit', () => {
  const dir = tempDir();
  const unlabelled = npyDir(join(dir, 'x'), subset(mnist.train, 0, 64), false);
  const labelled = npyDir(join(dir, 'y'), subset(mnist.train, 0, 64));
  // Bad data exits 1, a bad combination of flags 2 (usage), as every command does.
  const cases: [string[], number, RegExp][] = [
    [['--model', MODEL, '--data', unlabelled], 1, /BAD_DATA.*has no labels; training needs one class label per sample/],
    [['--model', 'lenet-5', '--data', labelled], 2, /fine-tune a model file on them \(--model model\.onnx\)/],
    [['--model', MODEL, '--data', labelled, '--normalize', 'x/255'], 2, /--normalize applies to MNIST\/CIFAR bytes/],
  ];
  for (const [args, code, message] of cases) {
    const r = whittle(['train', ...args, '--epochs', '1']);
    assert.equal(r.code, code, r.stderr);
    assert.match(r.stderr, message);
    assert.doesNotMatch(r.stderr, /epoch 1\/1/);
  }
});

test('prune fine-tunes on the same own data: accuracy before is the trained model on --test-data, and stays above a floor after thinning', () => {
  const dir = tempDir();
  const trainDir = npyDir(join(dir, 'train'), subset(mnist.train, 0, 3000));
  const testDir = npyDir(join(dir, 'test'), subset(mnist.test, 0, 1000));
  const tuned = join(dir, 'tuned.onnx');
  const t = whittle(['train', '--model', MODEL, '--data', trainDir, '--test-data', testDir, '--epochs', '2', '--lr', '0.05', '--out', tuned, '--json']);
  assert.equal(t.code, 0, t.stderr);
  const before = json(t.stdout)['accuracy'] as number;
  const out = join(dir, 'pruned.onnx');
  const args = ['prune', '--model', tuned, '--data', trainDir, '--granularity', 'neuron', '--sparsity', '0.5', '--fine-tune-epochs', '1', '--lr', '0.01'];
  const p = whittle([...args, '--test-data', testDir, '--out', out, '--json']);
  assert.equal(p.code, 0, p.stderr);
  const j = json(p.stdout);
  assert.equal(j['accuracyBefore'], before, 'the same model on the same test samples');
  assert.ok((j['params'] as number) < 0.6 * (j['paramsBefore'] as number), `params ${String(j['params'])} of ${String(j['paramsBefore'])}`);
  assert.ok((j['accuracy'] as number) > before - 0.1, `accuracy ${String(j['accuracy'])} after halving the hidden layer, from ${before}`);
  const e = whittle(['eval', '--model', out, '--data', testDir, '--json']);
  assert.equal(json(e.stdout)['accuracy'], j['accuracy']);
  // Training on own data needs labelled test samples for its before/after figures.
  const missing = whittle(args);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /pass --test-data/);
});

test('train fine-tunes a torchvision ShuffleNetV2 export on RGB image folders with --mean/--std', () => {
  const dir = tempDir();
  // Three classes told apart by their dominant colour, as PNGs of another size than the model's 32×32.
  let seed = 7;
  const noise = (): number => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed / 2147483648;
  };
  const folder = (name: string, perClass: number): string => {
    const root = join(dir, name);
    for (const [c, cls] of ['red', 'green', 'blue'].entries()) {
      mkdirSync(join(root, cls), { recursive: true });
      for (let i = 0; i < perClass; i++) {
        const png = new PNG({ width: 40, height: 40 });
        for (let k = 0; k < 1600; k++) {
          for (let ch = 0; ch < 3; ch++) png.data[4 * k + ch] = Math.min(255, Math.floor(noise() * 150 + (ch === c ? 100 : 0)));
          png.data[4 * k + 3] = 255;
        }
        writeFileSync(join(root, cls, `${i}.png`), PNG.sync.write(png));
      }
    }
    return root;
  };
  const train = folder('train', 60);
  const test = folder('test', 20);
  const imagenet = ['--mean', '0.485,0.456,0.406', '--std', '0.229,0.224,0.225'];
  const out = join(dir, 'shuffle.onnx');
  const r = whittle([
    'train',
    '--model',
    'test/fixtures/corpus/shufflenet_v2.opset17.onnx',
    '--data',
    train,
    '--test-data',
    test,
    ...imagenet,
    '--epochs',
    '3',
    '--batch',
    '16',
    '--out',
    out,
    '--json',
  ]);
  assert.equal(r.code, 0, r.stderr);
  const j = json(r.stdout);
  assert.equal(j['trainSamples'], 162);
  assert.equal(j['testSamples'], 60);
  assert.ok((j['accuracy'] as number) > 0.8, `test accuracy ${String(j['accuracy'])} (chance 33%)`);
  const e = whittle(['eval', '--model', out, '--data', test, ...imagenet, '--json']);
  assert.equal(e.code, 0, e.stderr);
  assert.equal(json(e.stdout)['accuracy'], j['accuracy']);
  // Then static int8, calibrated on the same folder read the same way (--mean/--std), scored on the test folder.
  const q = whittle(['quantize', '--model', out, '--data', train, ...imagenet, '--eval-data', test, '--out', join(dir, 'int8.onnx'), '--json']);
  assert.equal(q.code, 0, q.stderr);
  const qj = json(q.stdout);
  assert.ok((qj['sizeRatio'] as number) < 0.35, `int8 file ${String(qj['sizeRatio'])} of the float one`);
  assert.ok((qj['accuracyDrop'] as number) <= 0.05, `accuracy drop ${String(qj['accuracyDrop'])}`);
  // Quantization-aware training on the same folder: validation held out of it, the figures from --eval-data.
  const qatArgs = ['quantize', '--model', out, '--scheme', 'qat', '--data', train, ...imagenet, '--epochs', '1', '--lr', '0.001', '--batch', '16'];
  const qat = whittle([...qatArgs, '--eval-data', test, '--out', join(dir, 'qat.onnx'), '--json']);
  assert.equal(qat.code, 0, qat.stderr);
  const qa = json(qat.stdout);
  assert.equal(qa['evalSamples'], 60);
  assert.equal(qa['epochs'], 1);
  assert.ok((qa['sizeRatio'] as number) < 0.35, `QAT file ${String(qa['sizeRatio'])} of the float one`);
  assert.ok((qa['accuracyDrop'] as number) <= 0.1, `QAT accuracy drop ${String(qa['accuracyDrop'])}`);
  const noEval = whittle([...qatArgs, '--out', join(dir, 'never.onnx')]);
  assert.equal(noEval.code, 2);
  assert.match(noEval.stderr, /pass --eval-data/);
});

test('own samples where MNIST/CIFAR is read (--val-data beside MNIST training) say so, naming the flag and the commands that take them', () => {
  const dir = tempDir();
  const own = npyDir(join(dir, 'own'), subset(mnist.train, 0, 64));
  const r = whittle(['train', '--model', 'lenet-5', '--epochs', '1', '--samples', '256', '--val-data', own, '--out', join(dir, 'm.onnx')]);
  assert.equal(r.code, 2, r.stderr);
  assert.match(
    r.stderr,
    /--val-data \S+ holds your own samples \(a folder of \.npy files\); with MNIST\/CIFAR training data, --val-data is read as MNIST-format IDX or CIFAR-10 directories\. Your own samples work with train, prune, distill, merge, grow, sensitivity, compress and optimize .* eval, bench and export --web/,
  );
  assert.ok(!existsSync(join(dir, 'm.onnx')));
});

test('distill teaches a zoo student from a PyTorch export on your own labelled samples, scored on --test-data', () => {
  const dir = tempDir();
  const trainDir = npyDir(join(dir, 'train'), subset(mnist.train, 0, 3000));
  const testDir = npyDir(join(dir, 'test'), subset(mnist.test, 0, 1000));
  const teacher = join(dir, 'teacher.onnx');
  const t = whittle(['train', '--model', MODEL, '--data', trainDir, '--epochs', '2', '--lr', '0.05', '--out', teacher, '--json']);
  assert.equal(t.code, 0, t.stderr);
  const out = join(dir, 'student.onnx');
  const d = whittle([
    'distill',
    '--teacher',
    teacher,
    '--student',
    'mlp:784-16-10',
    '--data',
    trainDir,
    '--test-data',
    testDir,
    '--epochs',
    '2',
    '--out',
    out,
    '--json',
  ]);
  assert.equal(d.code, 0, d.stderr);
  const j = json(d.stdout);
  assert.equal(j['valSamples'], 300);
  assert.ok((j['accuracy'] as number) > 0.7, `student test accuracy ${String(j['accuracy'])} (chance 10%)`);
  const e = whittle(['eval', '--model', out, '--data', testDir, '--json']);
  assert.equal(json(e.stdout)['accuracy'], j['accuracy']);
  const missing = whittle(['distill', '--teacher', teacher, '--student', 'mlp:784-16-10', '--data', trainDir, '--epochs', '1']);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /pass --test-data/);
});
