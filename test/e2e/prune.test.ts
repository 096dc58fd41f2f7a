// `whittle prune` and `whittle sensitivity` end to end on real MNIST subsets: JSON figures checked
// against the written file, exact shapes and parameter counts after thinning, ORT evaluation of
// the result, and bad input refused with the input untouched.
import assert from 'node:assert/strict';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { attr, Graph, makeModel } from '../../src/ir/graph.js';
import { decodeModel, encodeModel } from '../../src/ir/onnx.js';
import { GENERAL_TRAINING, tempDir, whittle } from './cli.js';

const FIXTURES = fileURLToPath(new URL('../../../test/fixtures/', import.meta.url));
const dir = tempDir();
const base = join(dir, 'lenet-300-100.onnx');

function trained(): string {
  if (!existsSync(base)) {
    // 7111 samples: 6400 to train on, 711 held out for validation. The floors below were set for
    // the general settings (batch 64, momentum, x/255), pinned here: the MLP family's defaults
    // (batch 32, Nesterov, mean/std) give a 1-epoch model that loses 3.3 points at 90% global sparsity.
    const r = whittle([
      'train',
      '--model',
      'lenet-300-100',
      '--epochs',
      '1',
      '--samples',
      '7111',
      ...GENERAL_TRAINING,
      '--threads',
      '1',
      '--out',
      base,
      '--json',
    ]);
    assert.equal(r.code, 0, r.stderr);
  }
  return base;
}

type Layer = { name: string; shapeBefore: number[]; shapeAfter: number[]; sparsity: number };
const layers = (j: Record<string, unknown> | undefined): Map<string, Layer> => new Map((j?.['layers'] as Layer[]).map((l) => [l.name, l]));

function countNonzero(path: string): number {
  let n = 0;
  for (const t of decodeModel(readFileSync(path)).graph.initializers.values())
    if (t.dtype === 'float32') for (const v of t.data as Float32Array) if (v !== 0) n++;
  return n;
}

test('magnitude pruning (global) with masked fine-tuning: exact nonzeros, honest sizes, accuracy kept', () => {
  const src = trained();
  const before = readFileSync(src);
  const out = join(dir, 'sparse.onnx');
  const r = whittle([
    'prune',
    '--model',
    src,
    '--sparsity',
    '0.9',
    '--scope',
    'global',
    '--fine-tune-epochs',
    '1',
    '--samples',
    '7111',
    '--eval-limit',
    '2000',
    '--threads',
    '1',
    '--out',
    out,
    '--json',
  ]);
  assert.equal(r.code, 0, r.stderr);
  const j = r.json ?? {};
  for (const k of ['accuracy', 'params', 'nonzeroParams', 'bytes', 'flops', 'compressionRatio', 'layers', 'sparseBytes']) assert.ok(k in j, k);
  assert.equal(j['params'], 266610);
  // 90% of the 266,200 weights are zero and stay zero through fine-tuning; biases stay dense.
  assert.ok(Number(j['nonzeroParams']) <= 266610 - Math.round(0.9 * 266200));
  assert.equal(j['nonzeroParams'], countNonzero(out));
  assert.equal(j['bytes'], statSync(out).size);
  assert.equal(j['compressionRatio'], (266610 * 4) / statSync(out).size);
  assert.ok(Number(j['sparseBytes']) < Number(j['bytes']) / 5, `sparse ${j['sparseBytes']} vs ${j['bytes']}`);
  assert.ok(Number(j['accuracy']) > Math.max(0.85, Number(j['accuracyBefore']) - 0.03), `accuracy ${j['accuracyBefore']} → ${j['accuracy']}`);
  assert.deepEqual(layers(j).get('fc1')?.shapeAfter, [300, 784]);
  assert.deepEqual(readFileSync(src), before, 'input untouched');
  // accuracyPruned is the accuracy before fine-tuning: what the same pruning gives with 0 epochs.
  const zero = whittle([
    'prune',
    '--model',
    src,
    '--sparsity',
    '0.9',
    '--scope',
    'global',
    '--fine-tune-epochs',
    '0',
    '--eval-limit',
    '2000',
    '--threads',
    '1',
    '--json',
  ]);
  assert.equal(zero.json?.['accuracyPruned'], zero.json?.['accuracy']);
  assert.equal(j['accuracyPruned'], zero.json?.['accuracy']);
  assert.notEqual(j['accuracyPruned'], j['accuracy'], 'fine-tuning changed the accuracy');
  const e = whittle(['eval', '--model', out, '--eval-limit', '2000', '--json']);
  assert.equal(e.json?.['accuracy'], j['accuracy']);
  const info = whittle(['info', '--model', out, '--json']);
  assert.equal(info.json?.['nonzeroParams'], j['nonzeroParams']);
  assert.equal(info.json?.['sparseBytes'], j['sparseBytes']);
  assert.equal(info.json?.['denseBytes'], 266610 * 4);
});

