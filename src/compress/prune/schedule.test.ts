// Schedules: the AGP cubic, masks holding through fine-tuning, AGP reaching its exact final
// sparsity during training, and the iterative loop's accuracy floor.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadIdxDataset, subset } from '../../data/index.js';
import type { Tensor } from '../../ir/tensor.js';
import { createModel } from '../../nn/index.js';
import { magnitudePrune } from './magnitude.js';
import { agpChannelPrune, agpPrune, agpSparsity, fineTuneMasked, iterativePrune } from './schedule.js';
import { maxAbsOutputChange } from '../merge/index.js';

const mnist = loadIdxDataset();
const data = subset(mnist.train, 0, 2048);
const val = subset(mnist.test, 0, 500);
const opts = { epochs: 1, batchSize: 64, lr: 0.05, optimizer: { kind: 'sgd', momentum: 0.9 } as const, normalization: 'x/255' as const, threads: 1 };
const zeros = (t: Tensor | undefined): number => (t?.data as Float32Array).reduce((a, v) => a + (v === 0 ? 1 : 0), 0);

test('AGP cubic: s_i at the start, s_f at the end, s_f − (s_f − s_i)/8 half-way', () => {
  const o = { initial: 0.1, final: 0.9, startStep: 100, endStep: 300 };
  assert.equal(agpSparsity(0, o), 0.1);
  assert.equal(agpSparsity(300, o), 0.9);
  assert.equal(agpSparsity(1000, o), 0.9);
  assert.ok(Math.abs(agpSparsity(200, o) - (0.9 - 0.8 / 8)) < 1e-12);
});

test('masked fine-tuning keeps pruned weights at exactly zero and moves the others', async () => {
  const model = createModel('lenet-300-100', { seed: 1 });
  const pruned = magnitudePrune(model, { sparsity: 0.9, scope: 'global' });
  const r = await fineTuneMasked(pruned.model, pruned.masks, data, opts);
  for (const [w, m] of pruned.masks) {
    const after = r.model.graph.initializers.get(w)?.data as Float32Array;
    const before = pruned.model.graph.initializers.get(w)?.data as Float32Array;
    let moved = 0;
    for (let i = 0; i < after.length; i++) {
      if (m.data[i] === 0) assert.ok(after[i] === 0, `${w}[${i}] = ${after[i]}`);
      else if (after[i] !== before[i]) moved++;
    }
    assert.ok(moved > 0, w);
  }
});

test('AGP during training ends at exactly the requested sparsity', async () => {
  const model = createModel('lenet-300-100', { seed: 1 });
  const r = await agpPrune(model, data, { perLayer: { fc1: 0.9, fc2: 0.8 } }, { ...opts, epochs: 2, stepsPerRun: 4 });
  assert.equal(zeros(r.model.graph.initializers.get('fc1.weight')), Math.round(0.9 * 235200));
  assert.equal(zeros(r.model.graph.initializers.get('fc2.weight')), Math.round(0.8 * 30000));
  assert.equal(zeros(r.model.graph.initializers.get('fc3.weight')), 0);
});

test('iterative pruning stops below the accuracy floor and keeps the previous model', async () => {
  const model = createModel('lenet-300-100', { seed: 1 });
  const r = await iterativePrune(model, data, (m, s) => magnitudePrune(m, { sparsity: s }), {
    sparsities: [0.5, 0.9],
    train: opts,
    validation: val,
    accuracyFloor: 1.01,
  });
  assert.equal(r.history.length, 1);
  assert.equal(r.history[0]?.accepted, false);
  assert.equal(r.model, model);
  const ok = await iterativePrune(model, data, (m, s) => magnitudePrune(m, { sparsity: s }), {
    sparsities: [0.5, 0.8],
    train: opts,
    validation: val,
    accuracyFloor: 0.5,
  });
  assert.deepEqual(
    ok.history.map((h) => h.accepted),
    [true, true],
  );
  assert.equal(zeros(ok.model.graph.initializers.get('fc1.weight')), Math.round(0.8 * 235200));
  assert.ok(ok.accuracy > 0.8, `accuracy ${ok.accuracy}`);
});

for (const [label, make, sparsity] of [
  ['LeNet-5 (convolutions, Flatten into Dense)', () => createModel('lenet-5', { seed: 2 }), { conv1: 0.5, conv2: 0.6, fc1: 0.7 }],
  ['a ResNet (BatchNorm, residual stages)', () => createModel('resnet-cifar', { inChannels: 1, inputSize: 28, blocks: 1, seed: 2 }), undefined],
] as const) {
  test(`channel AGP on ${label}: masked channels output exactly zero, so thinning at the end changes nothing`, async () => {
    const model = make();
    const r = await agpChannelPrune(model, data, sparsity === undefined ? { sparsity: 0.5 } : { perLayer: sparsity }, { ...opts, lr: 0.01, stepsPerRun: 8 });
    for (const g of r.groups) {
      const s = sparsity === undefined ? 0.5 : ((sparsity as Record<string, number>)[g.name] ?? 0);
      assert.equal(g.channelsAfter, g.channelsBefore - Math.round(s * g.channelsBefore), g.name);
    }
    // The trained, masked model and its thinned form compute the same function.
    const change = await maxAbsOutputChange(r.training.model, r.model, val, { normalization: 'x/255', threads: 1 });
    assert.ok(change <= 1e-4, `max |Δoutput| ${change}`);
    assert.ok(r.training.history.length === 1);
  });
}

test('channel AGP with roundTo ramps to rounded counts: every group ends on a multiple, masked and thinned agree', async () => {
  const model = createModel('lenet-5', { seed: 2 });
  // conv1 20 → keep 10 → 16; conv2 50 → keep 15 → 16 (nearest: 10 → 8, 15 → 16).
  const perLayer = { conv1: 0.5, conv2: 0.7 };
  const up = await agpChannelPrune(model, data, { perLayer, roundTo: 8 }, { ...opts, lr: 0.01, stepsPerRun: 8 });
  assert.deepEqual(
    up.groups.map((g) => [g.name, g.channelsAfter]),
    [
      ['conv1', 16],
      ['conv2', 16],
    ],
  );
  assert.deepEqual(up.model.graph.initializers.get('conv2.weight')?.dims, [16, 16, 5, 5]);
  assert.ok((await maxAbsOutputChange(up.training.model, up.model, val, { normalization: 'x/255', threads: 1 })) <= 1e-4);
  const nearest = await agpChannelPrune(model, subset(data, 0, 256), { perLayer, roundTo: 8, rounding: 'nearest' }, { ...opts, lr: 0.01, stepsPerRun: 4 });
  assert.deepEqual(
    nearest.groups.map((g) => g.channelsAfter),
    [8, 16],
  );
  await assert.rejects(agpChannelPrune(model, data, { perLayer, roundTo: 0 }, opts), /roundTo must be a whole number/);
});
