import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createRng } from '../data/index.js';
import { createModel } from '../nn/index.js';
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