test('--sparse writes ONNX sparse initializers: a smaller file that ORT and whittle load with the same outputs', () => {
  const dense = join(dir, 'sparse.onnx');
  const out = join(dir, 'sparse-form.onnx');
  const r = whittle([
    'prune',
    '--model',
    dense,
    '--sparsity',
    '0.9',
    '--scope',
    'global',
    '--sparse',
    '--eval-limit',
    '2000',
    '--threads',
    '1',
    '--out',
    out,
    '--json',
  ]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.json?.['bytes'], statSync(out).size);
  assert.ok(statSync(out).size < statSync(dense).size / 4, `${statSync(out).size} vs ${statSync(dense).size}`);
  assert.equal(r.json?.['compressionRatio'], (266610 * 4) / statSync(out).size);
  // Pruning an already 90%-sparse model to 90% changes nothing, so accuracy must match the dense file's.
  const e = whittle(['eval', '--model', out, '--eval-limit', '2000', '--json']);
  const d = whittle(['eval', '--model', dense, '--eval-limit', '2000', '--json']);
  assert.equal(e.json?.['accuracy'], d.json?.['accuracy']);
  assert.equal(e.json?.['loss'], d.json?.['loss']);
});

test('per-layer sparsities and the sensitivity command', () => {
  const src = trained();
  const r = whittle(['prune', '--model', src, '--per-layer', 'fc1=0.92,fc2=0.91,fc3=0.74', '--eval-limit', '500', '--threads', '1', '--json']);
  assert.equal(r.code, 0, r.stderr);
  const l = layers(r.json);
  assert.ok(Math.abs((l.get('fc1')?.sparsity ?? 0) - 0.92) < 1e-4);
  assert.ok(Math.abs((l.get('fc2')?.sparsity ?? 0) - 0.91) < 1e-4);
  assert.ok(Math.abs((l.get('fc3')?.sparsity ?? 0) - 0.74) < 1e-4);
  const s = whittle(['sensitivity', '--model', src, '--sparsities', '0.5,0.99', '--eval-limit', '500', '--max-drop', '0.03', '--threads', '1', '--json']);
  assert.equal(s.code, 0, s.stderr);
  const curves = s.json?.['layers'] as { name: string; points: { sparsity: number; accuracy: number }[] }[];
  assert.deepEqual(
    curves.map((c) => c.name),
    ['fc1', 'fc2', 'fc3'],
  );
  const baseline = Number(s.json?.['baseline']);
  for (const c of curves) {
    assert.deepEqual(
      c.points.map((p) => p.sparsity),
      [0.5, 0.99],
    );
    assert.ok((c.points[0]?.accuracy ?? 0) > baseline - 0.03, `${c.name} at 50%: ${c.points[0]?.accuracy} vs ${baseline}`);
  }
  // Removing 99% of the 10-class layer hurts more than 50% of it.
  assert.ok((curves[2]?.points[1]?.accuracy ?? 1) < (curves[2]?.points[0]?.accuracy ?? 0));
  assert.ok(Number((s.json?.['proposed'] as Record<string, number>)['fc1']) >= 0.5);
});

test('group lasso training then thresholding, and iterative neuron pruning with a floor', () => {
  const src = trained();
  const g = whittle([
    'prune',
    '--model',
    src,
    '--method',
    'group-lasso',
    '--lambda',
    '1e-4',
    '--sparsity',
    '0.5',
    '--fine-tune-epochs',
    '1',
    '--recover-epochs',
    '1',
    '--samples',
    '2000',
    '--eval-limit',
    '1000',
    '--threads',
    '1',
    '--json',
  ]);
  assert.equal(g.code, 0, g.stderr);
  assert.equal(g.json?.['granularity'], 'channel');
  assert.deepEqual(layers(g.json).get('fc1')?.shapeAfter, [150, 784]);
  assert.deepEqual(layers(g.json).get('fc3')?.shapeAfter, [10, 50]);
  assert.equal(g.json?.['params'], 150 * 784 + 150 + 50 * 150 + 50 + 10 * 50 + 10);
  const it = whittle([
    'prune',
    '--model',
    src,
    '--granularity',
    'neuron',
    '--schedule',
    'iterative',
    '--steps',
    '2',
    '--sparsity',
    '0.75',
    '--floor',
    '0.5',
    '--fine-tune-epochs',
    '1',
    '--samples',
    '2000',
    '--eval-limit',
    '1000',
    '--threads',
    '1',
    '--json',
  ]);
  assert.equal(it.code, 0, it.stderr);
  const history = it.json?.['history'] as { sparsity: number; accepted: boolean }[];
  assert.deepEqual(
    history.map((h) => [Number(h.sparsity.toFixed(3)), h.accepted]),
    [
      [0.5, true],
      [0.75, true],
    ],
  );
  assert.deepEqual(layers(it.json).get('fc1')?.shapeAfter, [75, 784]);
});

