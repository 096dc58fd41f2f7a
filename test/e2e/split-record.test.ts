// The split a model was trained with travels in its metadata: later commands hold out the same
// validation samples (never the model's training samples), say which split they used, and say so
// when they cannot know it.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { loadIdxDataset, subset } from '../../src/data/index.js';
import { splitByRecord, splitValidation } from '../../src/data/split.js';
import { loadModelFile } from '../../src/ir/io.js';
import { recordedSplit, SPLIT_KEY } from '../../src/pipeline/index.js';
import { tempDir, whittle } from './cli.js';

interface Split {
  source: string;
  seed: number | null;
  fraction: number | null;
  samples: number;
  note: string | null;
}

/** The sample indices of `part` within `all` (each image found by its bytes). */
function indicesIn(all: { images: Uint8Array; count: number }, part: { images: Uint8Array; count: number }): number[] {
  const key = (ds: { images: Uint8Array }, i: number): string => Buffer.from(ds.images.subarray(784 * i, 784 * (i + 1))).toString('base64');
  const at = new Map<string, number>();
  for (let i = 0; i < all.count; i++) at.set(key(all, i), i);
  return Array.from({ length: part.count }, (_, i) => at.get(key(part, i)) ?? -1);
}

test('train records its split; prune and sensitivity hold out the same validation images, disjoint from its training images', () => {
  const dir = tempDir();
  const model = join(dir, 'mlp.onnx');
  const t = whittle(['train', '--model', 'mlp:784-32-10', '--samples', '1200', '--epochs', '1', '--seed', '5', '--threads', '1', '--out', model, '--json']);
  assert.equal(t.code, 0, t.stderr);
  assert.deepEqual(
    { source: (t.json?.['split'] as Split).source, seed: (t.json?.['split'] as Split).seed, samples: (t.json?.['split'] as Split).samples },
    { source: 'default', seed: 5, samples: 1200 },
  );
  const record = recordedSplit(loadModelFile(model));
  assert.ok(record !== undefined && !('valData' in record));
  assert.deepEqual([record.seed, record.fraction, record.samples], [5, 0.1, 1200]);

  // What train held out and trained on, recomputed from the data.
  const mnist = loadIdxDataset();
  const trained = splitValidation(subset(mnist.train, 0, 1200), 0.1, { seed: 5 });
  const trainedOn = new Set(indicesIn(mnist.train, trained.train));
  const again = splitByRecord(mnist.train, record);
  assert.ok(again !== undefined);
  const validation = indicesIn(mnist.train, again.validation);
  assert.equal(validation.length, 120);
  assert.ok(
    validation.every((i) => i >= 0 && !trainedOn.has(i)),
    'no later validation image is one the model trained on',
  );

  // Commands with their own --seed (default 0) now take the model's split, and say so.
  const s = whittle(['sensitivity', '--model', model, '--sparsities', '0.5', '--eval-limit', '500', '--threads', '1', '--json']);
  assert.equal(s.code, 0, s.stderr);
  const ss = s.json?.['split'] as Split;
  assert.deepEqual([ss.source, ss.seed, ss.fraction, ss.samples, ss.note], ['recorded', 5, 0.1, 1200, null]);
  assert.equal(s.json?.['samples'], 120, 'sensitivity measured on the 120 recorded validation images');

  const pruned = join(dir, 'pruned.onnx');
  const p = whittle([
    'prune',
    '--model',
    model,
    '--sparsity',
    '0.5',
    '--fine-tune-epochs',
    '1',
    '--samples',
    '1200',
    '--threads',
    '1',
    '--out',
    pruned,
    '--json',
  ]);
  assert.equal(p.code, 0, p.stderr);
  assert.equal((p.json?.['split'] as Split).source, 'recorded');
  assert.equal(loadModelFile(pruned).metadata[SPLIT_KEY], loadModelFile(model).metadata[SPLIT_KEY], 'fine-tuned on the same training side: the record stays');

  // An explicit split overrides, with a warning, and the output no longer claims a split.
  const o = join(dir, 'override.onnx');
  const q = whittle([
    'prune',
    '--model',
    model,
    '--sparsity',
    '0.5',
    '--fine-tune-epochs',
    '1',
    '--samples',
    '1200',
    '--split-seed',
    '1',
    '--threads',
    '1',
    '--out',
    o,
    '--json',
  ]);
  assert.equal(q.code, 0, q.stderr);
  assert.equal((q.json?.['split'] as Split).source, 'flags');
  assert.match(q.stderr, /prune: the split given \(--val-split 0\.1 --split-seed 1\) is not the one the model recorded \(--val-split 0\.1 --split-seed 5\)/);
  assert.equal(loadModelFile(o).metadata[SPLIT_KEY], undefined);

  // A model without a record: today's default split, and a note that it may overlap.
  const u = whittle(['sensitivity', '--model', o, '--sparsities', '0.5', '--eval-limit', '100', '--threads', '1', '--json']);
  assert.equal(u.code, 0, u.stderr);
  assert.equal((u.json?.['split'] as Split).source, 'unrecorded');
  assert.match(
    u.stderr,
    /sensitivity: the model records no training split; holding out --val-split 0\.1 --split-seed 0, which may include samples it was trained on/,
  );
});
