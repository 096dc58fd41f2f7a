// Shrinking a model file on the user's own samples: `whittle optimize --data OWN --test-data T`
// (the search over a PyTorch export fine-tuned on own .npy samples, its validation split held out
// of them, the trials' fine-tune rate chosen on that split, the test figure read once from
// --test-data; unlabelled samples labelled by the input model), `sensitivity` and `merge` on them.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, test } from 'node:test';
import { loadIdxDataset, subset } from '../../src/data/index.js';
import { decodeModel } from '../../src/ir/onnx.js';
import { tempDir, whittle } from './cli.js';
import { npyDir } from './own-data.js';

// A PyTorch export (torch.onnx, opset 17) with untrained weights: input [batch, 1, 28, 28], 10 logits.
const EXPORT = 'test/fixtures/mlp.opset17.onnx';
const mnist = loadIdxDataset();
const dir = tempDir();
const trainDir = join(dir, 'train');
const testDir = join(dir, 'test');
const model = join(dir, 'mlp.onnx');

before(() => {
  npyDir(trainDir, subset(mnist.train, 0, 3000));
  npyDir(testDir, subset(mnist.test, 0, 1000));
  const r = whittle(['train', '--model', EXPORT, '--data', trainDir, '--test-data', testDir, '--epochs', '8', '--lr', '0.05', '--out', model, '--json']);
  assert.equal(r.code, 0, r.stderr);
});

interface Result {
  lrProbe: { rates: { lr: number; trial: number; valAccuracy: number }[]; chosen: number };
  front: { trial: number; valAccuracy: number; bytes: number }[];
  baseline: { valAccuracy: number; testAccuracy: number };
  final: { valAccuracy: number; testAccuracy: number; bytes: number; onnx: string };
  trials: number;
  data: string;
  testData: string;
  split: { source: string; seed: number; fraction: number };
}

/** A small search of the trained export on `data`, scored on `test`: one worker, trial-sized samples. */
function search(data: string, test: string, out: string): string[] {
  return [
    ...['optimize', '--model', model, '--data', data, '--test-data', test, '--out', out, '--max-drop', '2', '--workers', '1'],
    ...['--train-samples', '1000', '--val-samples', '300', '--latency-table', join(dir, 'latency.json')],
  ];
}

