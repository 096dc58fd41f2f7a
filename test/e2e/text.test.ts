// A small text Transformer (test/fixtures/corpus/train_text.py: token ids in, an embedding Gather,
// two PyTorch TransformerEncoder layers, trained on a synthetic keyword task) through the commands
// a user runs on their own model and .npz data: fine-tune on int64 ids, prune with the embedding
// table as a layer, Deep Compression with every layer planned by a pattern.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { loadModelFile } from '../../src/ir/io.js';
import { tempDir, whittle } from './cli.js';

const CORPUS = 'test/fixtures/corpus';
const MODEL = `${CORPUS}/text_transformer.opset17.onnx`;
const TRAIN = `${CORPUS}/text.train.npz`;
const TEST = `${CORPUS}/text.test.npz`;

test('a text Transformer fine-tunes on int64 token ids from an .npz', () => {
  const dir = tempDir();
  const r = whittle([
    'train',
    '--model',
    MODEL,
    '--data',
    TRAIN,
    '--test-data',
    TEST,
    '--epochs',
    '1',
    '--samples',
    '2000',
    '--out',
    join(dir, 't.onnx'),
    '--json',
  ]);
  assert.equal(r.code, 0, r.stderr);
  assert.ok(Number(r.json?.['accuracy']) > 0.97, `test accuracy ${r.json?.['accuracy']}`);
  assert.equal(r.json?.['testSamples'], 1000);
});

test("prune and compress reach a text Transformer's embedding table ('/embed/Gather') as a layer", () => {
  const dir = tempDir();
  const p = whittle([
    ...['prune', '--model', MODEL, '--data', TRAIN, '--test-data', TEST, '--sparsity', '0.5', '--schedule', 'agp', '--fine-tune-epochs', '1'],
    ...['--samples', '2000', '--out', join(dir, 'p.onnx'), '--json'],
  ]);
  assert.equal(p.code, 0, p.stderr);
  const layers = p.json?.['layers'] as { name: string; sparsity: number; shapeBefore: number[] }[];
  const embed = layers.find((l) => l.name === '/embed/Gather');
  assert.ok(embed !== undefined, layers.map((l) => l.name).join(', '));
  assert.deepEqual(embed.shapeBefore, [1000, 32]);
  assert.ok(Math.abs(embed.sparsity - 0.5) < 0.01, `embedding sparsity ${embed.sparsity}`);
  assert.ok(Number(p.json?.['accuracy']) > 0.9, `pruned test accuracy ${p.json?.['accuracy']}`);

  const c = whittle([
    ...['compress', '--recipe', 'deep-compression-any', '--model', MODEL, '--data', TRAIN, '--test-data', TEST],
    ...['--samples', '2000', '--out', join(dir, 'dc'), '--json'],
  ]);
  assert.equal(c.code, 0, c.stderr);
  const dc = c.json?.['layers'] as { name: string; bits: number; sparsity: number }[];
  const table = dc.find((l) => l.name === '/embed/Gather');
  assert.ok(table !== undefined && table.bits === 6 && Math.abs(table.sparsity - 0.5) < 0.01, JSON.stringify(table));
  assert.ok(Number(c.json?.['compressionRatio']) > 5, `ratio ${c.json?.['compressionRatio']}`);
  assert.ok(Number(c.json?.['accuracy']) > 0.9, `compressed test accuracy ${c.json?.['accuracy']}`);
  // The decoded file's embedding holds at most 2^6 distinct values.
  const decoded = loadModelFile(join(dir, 'dc', 'model.onnx'));
  const gather = decoded.graph.nodes.find((n) => n.name === '/embed/Gather');
  assert.ok(new Set(decoded.graph.initializers.get(gather?.inputs[0] ?? '')?.data as Float32Array).size <= 64);
});
