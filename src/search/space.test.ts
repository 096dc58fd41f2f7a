import assert from 'node:assert/strict';
import { test } from 'node:test';
import { resolveWeight } from '../compress/kmeans/index.js';
import { createDataset, createRng } from '../data/index.js';
import { loadModelFile } from '../ir/io.js';
import { createModel } from '../nn/index.js';
import { compressCandidate } from './compress.js';
import { estimateBytes, estimatedDrop, greedyPath } from './greedy.js';
import type { Prior } from './prior.js';
import { candidateKey, denseCandidate, mutate, searchSpace } from './space.js';

const model = createModel('lenet-300-100', { seed: 1 });

test('searchSpace: size target offers sparsity and k-means bits on every layer, width only where channels can go', () => {
  const space = searchSpace(model, 'size');
  assert.deepEqual(
    space.layers.map((l) => l.name),
    ['fc1', 'fc2', 'fc3'],
  );
  assert.ok(space.layers.every((l) => l.formats.includes('k2') && l.formats.includes('k8') && l.sparsities.includes(0.95)));
  // fc3 produces the logits: its outputs cannot be thinned.
  assert.deepEqual(space.layers.find((l) => l.name === 'fc3')?.widths, [1]);
  assert.ok((space.layers.find((l) => l.name === 'fc1')?.widths.length ?? 0) > 1);
  const lat = searchSpace(model, 'latency');
  assert.ok(lat.layers.every((l) => l.formats.join() === 'float,int8' && l.sparsities.join() === '0'));
});

test('mutate: seeded, changes the candidate, stays in the space', () => {
  const space = searchSpace(model, 'size');
  const dense = denseCandidate(space);
  const a = mutate(dense, space, createRng(3));
  const b = mutate(dense, space, createRng(3));
  assert.equal(candidateKey(a), candidateKey(b));
  assert.notEqual(candidateKey(a), candidateKey(dense));
  for (const l of space.layers) {
    const p = a.layers[l.name];
    assert.ok(p !== undefined && l.widths.includes(p.width) && l.sparsities.includes(p.sparsity) && l.formats.includes(p.format));
  }
});

test('greedyPath: every step lowers the estimated bytes, and the cheapest-drop layer moves first', () => {
  const space = searchSpace(model, 'size');
  // fc1 is insensitive, fc3 very sensitive: the allocator must prune fc1 first.
  const prior: Prior = {
    baseline: 0.98,
    layers: [
      { name: 'fc1', sparsity: { '0.5': 0.98, '0.7': 0.98, '0.8': 0.979, '0.9': 0.975 }, width: {}, format: {} },
      { name: 'fc2', sparsity: { '0.5': 0.97, '0.7': 0.95 }, width: {}, format: {} },
      { name: 'fc3', sparsity: { '0.5': 0.5, '0.7': 0.3 }, width: {}, format: {} },
    ],
  };
  const cost = estimateBytes(space);
  const path = greedyPath(denseCandidate(space), space, prior, cost);
  assert.ok(path.length > 10);
  for (let i = 1; i < path.length; i++) assert.ok(cost(path[i] as never) < cost(path[i - 1] as never), `step ${i}`);
  const firstSparse = path.find((c) => Object.values(c.layers).some((p) => p.sparsity > 0));
  assert.equal(Object.entries(firstSparse?.layers ?? {}).find(([, p]) => p.sparsity > 0)?.[0], 'fc1');
  assert.ok(estimatedDrop(prior, path.at(-1) as never) >= estimatedDrop(prior, path[1] as never));
});

test("searchSpace on a PyTorch LSTM export: the size target searches the LSTM's W and R (sparsity, bits; never width), the others leave them out", async () => {
  const lstm = loadModelFile('test/fixtures/corpus/mnist_lstm.opset17.onnx');
  const size = searchSpace(lstm, 'size');
  assert.deepEqual(
    size.layers.map((l) => [l.name, l.params, l.widths]),
    [
      ['/lstm/LSTM.W', 256 * 28, [1]],
      ['/lstm/LSTM.R', 256 * 64, [1]],
      ['/fc/Gemm', 640, [1]],
    ],
  );
  assert.deepEqual(
    searchSpace(lstm, 'latency').layers.map((l) => l.name),
    ['/fc/Gemm'],
  );
  // A candidate's surgery reaches them: 50% of R pruned, W and R shared in 4 bits, in the file written.
  const probe = createDataset({
    images: Uint8Array.from({ length: 8 * 784 }, (_, i) => (i * 37) % 256),
    labels: Uint8Array.from({ length: 8 }, (_, i) => i % 10),
    shape: [1, 28, 28],
    numClasses: 10,
  });
  const r = await compressCandidate(
    lstm,
    { layers: { '/lstm/LSTM.W': { width: 1, sparsity: 0, format: 'k4' }, '/lstm/LSTM.R': { width: 1, sparsity: 0.5, format: 'k4' } }, lr: 0.01 },
    probe,
    { batchSize: 8, normalization: 'x/255', seed: 1, epochs: 0, threads: 1 },
  );
  assert.equal(r.form, 'container');
  const weight = (name: string): Float32Array => r.model.graph.initializers.get(resolveWeight(r.model, name).weight)?.data as Float32Array;
  const R = weight('/lstm/LSTM.R');
  assert.equal(
    R.reduce((n, v) => n + (v === 0 ? 1 : 0), 0),
    (256 * 64) / 2,
  );
  for (const name of ['/lstm/LSTM.W', '/lstm/LSTM.R']) assert.ok(new Set(weight(name)).size <= 16, `${name}: ≤ 16 distinct values`);
  assert.ok(r.file.length < 0.4 * 98_856, `${r.file.length} bytes`);
});