test('optimize searches a model file on your own .npy samples: rate chosen on validation, test read from --test-data as eval reads it', () => {
  const out = join(dir, 'opt');
  const r = whittle([
    ...search(trainDir, testDir, out),
    ...['--target', 'size', '--trials', '4', '--population', '2', '--final-epochs', '2', '--seed', '3', '--json'],
  ]);
  assert.equal(r.code, 0, r.stderr);
  const j = r.json as unknown as Result;
  assert.equal(j.testData, testDir);
  assert.equal(j.data, trainDir);
  // The default --round-to auto rounds convolution channels; this export has none, so nothing is rounded.
  assert.equal((r.json as { roundTo?: unknown }).roundTo, 1);
  // Held out of the 3,000 own samples: the export was fine-tuned without a recorded split it vouches for.
  assert.equal(j.split.source, 'unrecorded');
  assert.equal(j.split.fraction, 0.1);
  // The probe: each default rate once, on one candidate; the one scoring highest is the search's.
  assert.deepEqual(
    j.lrProbe.rates.map((p) => p.lr),
    [0.01, 0.003, 0.001],
  );
  const best = Math.max(...j.lrProbe.rates.map((p) => p.valAccuracy));
  assert.equal(j.lrProbe.chosen, j.lrProbe.rates.find((p) => p.valAccuracy === best)?.lr);
  assert.equal(j.trials, 4 + 3);
  assert.match(r.stderr, /optimize: fine-tune rate [\d.]+ for the trials/);
  // Whatever the target, the written model and the input are timed side by side.
  const c = (r.json as { latencyCheck?: { inputMs: number; chosenMs: number; speedup: number } }).latencyCheck;
  assert.ok(c !== undefined && Math.abs(c.speedup - c.inputMs / c.chosenMs) < 1e-9 * c.speedup, JSON.stringify(c));
  assert.match(r.stderr, /ms\/batch \([\d.]+× the input's speed, timed side by side\)/);
  // Smaller than the input (dense float32), still far above chance on the own test samples.
  assert.ok(j.final.bytes < 51_000, `final ${j.final.bytes} bytes`);
  assert.ok(j.final.testAccuracy > 0.75, `final test accuracy ${j.final.testAccuracy}`);
  assert.ok(j.baseline.testAccuracy > 0.8, `input test accuracy ${j.baseline.testAccuracy}`);
  // The reported test figure is the written model's accuracy on --test-data, as `whittle eval` reads it.
  const e = whittle(['eval', '--model', j.final.onnx, '--data', testDir, '--json']);
  assert.equal(e.code, 0, e.stderr);
  assert.equal((e.json as { accuracy: number }).accuracy, j.final.testAccuracy);
  const e0 = whittle(['eval', '--model', model, '--data', testDir, '--json']);
  assert.equal((e0.json as { accuracy: number }).accuracy, j.baseline.testAccuracy);
});

test('optimize on unlabelled samples: the input model labels them, and the test figure is its top-1 agreement as eval --reference measures it', () => {
  const train = npyDir(join(dir, 'nolabels-train'), subset(mnist.train, 0, 3000), false);
  const testSet = npyDir(join(dir, 'nolabels-test'), subset(mnist.test, 0, 1000), false);
  const out = join(dir, 'opt-nolabels');
  const r = whittle([...search(train, testSet, out), ...['--lr', '0.01', '--trials', '3', '--population', '3', '--final-epochs', '1', '--json']]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /has no labels: the input model's top-1 predictions label it and --test-data/);
  assert.match(r.stderr, /top-1 agreement with the input [\d.]+% on the test samples/);
  const j = r.json as unknown as Result & { labels: string };
  assert.equal(j.labels, 'model');
  // Against its own predictions the input agrees with itself.
  assert.equal(j.baseline.valAccuracy, 1);
  assert.equal(j.baseline.testAccuracy, 1);
  assert.ok(j.final.testAccuracy > 0.8, `agreement ${j.final.testAccuracy}`);
  const e = whittle(['eval', '--model', j.final.onnx, '--reference', model, '--data', testSet, '--json']);
  assert.equal(e.code, 0, e.stderr);
  assert.equal((e.json as { agreement: { top1: number }[] }).agreement[0]?.top1, j.final.testAccuracy);
});

test('optimize on own samples: no --test-data, --normalize, --shifts, --test-data with an MNIST directory, or a bad --round-to, each one clear line', () => {
  const base = ['optimize', '--model', model, '--out', join(dir, 'bad'), '--trials', '1'];
  const cases: [string[], RegExp][] = [
    [['--data', trainDir], /holds your own samples; pass --test-data/],
    [['--data', trainDir, '--test-data', testDir, '--normalize', 'x/255'], /--normalize applies to MNIST\/CIFAR bytes/],
    [['--data', trainDir, '--test-data', testDir, '--shifts', '2'], /--shifts moves MNIST\/CIFAR pixels/],
    [['--test-data', testDir], /--test-data goes with your own --data samples/],
    [['--data', trainDir, '--test-data', join(dir, 'missing')], /--test-data .*missing does not exist/],
    [
      ['--data', trainDir, '--test-data', testDir, '--round-to', 'eight'],
      /--round-to must be auto or a whole number of channels ≥ 1 \(e\.g\. 8\), got "eight"/,
    ],
  ];
  for (const [flags, message] of cases) {
    const r = whittle([...base, ...flags]);
    assert.notEqual(r.code, 0, flags.join(' '));
    assert.match(r.stderr, message);
    assert.equal(r.stdout, '');
  }
});

test('sensitivity measures each layer on your own validation samples: its baseline and a point equal eval of the same models', () => {
  const valDir = join(dir, 'val');
  npyDir(valDir, subset(mnist.train, 3000, 500));
  const r = whittle(['sensitivity', '--model', model, '--data', trainDir, '--val-data', valDir, '--sparsities', '0.5,0.9', '--json']);
  assert.equal(r.code, 0, r.stderr);
  const j = r.json as { baseline: number; samples: number; layers: { name: string; points: { sparsity: number; accuracy: number }[] }[] };
  assert.equal(j.samples, 500);
  const e = whittle(['eval', '--model', model, '--data', valDir, '--json']);
  assert.equal(j.baseline, (e.json as { accuracy: number }).accuracy);
  assert.ok(j.layers.length >= 2 && j.layers.every((l) => l.points.length === 2));
  // The curve's first point is the model with that one layer pruned to 50% by magnitude.
  const layer = j.layers[0] as (typeof j.layers)[number];
  const pruned = join(dir, 'half.onnx');
  const p = whittle(['prune', '--model', model, '--per-layer', `${layer.name}=0.5`, '--out', pruned, '--json']);
  assert.equal(p.code, 0, p.stderr);
  const ep = whittle(['eval', '--model', pruned, '--data', valDir, '--json']);
  assert.equal(layer.points[0]?.accuracy, (ep.json as { accuracy: number }).accuracy);
  // Own samples are fed as read.
  const n = whittle(['sensitivity', '--model', model, '--data', trainDir, '--normalize', 'x/255']);
  assert.notEqual(n.code, 0);
  assert.match(n.stderr, /--normalize applies to MNIST\/CIFAR bytes/);
});

test('merge pairs neurons by their activations on your own samples; its accuracies are eval of the input and of the written model on --test-data', () => {
  const out = join(dir, 'merged.onnx');
  const r = whittle([
    'merge',
    '--model',
    model,
    '--layer',
    '/fc1/Gemm',
    '--count',
    '4',
    '--criterion',
    'activation',
    '--data',
    trainDir,
    '--test-data',
    testDir,
    '--out',
    out,
    '--json',
  ]);
  assert.equal(r.code, 0, r.stderr);
  const j = r.json as { widthBefore: number; widthAfter: number; accuracyBeforeMerge: number; accuracyAfterMerge: number; accuracy: number };
  assert.equal(j.widthAfter, j.widthBefore - 4);
  const before = whittle(['eval', '--model', model, '--data', testDir, '--json']);
  const after = whittle(['eval', '--model', out, '--data', testDir, '--json']);
  assert.equal(j.accuracyBeforeMerge, (before.json as { accuracy: number }).accuracy);
  assert.equal(j.accuracyAfterMerge, (after.json as { accuracy: number }).accuracy);
  assert.ok(j.accuracyAfterMerge > 0.5, `merged accuracy ${j.accuracyAfterMerge}`);
  const noTest = whittle(['merge', '--model', model, '--layer', '/fc1/Gemm', '--count', '4', '--data', trainDir]);
  assert.notEqual(noTest.code, 0);
  assert.match(noTest.stderr, /pass --test-data with labelled test samples/);
});

test('grow widens a model file and trains it on your own samples: function kept, the accuracy is eval of the written model on --test-data', () => {
  const wide = join(dir, 'wide.onnx');
  const r = whittle(['grow', '--model', model, '--widen', '/fc1/Gemm=24', '--data', trainDir, '--test-data', testDir, '--out', wide, '--json']);
  assert.equal(r.code, 0, r.stderr);
  const j = r.json as { accuracy: number; maxAbsOutputChange: number; params: number; paramsBefore: number };
  assert.ok(j.maxAbsOutputChange < 1e-4, `output change ${j.maxAbsOutputChange}`);
  assert.ok(j.params > j.paramsBefore);
  const e = whittle(['eval', '--model', wide, '--data', testDir, '--json']);
  assert.equal(j.accuracy, (e.json as { accuracy: number }).accuracy);
  assert.equal(j.accuracy, (whittle(['eval', '--model', model, '--data', testDir, '--json']).json as { accuracy: number }).accuracy);
  // --when-stuck trains on the samples, validation held out of them.
  const stuck = join(dir, 'stuck.onnx');
  const s = whittle([
    ...['grow', '--model', model, '--widen', '/fc1/Gemm=24', '--when-stuck', '--epochs', '2', '--lr', '0.01'],
    ...['--data', trainDir, '--test-data', testDir, '--out', stuck, '--json'],
  ]);
  assert.equal(s.code, 0, s.stderr);
  const k = s.json as { accuracy: number; split: { fraction: number } };
  assert.equal(k.split.fraction, 0.1);
  assert.equal(k.accuracy, (whittle(['eval', '--model', stuck, '--data', testDir, '--json']).json as { accuracy: number }).accuracy);
  assert.ok(k.accuracy > 0.8, `accuracy ${k.accuracy}`);
});

test('quantize --scheme kmeans scores the container on your own --eval-data: the accuracy is eval of its decoded model', () => {
  const wtl = join(dir, 'k.wtl');
  const r = whittle(['quantize', '--model', model, '--scheme', 'kmeans', '--bits', '4', '--eval-data', testDir, '--out', wtl, '--json']);
  assert.equal(r.code, 0, r.stderr);
  const j = r.json as { accuracy: number; baselineAccuracy: number; bytes: number; normalize: string | null; agreement: { outputs: { top1: number }[] } };
  assert.equal(j.normalize, null);
  assert.equal(j.baselineAccuracy, (whittle(['eval', '--model', model, '--data', testDir, '--json']).json as { accuracy: number }).accuracy);
  const decoded = join(dir, 'k.onnx');
  assert.equal(whittle(['decode', '--model', wtl, '--out', decoded]).code, 0);
  assert.equal(j.accuracy, (whittle(['eval', '--model', decoded, '--data', testDir, '--json']).json as { accuracy: number }).accuracy);
  assert.ok((j.agreement.outputs[0]?.top1 ?? 0) > 0.9);
});

test('optimize --round-to 8: every thinned layer keeps a multiple of 8 neurons', () => {
  const out = join(dir, 'opt-round');
  const r = whittle([
    ...search(trainDir, testDir, out),
    ...['--target', 'flops', '--max-drop', '30', '--round-to', '8', '--lr', '0.01', '--trials', '4', '--final-epochs', '1', '--json'],
  ]);
  assert.equal(r.code, 0, r.stderr);
  const j = r.json as unknown as Result & { chosen: { layers: Record<string, { width: number }> } };
  assert.equal((r.json as { roundTo?: unknown }).roundTo, 8);
  const written = decodeModel(readFileSync(j.final.onnx), j.final.onnx);
  const hidden = written.graph.nodes.filter((n) => n.opType === 'Gemm').slice(0, -1);
  assert.ok(hidden.length > 0);
  for (const n of hidden) {
    const w = written.graph.initializers.get(n.inputs[1] as string);
    assert.ok(w !== undefined && (w.dims[0] as number) % 8 === 0, `${n.name}: ${w?.dims.join('×')}`);
  }
  // The search thinned at least one layer (the 30-point drop allows it), so the rounding was exercised.
  assert.ok(
    Object.values(j.chosen.layers).some((p) => p.width < 1),
    JSON.stringify(j.chosen.layers),
  );
});
