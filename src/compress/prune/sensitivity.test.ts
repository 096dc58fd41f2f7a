// Proposals from sensitivity curves, against hand-worked answers.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { dependencyGroups } from '../../graph/dependency.js';
import type { Model } from '../../ir/graph.js';
import { loadModelFile } from '../../ir/io.js';
import { createModel } from '../../nn/index.js';
import { proposeForTarget, proposeSparsities, sensitivity } from './sensitivity.js';
import { pruneChannels } from './structured.js';

const curves = {
  baseline: 0.98,
  layers: [
    {
      name: 'big',
      params: 900,
      points: [
        { sparsity: 0.5, accuracy: 0.98 },
        { sparsity: 0.9, accuracy: 0.975 },
        { sparsity: 0.95, accuracy: 0.9 },
      ],
    },
    {
      name: 'small',
      params: 100,
      points: [
        { sparsity: 0.5, accuracy: 0.97 },
        { sparsity: 0.9, accuracy: 0.8 },
        { sparsity: 0.95, accuracy: 0.5 },
      ],
    },
  ],
};

test('proposeSparsities keeps, per layer, the largest sparsity within the allowed drop', () => {
  assert.deepEqual(proposeSparsities(curves, 0.006), { big: 0.9, small: 0 });
  assert.deepEqual(proposeSparsities(curves, 0.01), { big: 0.9, small: 0.5 });
});

test('proposeForTarget reaches the overall sparsity through the cheapest steps', () => {
  // big→0.5 is free (450 weights), big→0.9 costs 0.005 for 360 more: 810/1000 ≥ 0.8.
  assert.deepEqual(proposeForTarget(curves, 0.8), { big: 0.9, small: 0 });
  // 0.85 needs 40 more: small→0.5 (0.01 for 50) is cheaper per weight than big→0.95 (0.075 for 45).
  assert.deepEqual(proposeForTarget(curves, 0.85), { big: 0.9, small: 0.5 });
  assert.throws(() => proposeForTarget(curves, 0.99), /cannot reach 0.99/);
});

test('channel sensitivity with roundTo measures the models prune --round-to builds, each once', async () => {
  const model = createModel('lenet-5', { seed: 2 });
  // The oracle "accuracy" is conv1's filter count, so each point shows which model was measured.
  let calls = 0;
  const evaluate = async (m: Model): Promise<number> => {
    calls++;
    return m.graph.initializers.get('conv1.weight')?.dims[0] ?? -1;
  };
  const sparsities = [0.25, 0.5, 0.6, 0.75];
  const r = await sensitivity(model, { sparsities, granularity: 'channel', layers: ['conv1'], roundTo: 8, evaluate });
  // 20 channels keep 15 → 16, 10 → 16, 8, 5 → 8.
  assert.deepEqual(
    r.layers[0]?.points.map((p) => [p.sparsity, p.accuracy, p.channels]),
    [
      [0.25, 16, 16],
      [0.5, 16, 16],
      [0.6, 8, 8],
      [0.75, 8, 8],
    ],
  );
  for (const p of r.layers[0]?.points ?? [])
    assert.equal(p.channels, (await pruneChannels(model, { perLayer: { conv1: p.sparsity }, roundTo: 8 })).groups[0]?.channelsAfter);
  // The baseline and two distinct models: the repeats reuse their measurement.
  assert.equal(calls, 3);
  const nearest = await sensitivity(model, { sparsities: [0.5], granularity: 'channel', layers: ['conv1'], roundTo: 8, rounding: 'nearest', evaluate });
  assert.equal(nearest.layers[0]?.points[0]?.channels, 8);
  const plain = await sensitivity(model, { sparsities: [0.5], granularity: 'channel', layers: ['conv1'], evaluate });
  assert.equal(plain.layers[0]?.points[0]?.accuracy, 10);
  await assert.rejects(sensitivity(model, { sparsities: [0.5], roundTo: 8, evaluate }), /roundTo applies to channel granularity/);
});

test('channel sensitivity measures each coupled group once: MobileNetV3 has 16 groups, not one row per layer', async () => {
  const model = loadModelFile(fileURLToPath(new URL('../../../../test/fixtures/corpus/mnist_mobilenet_v3.opset17.onnx', import.meta.url)));
  const groups = dependencyGroups(model.graph)
    .filter((g) => g.prunable)
    .map((g) => g.name);
  const r = await sensitivity(model, { sparsities: [0.5], granularity: 'channel', roundTo: 8, evaluate: async () => 1 });
  assert.equal(groups.length, 16);
  assert.deepEqual(
    r.layers.map((l) => l.name),
    groups,
  );
});