test('structured pruning thins LeNet-5: exact shapes and parameters, < 30% of the FLOPs, runs in ORT', () => {
  const out = join(dir, 'lenet5-thin.onnx');
  const r = whittle([
    'prune',
    '--model',
    'lenet-5',
    '--granularity',
    'channel',
    '--sparsity',
    '0.5',
    '--fine-tune-epochs',
    '1',
    '--samples',
    '2276',
    '--lr',
    '0.05',
    '--eval-limit',
    '500',
    '--threads',
    '1',
    '--out',
    out,
    '--json',
  ]);
  assert.equal(r.code, 0, r.stderr);
  const l = layers(r.json);
  assert.deepEqual(l.get('conv1')?.shapeAfter, [10, 1, 5, 5]);
  assert.deepEqual(l.get('conv2')?.shapeAfter, [25, 10, 5, 5]);
  assert.deepEqual(l.get('fc1')?.shapeAfter, [250, 400]);
  assert.deepEqual(l.get('fc2')?.shapeAfter, [10, 250]);
  assert.equal(r.json?.['params'], 10 * 25 + 10 + 25 * 250 + 25 + 250 * 400 + 250 + 10 * 250 + 10);
  assert.ok(Number(r.json?.['flops']) / Number(r.json?.['flopsBefore']) < 0.3);
  // The dense LeNet-5 .onnx is 1,725,590 bytes; the thinned one keeps 25% of the parameters.
  assert.ok(statSync(out).size < 0.26 * 1_725_590, `${statSync(out).size} bytes`);
  const e = whittle(['eval', '--model', out, '--eval-limit', '500', '--json']);
  assert.equal(e.code, 0, e.stderr);
  assert.equal(e.json?.['accuracy'], r.json?.['accuracy']);
  assert.ok(Number(r.json?.['accuracy']) > 0.6, `accuracy ${r.json?.['accuracy']}`);
});

test('prune --flops: the searched sparsity meets the FLOPs budget, as info counts it', () => {
  const out = join(dir, 'lenet5-budget.onnx');
  const r = whittle([
    'prune',
    '--model',
    'lenet-5',
    '--granularity',
    'channel',
    '--flops',
    '0.3',
    '--fine-tune-epochs',
    '0',
    '--eval-limit',
    '200',
    '--threads',
    '1',
    '--out',
    out,
    '--json',
  ]);
  assert.equal(r.code, 0, r.stderr);
  const j = r.json ?? {};
  assert.equal(j['flopsBudget'], 0.3);
  assert.ok(Number(j['flops']) <= 0.3 * Number(j['flopsBefore']), `${j['flops']} of ${j['flopsBefore']}`);
  assert.ok(Number(j['sparsity']) > 0 && Number(j['sparsity']) < 1);
  assert.equal(whittle(['info', '--model', out, '--json']).json?.['flops'], j['flops']);
  // The same sparsity given directly thins to the same model.
  const same = whittle([
    'prune',
    '--model',
    'lenet-5',
    '--granularity',
    'channel',
    '--sparsity',
    String(j['sparsity']),
    '--fine-tune-epochs',
    '0',
    '--eval-limit',
    '200',
    '--threads',
    '1',
    '--json',
  ]);
  assert.equal(same.json?.['flops'], j['flops']);
  const bad = whittle(['prune', '--model', 'lenet-5', '--flops', '0.3']);
  assert.notEqual(bad.code, 0);
  assert.match(bad.stderr, /--flops removes whole neurons or filters.*--granularity/);
});

test('structured pruning of the zoo ResNet keeps residual groups consistent and evaluates', () => {
  const r = whittle([
    'prune',
    '--model',
    'resnet-cifar',
    '--granularity',
    'filter',
    '--sparsity',
    '0.5',
    '--fine-tune-epochs',
    '1',
    '--samples',
    '256',
    '--batch',
    '32',
    '--eval-limit',
    '200',
    '--threads',
    '1',
    '--json',
  ]);
  assert.equal(r.code, 0, r.stderr);
  const l = layers(r.json);
  assert.deepEqual(l.get('conv1')?.shapeAfter, [8, 1, 3, 3]);
  assert.deepEqual(l.get('layer1.0.conv2')?.shapeAfter, [8, 8, 3, 3]);
  assert.deepEqual(l.get('layer2.0.downsample.0')?.shapeAfter, [16, 8, 1, 1]);
  assert.deepEqual(l.get('layer3.0.conv2')?.shapeAfter, [32, 32, 3, 3]);
  assert.deepEqual(l.get('fc')?.shapeAfter, [10, 32]);
  assert.ok(Number(r.json?.['accuracy']) >= 0);
});

