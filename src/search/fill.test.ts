// The budget fill against an oracle cost: with the search's own byte estimate as the measure, each
// fill fits the target, is the tightest fit (a slightly larger one would not), and changes only
// what its strategy names.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createModel } from '../nn/index.js';
import { budgetFills, keepMoreFill } from './fill.js';
import { estimateBytes } from './greedy.js';
import type { Prior } from './prior.js';
import { searchSpace } from './space.js';
import type { Candidate, LayerPolicy } from './types.js';

const space = searchSpace(createModel('lenet-300-100', { seed: 1 }), 'size');
const estimate = estimateBytes(space);
const measure = async (c: Candidate): Promise<number> => estimate(c);
const best: Candidate = {
  layers: { fc1: { width: 1, sparsity: 0.95, format: 'k4' }, fc2: { width: 1, sparsity: 0.9, format: 'k4' }, fc3: { width: 1, sparsity: 0.5, format: 'k5' } },
  lr: 0.02,
  mode: 'variational',
};
// fc2 is the layer the prior finds most hurt by its setting.
const prior: Prior = {
  baseline: 0.98,
  layers: [
    { name: 'fc1', sparsity: { '0.95': 0.9 }, width: {}, format: { k4: 0.97 } },
    { name: 'fc2', sparsity: { '0.9': 0.8 }, width: {}, format: { k4: 0.96 } },
    { name: 'fc3', sparsity: { '0.5': 0.975 }, width: {}, format: { k5: 0.98 } },
  ],
};
const kept = (c: Candidate, l: string): number => 1 - (c.layers[l] as LayerPolicy).sparsity;

test('budgetFills: more weights everywhere, more bits, the most hurt layer alone — each fits the target, tightly', async () => {
  const target = 1.5 * estimate(best);
  const fills = await budgetFills(best, space, prior, measure, { target, steps: 12 });
  assert.equal(fills.length, 3);
  for (const f of fills) {
    assert.ok(estimate(f) <= target, `${estimate(f)} > ${target}`);
    // Variational: the sparsities become caps, so the learned sparsity cannot undo the fill.
    assert.equal(f.exact, true);
    assert.equal(f.lr, best.lr);
  }
  const [all, bits, alone] = fills as [Candidate, Candidate, Candidate];
  // (1) one factor for every layer's kept fraction, the largest that fits (+2% does not).
  const factor = kept(all, 'fc1') / kept(best, 'fc1');
  assert.ok(factor > 1.2);
  for (const l of ['fc2', 'fc3']) assert.ok(Math.abs(kept(all, l) / kept(best, l) - factor) < 0.01, l);
  const bigger: Candidate = {
    ...all,
    layers: Object.fromEntries(Object.entries(best.layers).map(([l, p]) => [l, { ...p, sparsity: 1 - (1 - p.sparsity) * factor * 1.02 }])),
  };
  assert.ok(estimate(bigger) > target);
  // (2) one format notch more bits on every layer.
  assert.deepEqual(
    Object.values(bits.layers).map((p) => p.format),
    ['k5', 'k5', 'k6'],
  );
  // (3) only fc2 changes.
  assert.deepEqual(alone.layers.fc1, best.layers.fc1);
  assert.deepEqual(alone.layers.fc3, best.layers.fc3);
  assert.ok(kept(alone, 'fc2') > kept(best, 'fc2'));
});

test('budgetFills: no room means no fill that only adds; magnitude candidates stay without caps', async () => {
  const none = await budgetFills(best, space, prior, measure, { target: estimate(best) });
  // Only the more-bits fill can fit, paying with fewer weights.
  assert.ok(none.every((f) => Object.values(f.layers).some((p, i) => p.format !== Object.values(best.layers)[i]?.format)));
  assert.ok(none.every((f) => kept(f, 'fc1') < kept(best, 'fc1')));
  const magnitude: Candidate = { layers: best.layers, lr: best.lr };
  const fills = await budgetFills(magnitude, space, prior, measure, { target: 1.5 * estimate(best) });
  assert.ok(fills.length > 0 && fills.every((f) => f.exact === undefined && f.mode === undefined));
});

test('keepMoreFill: the final grown to the budget — fill (1) alone, tight, none when there is no room', async () => {
  const target = 1.3 * estimate(best);
  const grown = await keepMoreFill(best, space, measure, { target, steps: 12 });
  assert.ok(grown !== undefined);
  assert.ok(estimate(grown) <= target, `${estimate(grown)} > ${target}`);
  const [all] = await budgetFills(best, space, prior, measure, { target, steps: 12 });
  assert.deepEqual(grown, all);
  const factor = kept(grown, 'fc1') / kept(best, 'fc1');
  assert.ok(factor > 1.1);
  for (const l of ['fc2', 'fc3']) assert.ok(Math.abs(kept(grown, l) / kept(best, l) - factor) < 0.01, l);
  const bigger: Candidate = {
    ...grown,
    layers: Object.fromEntries(Object.entries(best.layers).map(([l, p]) => [l, { ...p, sparsity: 1 - (1 - p.sparsity) * factor * 1.02 }])),
  };
  assert.ok(estimate(bigger) > target);
  assert.equal(await keepMoreFill(best, space, measure, { target: estimate(best) }), undefined);
  const floatOnly: Candidate = { ...best, layers: Object.fromEntries(Object.entries(best.layers).map(([l, p]) => [l, { ...p, format: 'float' as const }])) };
  assert.equal(await keepMoreFill(floatOnly, space, measure, { target: 10 * estimate(best) }), undefined);
});
