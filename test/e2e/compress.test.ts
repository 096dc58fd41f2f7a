// whittle compress / decode end to end: the container's bytes are the file's, the decoded ONNX
// evaluates in ORT exactly as Whittle reported, and damaged input fails cleanly with no output.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { loadIdxDataset, splitValidation, subset } from '../../src/data/index.js';
import { loadModelFile } from '../../src/ir/io.js';
import { evaluate } from '../../src/train/evaluate.js';
import { DEEP_COMPRESSION_PRESETS, parseDeepCompressionRecipe } from '../../src/recipe/deep-compression.js';
import { CLI, tempDir, whittle } from './cli.js';
import { npyDir } from './own-data.js';
import { assertRunLog } from './run-log-check.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

const QUICK = `# a quick recipe for the tests: few samples, one pass of each stage
model: lenet-300-100
samples: 4000
threads: 2
layers:
  - { layer: fc1, sparsity: 0.9, bits: 5 }
  - { layer: fc2, sparsity: 0.8, bits: 5 }
  - { layer: fc3, sparsity: 0.5, bits: 6 }
prune: { method: rounds, rounds: 2, epochs: 1, lr: 0.05 }
centroids: { epochs: 1, lr: 0.001 }
encode: { half: true }
`;

test('compress → decode → eval: bytes are the file size, the decoded ONNX scores what compress reported', async () => {
  const dir = tempDir();
  const recipe = join(dir, 'quick.yaml');
  writeFileSync(recipe, QUICK);
  const out = join(dir, 'dc');
  const c = whittle(['compress', '--recipe', recipe, '--out', out, '--json']);
  assert.equal(c.code, 0, c.stderr);
  const j = c.json as Record<string, unknown>;
  for (const k of ['accuracy', 'bytes', 'compressionRatio', 'bits', 'scheme', 'layers', 'container', 'onnx']) assert.ok(k in j, `JSON has ${k}`);
  assert.equal(j['scheme'], 'deep-compression');
  assert.equal(j['container'], join(out, 'model.wtl'));
  assert.equal(j['onnx'], join(out, 'model.onnx'));
  const bytes = statSync(join(out, 'model.wtl')).size;
  assert.equal(j['bytes'], bytes);
  assert.equal(j['denseBytes'], 266_610 * 4);
  assert.ok(Math.abs(Number(j['compressionRatio']) - (266_610 * 4) / bytes) < 1e-9);
  const layers = j['layers'] as { name: string; bits: number; sparsity: number; bytes: { total: number } }[];
  assert.deepEqual(
    layers.map((l) => l.name),
    ['fc1', 'fc2', 'fc3'],
  );
  assert.equal(
    layers.reduce((a, l) => a + l.bytes.total, 0) + Number(j['graphBytes']) + Number(j['framingBytes']),
    bytes,
    'per-layer bytes add up to the file',
  );
  assert.ok(Math.abs((layers[0]?.sparsity ?? 0) - 0.9) < 1e-3);
  assert.deepEqual(j['bits'], { fc1: 5, fc2: 5, fc3: 6 });
  assert.match(c.stderr, /Compressed size/);
  // DIR/log.jsonl: every pruning/centroid epoch and every stage as they ended, then the result.
  const log = assertRunLog(join(out, 'log.jsonl'), 'compress', ['epoch', 'stage', 'result']);
  assert.deepEqual(
    log.stages.map((s) => [s.stage, s.accuracy]),
    (j['stages'] as { stage: string; accuracy: number }[]).map((s) => [s.stage, s.accuracy]),
  );
  assert.equal(log.result?.['bytes'], bytes);

  const e = whittle(['eval', '--model', join(out, 'model.onnx'), '--json']);
  assert.equal(e.code, 0, e.stderr);
  assert.equal(e.json?.['accuracy'], j['accuracy'], 'ORT on the written ONNX reproduces the reported accuracy');
  // The stages are measured on the validation split (a zoo model: --val-split's default, seeded by
  // the recipe's seed), which fine-tuning never saw; the test set only on the result.
  const stages = j['stages'] as { stage: string; accuracy: number }[];
  const split = j['split'] as { source: string; seed: number; fraction: number; samples: number };
  assert.deepEqual([split.source, split.seed, split.fraction, split.samples], ['default', 0, 0.1, 4000]);
  const { validation } = splitValidation(subset(loadIdxDataset().train, 0, 4000), 0.1, { seed: 0 });
  const decodedVal = await evaluate(loadModelFile(join(out, 'model.onnx')), validation, { normalization: 'x/255' });
  assert.equal(
    stages.at(-1)?.accuracy,
    decodedVal.accuracy,
    'the decoded model scores on the validation split exactly what the in-memory compressed model scored',
  );

  const onnx = join(dir, 'decoded.onnx');
  const d = whittle(['decode', '--model', join(out, 'model.wtl'), '--out', onnx, '--json']);
  assert.equal(d.code, 0, d.stderr);
  assert.equal(d.json?.['bytes'], bytes);
  assert.deepEqual(readFileSync(onnx), readFileSync(join(out, 'model.onnx')), 'decode writes the same ONNX as compress');

  // Damage: truncated, wrong magic. Non-zero exit, a clear message, no output file.
  const wtl = readFileSync(join(out, 'model.wtl'));
  for (const [name, bad, re] of [
    ['cut.wtl', wtl.subarray(0, wtl.length - 50), /BAD_CONTAINER.*truncated/],
    ['magic.wtl', Buffer.concat([Buffer.from('ONNX'), wtl.subarray(4)]), /not a Whittle container/],
  ] as const) {
    writeFileSync(join(dir, name), bad);
    const target = join(dir, `${name}.onnx`);
    const r = whittle(['decode', '--model', join(dir, name), '--out', target]);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, re);
    assert.ok(!existsSync(target), 'no partial output');
  }
});

