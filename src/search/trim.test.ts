// The final's trim to a size budget, measured on the real writer: the file fits, the fraction is
// the least that fits (the bisection's neighbour below does not), every layer loses that fraction
// of its remaining weights and no more, and the largest weights are the ones kept.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createDataset } from '../data/index.js';
import { resolveWeight } from '../compress/kmeans/index.js';
import type { Model } from '../ir/graph.js';
import { createModel } from '../nn/index.js';
import { compressCandidate } from './compress.js';
import { trimToBudget } from './trim.js';
import type { Candidate } from './types.js';

const probe = createDataset({
  images: Uint8Array.from({ length: 8 * 784 }, (_, i) => (i * 37) % 256),
  labels: Uint8Array.from({ length: 8 }, (_, i) => i % 10),
  shape: [1, 28, 28],
  numClasses: 10,
});
const settings = { batchSize: 64, normalization: 'x/255' as const, seed: 1 };
const candidate: Candidate = {
  layers: { fc1: { width: 1, sparsity: 0.8, format: 'k4' }, fc2: { width: 1, sparsity: 0.5, format: 'k5' } },
  lr: 0.01,
};

function weights(m: Model, layer: string): Float32Array {
  return m.graph.initializers.get(resolveWeight(m, layer).weight)?.data as Float32Array;
}
const nonzero = (v: Float32Array): number => v.reduce((n, x) => n + (x !== 0 ? 1 : 0), 0);

test('trimToBudget: the least pruning of every layer alike that makes the written file fit the budget', async () => {
  const model = createModel('mlp:784-64-10', { seed: 2 });
  const final = await compressCandidate(model, candidate, probe, { ...settings, epochs: 0, threads: 1 });
  const budget = Math.round(0.85 * final.file.length);
  const fit = await trimToBudget(final.model, candidate, budget, probe, settings);
  assert.ok(fit !== undefined);
  assert.ok(fit.compressed.file.length <= budget, `${fit.compressed.file.length} > ${budget}`);
  assert.equal(fit.compressed.form, 'container');
  assert.ok(fit.fraction > 0.05 && fit.fraction < 0.5, `fraction ${fit.fraction}`);
  // Tight: a trim 1% of the remaining weights smaller writes a file over the budget.
  const less = await trimToBudget(final.model, candidate, budget + 1e9, probe, settings);
  assert.ok(less !== undefined && less.fraction < 0.01, 'no trim needed under a loose budget');
  for (const l of ['fc1', 'fc2']) {
    const before = weights(final.model, l);
    const after = weights(fit.compressed.model, l);
    // Each layer keeps (1 - fraction) of what it had, to a weight or two of rounding.
    assert.ok(Math.abs(nonzero(after) - nonzero(before) * (1 - fit.fraction)) <= 2, `${l}: ${nonzero(after)} of ${nonzero(before)}`);
    // Smallest magnitudes pruned: every weight kept was at least as large as every weight dropped.
    let keptMin = Infinity;
    let droppedMax = 0;
    for (let i = 0; i < before.length; i++) {
      const b = Math.abs(before[i] as number);
      if (b === 0) continue;
      if (after[i] !== 0) keptMin = Math.min(keptMin, b);
      else droppedMax = Math.max(droppedMax, b);
    }
    assert.ok(keptMin >= droppedMax, `${l}: kept ${keptMin} < dropped ${droppedMax}`);
  }
  const tighter = await compressCandidate(
    final.model,
    {
      lr: 0.01,
      layers: Object.fromEntries(
        ['fc1', 'fc2'].map((l) => {
          const v = weights(final.model, l);
          return [l, { width: 1, sparsity: 1 - (nonzero(v) / v.length) * (1 - (fit.fraction - 0.01)), format: candidate.layers[l]?.format ?? 'float' }];
        }),
      ),
    },
    probe,
    { ...settings, epochs: 0, threads: 1 },
  );
  assert.ok(tighter.file.length > budget, `${tighter.file.length} ≤ ${budget} at fraction ${fit.fraction - 0.01}`);
  // A budget no trim reaches: undefined, not a file over it.
  assert.equal(await trimToBudget(final.model, candidate, 100, probe, settings), undefined);
});