test('a PyTorch-exported ResNet (Conv + BatchNormalization + Add) is filter-pruned and fine-tuned', () => {
  const src = join(FIXTURES, 'resnet-bn.opset17.onnx');
  const before = readFileSync(src);
  const out = join(dir, 'resnet-bn-thin.onnx');
  const r = whittle([
    'prune',
    '--model',
    src,
    '--granularity',
    'filter',
    '--sparsity',
    '0.5',
    '--fine-tune-epochs',
    '2',
    '--samples',
    '3200',
    '--optimizer',
    'adam',
    '--lr',
    '0.01',
    '--normalize',
    'x/255',
    '--eval-limit',
    '1000',
    '--threads',
    '1',
    '--out',
    out,
    '--json',
  ]);
  assert.equal(r.code, 0, r.stderr);
  const l = layers(r.json);
  assert.deepEqual(l.get('/stem/Conv')?.shapeAfter, [4, 1, 3, 3]);
  assert.deepEqual(l.get('/layer1/conv1/Conv')?.shapeAfter, [4, 4, 3, 3]);
  assert.deepEqual(l.get('/layer2/down/down.0/Conv')?.shapeAfter, [8, 4, 1, 1]);
  assert.deepEqual(l.get('/fc/Gemm')?.shapeAfter, [10, 8]);
  const bn = decodeModel(readFileSync(out)).graph.initializers;
  for (const t of ['bn.running_var', 'layer1.bn2.weight', 'layer2.down.1.running_mean']) assert.ok(bn.get(t)?.dims[0] === 4 || bn.get(t)?.dims[0] === 8, t);
  assert.ok(Number(r.json?.['accuracy']) > Number(r.json?.['accuracyBefore']) + 0.1, `before ${r.json?.['accuracyBefore']}, after ${r.json?.['accuracy']}`);
  assert.deepEqual(readFileSync(src), before);
});

function assertRefused(args: string[], pattern: RegExp, input?: string): void {
  const before = input !== undefined ? readFileSync(input) : undefined;
  const out = join(dir, `refused-${Math.random().toString(36).slice(2)}.onnx`);
  const r = whittle([...args, '--out', out]);
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, pattern);
  assert.doesNotMatch(r.stderr, /^\s+at /m);
  assert.equal(r.stdout, '');
  assert.ok(!existsSync(out), 'no output written');
  if (input !== undefined) assert.deepEqual(readFileSync(input), before, 'input untouched');
}

test('bad input: clear errors, non-zero exit, input untouched', () => {
  const src = trained();
  assertRefused(['prune', '--model', src, '--sparsity', '1'], /--sparsity must be in \[0, 1\)/, src);
  assertRefused(['prune', '--model', src, '--sparsity=-0.2'], /--sparsity must be in \[0, 1\)/, src);
  assertRefused(['prune', '--model', src, '--per-layer', 'fc1=0.9,fc7=0.5'], /no prunable layer named "fc7"; valid layers: fc1, fc2, fc3/, src);
  assertRefused(['prune', '--model', 'lenet-5', '--granularity', 'channel', '--per-layer', 'conv1=0.99'], /would disconnect the graph/);
  assertRefused(['prune', '--model', 'lenet-5', '--granularity', 'channel', '--per-layer', 'fc2=0.5'], /cannot be removed.*graph output/);
  assertRefused(
    ['prune', '--model', src, '--granularity', 'neuron', '--method', 'apoz', '--sparsity', '0.5', '--schedule', 'agp', '--fine-tune-epochs', '1'],
    /--schedule agp for neurons\/filters ranks them by magnitude.*--method magnitude/,
    src,
  );
  const g = new Graph('no-weights');
  g.inputs.push({ name: 'input', dtype: 'float32', shape: ['N', 1, 28, 28] });
  g.nodes.push({ name: 'flat', opType: 'Flatten', domain: '', inputs: ['input'], outputs: ['logits'], attributes: { axis: attr.int(1) } });
  g.outputs.push({ name: 'logits', dtype: 'float32', shape: ['N', 784] });
  const none = join(dir, 'none.onnx');
  writeFileSync(none, encodeModel(makeModel(g)));
  assertRefused(['prune', '--model', none, '--sparsity', '0.5'], /no prunable layers/, none);
});