test('a recipe with a typo is refused before any work, naming the field', () => {
  const dir = tempDir();
  const recipe = join(dir, 'typo.yaml');
  writeFileSync(recipe, QUICK.replace('sparsity: 0.9,', 'sparsty: 0.9,'));
  const r = whittle(['compress', '--recipe', recipe, '--out', join(dir, 'dc')]);
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /layers\.0/);
  assert.ok(!existsSync(join(dir, 'dc')));
});

test('the shipped Deep Compression recipes parse, start with their command and result, and match the demo presets', () => {
  for (const net of ['lenet-300-100', 'lenet-5']) {
    const path = join(ROOT, 'recipes', `deep-compression-${net}.yaml`);
    const text = readFileSync(path, 'utf8');
    assert.match(text.split('\n')[0] ?? '', new RegExp(`^# whittle compress --recipe recipes/deep-compression-${net}\\.yaml --out `));
    assert.match(text, /# result: /);
    const r = parseDeepCompressionRecipe(parse(text), path);
    const { model: _m, threads: _t, ...rest } = r;
    const { threads: _pt, model: _pm, ...preset } = (DEEP_COMPRESSION_PRESETS[net] ?? {}) as Record<string, unknown>;
    assert.deepEqual(rest, preset, `${net}: recipe and demo preset agree`);
  }
});

test('the shipped deep-compression-any recipe parses, starts with its command and result, and plans every layer by a pattern', () => {
  const path = join(ROOT, 'recipes', 'deep-compression-any.yaml');
  const text = readFileSync(path, 'utf8');
  assert.match(text.split('\n')[0] ?? '', /^# whittle compress --recipe deep-compression-any --model model\.onnx --data \S+ --test-data \S+ --out /);
  assert.match(text, /# result: /);
  const r = parseDeepCompressionRecipe(parse(text), path);
  assert.deepEqual(r.layers, [{ layer: '*', sparsity: 0.5, bits: 6 }]);
});

test('a shipped recipe whose model is not trained yet says which file and how to make it (exit 2, nothing written)', () => {
  const dir = tempDir();
  const r = spawnSync(process.execPath, [CLI, 'compress', '--recipe', 'deep-compression-lenet-5', '--out', 'd'], {
    cwd: dir,
    encoding: 'utf8',
    timeout: 60_000,
  });
  assert.equal(r.status, 2, r.stderr);
  assert.match(
    r.stderr,
    /recipe deep-compression-lenet-5 starts from the model runs\/lenet-5\.onnx, which does not exist: train it first \(whittle train --model lenet-5 /,
  );
  assert.ok(!existsSync(join(dir, 'd')), 'the refused run leaves no --out folder');
});

test('compress a PyTorch export on your own .npy samples: every layer planned by a pattern, tested once on --test-data as eval reads it', async () => {
  const dir = tempDir();
  // torch.onnx export (opset 17, BatchNorms folded), trained on MNIST fed as (x / 255 − mean) / std: 21 Convs and a Gemm.
  const trainDir = npyDir(join(dir, 'train'), subset(loadIdxDataset().train, 0, 2000), true, true);
  const testDir = npyDir(join(dir, 'test'), subset(loadIdxDataset().test, 0, 500), true, true);
  const model = 'test/fixtures/corpus/mnist_resnet20.opset17.onnx';
  const recipe = join(dir, 'any.yaml');
  writeFileSync(
    recipe,
    `model: model.onnx
threads: 2
layers:
  - { layer: '*', sparsity: 0.5, bits: 6 }
  - { layer: /fc/Gemm, sparsity: 0.2, bits: 8 }
prune: { method: agp, epochs: 1, lr: 0.01 }
centroids: { epochs: 1, lr: 0.001 }
encode: { half: true }
`,
  );
  const out = join(dir, 'dc');
  const args = ['compress', '--recipe', recipe, '--model', model, '--data', trainDir, '--out', out];
  // Own samples need a file model and --test-data; the error says so, before any work.
  const noTest = whittle(args);
  assert.equal(noTest.code, 2, noTest.stderr);
  assert.match(noTest.stderr, /holds your own samples; pass --test-data/);
  assert.ok(!existsSync(out));
  const zoo = whittle(['compress', '--recipe', recipe, '--model', 'lenet-5', '--data', trainDir, '--test-data', testDir, '--out', out]);
  assert.equal(zoo.code, 2, zoo.stderr);
  assert.match(zoo.stderr, /pass the model file they fit/);

  const c = whittle([...args, '--test-data', testDir, '--json']);
  assert.equal(c.code, 0, c.stderr);
  const j = c.json as Record<string, unknown>;
  const layers = j['layers'] as { name: string; bits: number; sparsity: number }[];
  const src = loadModelFile(model).graph;
  const weighted = src.nodes.filter((n) => ['Conv', 'Gemm'].includes(n.opType)).map((n) => n.name);
  assert.equal(weighted.length, 22);
  assert.deepEqual(new Set(layers.map((l) => l.name)), new Set(weighted), 'every Conv and the Gemm are compressed');
  for (const l of layers) {
    const [sparsity, bits] = l.name === '/fc/Gemm' ? [0.2, 8] : [0.5, 6];
    assert.equal(l.bits, bits, l.name);
    assert.ok(Math.abs(l.sparsity - sparsity) < 0.02, `${l.name}: sparsity ${l.sparsity}`);
  }
  assert.equal(j['bytes'], statSync(join(out, 'model.wtl')).size);
  assert.ok(Number(j['compressionRatio']) > 5, `ratio ${j['compressionRatio']}`);
  // Validation held out of the 2,000 own samples (the export records no split); the test samples read once.
  const split = j['split'] as { source: string; fraction: number; samples: number };
  assert.deepEqual([split.source, split.fraction, split.samples], ['unrecorded', 0.1, 2000]);
  assert.ok(Number(j['baselineAccuracy']) > 0.95, `input ${j['baselineAccuracy']}`);
  assert.ok(Number(j['accuracy']) > 0.85, `compressed ${j['accuracy']}`);
  // The file is fed as read (no normalization recorded that eval would apply), and eval on --test-data reproduces the figure.
  assert.equal(loadModelFile(join(out, 'model.onnx')).metadata['whittle.normalize'], 'none');
  const e = whittle(['eval', '--model', join(out, 'model.onnx'), '--data', testDir, '--json']);
  assert.equal(e.code, 0, e.stderr);
  assert.equal(e.json?.['accuracy'], j['accuracy']);
});
