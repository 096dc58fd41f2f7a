// The uniform comparison against an oracle cost: with the search's own byte estimate as the
// measure, the uniform setting spends the chosen structure's bytes (fits them, and a notch less
// sparsity would not), shares one setting across every layer, and keeps the chosen mode exact.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createModel } from '../nn/index.js';
import { estimateBytes } from './greedy.js';
import { uniformCandidate } from './optimize.js';
import { searchSpace } from './space.js';
import type { Candidate, LayerPolicy } from './types.js';

const space = searchSpace(createModel('lenet-300-100', { seed: 1 }), 'size');
const estimate = estimateBytes(space);
const bytes = async (c: Candidate): Promise<number> => estimate(c);
const noTable = {
  lookup: async (): Promise<number> => assert.fail('size never looks up latency'),
  structure: async (): Promise<never> => assert.fail('size never builds a structure'),
};
const chosen: Candidate = {
  layers: {
    fc1: { width: 0.5, sparsity: 0.89, format: 'k4' },
    fc2: { width: 0.75, sparsity: 0.68, format: 'k4' },
    fc3: { width: 1, sparsity: 0, format: 'k5' },
  },
  lr: 0.02,
  mode: 'variational',
};

test('uniformCandidate (size): one setting for every layer, the least sparsity that fits the chosen bytes', async () => {
  const u = await uniformCandidate(space, chosen, 'size', { bytes, latencyMs: 0, flops: 0 }, noTable, { latency: { runtime: 'node', threads: 1, batch: 64 } });
  const goal = estimate(chosen);
  const policies = Object.values(u.layers);
  assert.equal(policies.length, 3);
  const s = (policies[0] as LayerPolicy).sparsity;
  for (const p of policies) assert.deepEqual(p, { width: 1, sparsity: s, format: 'k4' });
  assert.equal(u.lr, 0.02);
  assert.equal(u.mode, 'variational');
  assert.equal(u.exact, true);
  assert.ok(estimate(u) <= goal, `${estimate(u)} > ${goal}`);
  // Tight: a visibly less sparse uniform setting would not fit.
  const looser: Candidate = { ...u, layers: Object.fromEntries(Object.keys(u.layers).map((l) => [l, { width: 1, sparsity: s - 0.002, format: 'k4' }])) };
  assert.ok(estimate(looser) > goal, `sparsity ${s - 0.002} also fits`);
  // Full width costs more per kept weight, so the uniform setting is sparser than the chosen fc1.
  assert.ok(s > 0.89);
});

test('uniformCandidate (size): a chosen model that fits dense gets the dense uniform setting', async () => {
  const dense: Candidate = { layers: Object.fromEntries(space.layers.map((l) => [l.name, { width: 1, sparsity: 0, format: 'k6' }])), lr: 0.01 };
  const u = await uniformCandidate(space, dense, 'size', { bytes, latencyMs: 0, flops: 0 }, noTable, { latency: { runtime: 'node', threads: 1, batch: 64 } });
  for (const p of Object.values(u.layers)) assert.deepEqual(p, { width: 1, sparsity: 0, format: 'k6' });
  assert.equal(u.exact, undefined);
});
