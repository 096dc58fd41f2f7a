// Dependency groups and thinning. The oracle for thinning: make some channels dead by zeroing
// every consumer's input slice for them (math says they then change nothing), thin them away,
// and compare ONNX Runtime outputs before and after.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { foldConstants } from '../../ir/fold.js';
import type { Model } from '../../ir/graph.js';
import { attr, Graph, makeModel } from '../../ir/graph.js';
import { encodeModel, decodeModel } from '../../ir/onnx.js';
import { modelStats } from '../../ir/stats.js';
import { Tensor } from '../../ir/tensor.js';
import { modelOutputs, silenceOddChannels } from '../../../test/channel-oracle.js';
import { loadIdxDataset, subset, tensorDatasetFromImages } from '../../data/index.js';
import { createModel } from '../../nn/index.js';
import { countParameters } from '../../nn/layers.js';
import { SHAPE_RULES } from '../../ops/index.js';
import { Session } from '../../runtime/session.js';
import type { PruneGroup } from '../../graph/dependency.js';
import { dependencyGroups } from '../../graph/dependency.js';
import { activationStats } from './activations.js';
import { magnitudeImportance } from './importance.js';
import { AUTO_CONV_ROUND_TO, autoRoundsAny, groupRoundTo, pruneChannels, roundedKeep } from './structured.js';
import { thinChannels } from '../../graph/thin.js';

const FIXTURE = fileURLToPath(new URL('../../../../test/fixtures/cnn.opset17.onnx', import.meta.url));

function input(model: Model, n = 3): Tensor {
  const dims = [n, ...(model.graph.inputs[0]?.shape.slice(1) as number[])];
  const x = new Tensor('float32', dims);
  for (let i = 0; i < x.size; i++) (x.data as Float32Array)[i] = Math.sin(0.37 * i);
  return x;
}

/** input [N,1,8,8] → convA (4) ‖ convB (3) → Concat → Relu → convC (2) → Flatten → Gemm → logits. */
function concatModel(): Model {
  const g = new Graph('concat');
  const rnd = (dims: number[], seed: number): Tensor => {
    const t = new Tensor('float32', dims);
    for (let i = 0; i < t.size; i++) (t.data as Float32Array)[i] = Math.sin(seed + 1.3 * i);
    return t;
  };
  g.inputs.push({ name: 'input', dtype: 'float32', shape: ['N', 1, 8, 8] });
  const conv = (name: string, x: string, cin: number, cout: number, seed: number): void => {
    g.initializers.set(`${name}.weight`, rnd([cout, cin, 3, 3], seed));
    g.initializers.set(`${name}.bias`, rnd([cout], seed + 7));
    g.nodes.push({
      name,
      opType: 'Conv',
      domain: '',
      inputs: [x, `${name}.weight`, `${name}.bias`],
      outputs: [name],
      attributes: { kernel_shape: attr.ints([3, 3]), pads: attr.ints([1, 1, 1, 1]) },
    });
  };
  conv('convA', 'input', 1, 4, 1);
  conv('convB', 'input', 1, 3, 2);
  g.nodes.push({ name: 'cat', opType: 'Concat', domain: '', inputs: ['convA', 'convB'], outputs: ['cat'], attributes: { axis: attr.int(1) } });
  g.nodes.push({ name: 'relu', opType: 'Relu', domain: '', inputs: ['cat'], outputs: ['relu'], attributes: {} });
  conv('convC', 'relu', 7, 2, 3);
  g.nodes.push({ name: 'flat', opType: 'Flatten', domain: '', inputs: ['convC'], outputs: ['flat'], attributes: { axis: attr.int(1) } });
  g.initializers.set('fc.weight', rnd([10, 128], 4));
  g.nodes.push({ name: 'fc', opType: 'Gemm', domain: '', inputs: ['flat', 'fc.weight'], outputs: ['logits'], attributes: { transB: attr.int(1) } });
  g.outputs.push({ name: 'logits', dtype: 'float32', shape: ['N', 10] });
  return makeModel(g);
}

const CASES: [string, () => Model][] = [
  ['lenet-5', () => createModel('lenet-5', { seed: 1 })],
  ['lenet-300-100', () => createModel('lenet-300-100', { seed: 1 })],
  ['resnet-cifar (residual groups, projections)', () => createModel('resnet-cifar', { inChannels: 1, inputSize: 16, blocks: 2, seed: 1 })],
  [
    'PyTorch-exported residual CNN',
    () => {
      const m = decodeModel(readFileSync(FIXTURE));
      return { ...m, graph: foldConstants(m.graph, SHAPE_RULES) };
    },
  ],
  [
    'PyTorch-exported ResNet with BatchNormalization and a projected shortcut',
    () => {
      const m = decodeModel(readFileSync(FIXTURE.replace('cnn.opset17.onnx', 'resnet-bn.opset17.onnx')));
      return { ...m, graph: foldConstants(m.graph, SHAPE_RULES) };
    },
  ],
  ['Concat of two convolutions', concatModel],
];

for (const [name, build] of CASES) {
  test(`thinning dead channels keeps ORT outputs equal: ${name}`, async () => {
    const model = build();
    const groups = dependencyGroups(model.graph);
    assert.ok(groups.some((g) => g.prunable));
    const { model: dead, keep } = silenceOddChannels(model, groups);
    const thin = thinChannels(dead, groups, keep);
    const x = input(model);
    const [a, b] = [await modelOutputs(dead, x), await modelOutputs(thin, x)];
    assert.equal(a.length, b.length);
    let maxDiff = 0;
    for (let i = 0; i < a.length; i++) maxDiff = Math.max(maxDiff, Math.abs((a[i] as number) - (b[i] as number)));
    assert.ok(maxDiff < 1e-4, `max difference ${maxDiff}`);
    assert.ok(modelStats(thin, SHAPE_RULES).flops < modelStats(model, SHAPE_RULES).flops);
    assert.ok(encodeModel(thin).length < encodeModel(model).length);
  });
}

test('LeNet-5 groups: conv filters couple to the next layer, through Flatten to fc1 columns', () => {
  const groups = dependencyGroups(createModel('lenet-5').graph);
  const byName = new Map(groups.map((g) => [g.name, g]));
  const conv2 = byName.get('conv2');
  assert.deepEqual(
    conv2?.members.map((m) => [m.tensor, m.axis, m.repeat]),
    [
      ['conv2.weight', 0, 1],
      ['conv2.bias', 0, 1],
      ['fc1.weight', 1, 16],
    ],
  );
  assert.deepEqual(
    byName.get('conv1')?.members.map((m) => [m.tensor, m.axis]),
    [
      ['conv1.weight', 0],
      ['conv1.bias', 0],
      ['conv2.weight', 1],
    ],
  );
  assert.equal(byName.get('fc2')?.prunable, false);
  assert.match(byName.get('fc2')?.reason ?? '', /graph output "logits"/);
});

test('resnet-cifar: a residual stage is one group spanning the stem, every block output and the BatchNorms', () => {
  const groups = dependencyGroups(createModel('resnet-cifar', { inChannels: 1, inputSize: 16, blocks: 2 }).graph);
  const stage1 = groups.find((g) => g.name === 'conv1') as PruneGroup;
  const tensors = new Set(stage1.members.map((m) => m.tensor));
  for (const t of [
    'conv1.weight',
    'bn1.weight',
    'bn1.running_var',
    'layer1.0.conv2.weight',
    'layer1.0.bn2.bias',
    'layer1.1.conv2.weight',
    'layer1.1.conv1.weight',
    'layer2.0.conv1.weight',
    'layer2.0.downsample.0.weight',
  ])
    assert.ok(tensors.has(t), t);
  assert.deepEqual(stage1.producers, ['conv1', 'layer1.0.conv2', 'layer1.1.conv2']);
  assert.equal(stage1.channels, 16);
});

test('pruneChannels on LeNet-5: exact shapes and parameter count, and the input is untouched', async () => {
  const model = createModel('lenet-5', { seed: 2 });
  const w0 = model.graph.initializers.get('conv1.weight');
  const r = await pruneChannels(model, { perLayer: { conv1: 0.5, conv2: 0.6, fc1: 0.6 } });
  const dims = (n: string): readonly number[] | undefined => r.model.graph.initializers.get(n)?.dims;
  assert.deepEqual(dims('conv1.weight'), [10, 1, 5, 5]);
  assert.deepEqual(dims('conv2.weight'), [20, 10, 5, 5]);
  assert.deepEqual(dims('fc1.weight'), [200, 320]);
  assert.deepEqual(dims('fc2.weight'), [10, 200]);
  assert.equal(countParameters(r.model.graph), 10 * 25 + 10 + 20 * 250 + 20 + 200 * 320 + 200 + 10 * 200 + 10);
  assert.equal(model.graph.initializers.get('conv1.weight'), w0);
  assert.deepEqual(model.graph.initializers.get('conv1.weight')?.dims, [20, 1, 5, 5]);
  assert.ok(modelStats(r.model, SHAPE_RULES).flops / modelStats(model, SHAPE_RULES).flops < 0.25);
  // The kept filters are the ones with the largest group L1 norms.
  const conv1 = dependencyGroups(model.graph).find((g) => g.name === 'conv1') as PruneGroup;
  const scores = magnitudeImportance(model.graph, conv1, 'l1');
  const kept = new Set(
    Array.from(scores.keys())
      .sort((a, b) => (scores[b] as number) - (scores[a] as number))
      .slice(0, 10),
  );
  const thinW = r.model.graph.initializers.get('conv1.weight')?.data as Float32Array;
  const origW = w0?.data as Float32Array;
  const keptSorted = [...kept].sort((a, b) => a - b);
  keptSorted.forEach((c, j) => assert.deepEqual([...thinW.subarray(j * 25, j * 25 + 25)], [...origW.subarray(c * 25, c * 25 + 25)]));
});

test('pruneChannels roundTo: each kept count rounds up to a multiple, never past the group', async () => {
  const model = createModel('lenet-5', { seed: 2 });
  // 20 → 10 → 16; 50 → 20 → 24; 500 → 200 stays (a multiple already); fc1 at 0.99 keeps 5 → 8.
  const r = await pruneChannels(model, { perLayer: { conv1: 0.5, conv2: 0.6, fc1: 0.6 }, roundTo: 8 });
  const dims = (m: typeof model, n: string): readonly number[] | undefined => m.graph.initializers.get(n)?.dims;
  assert.deepEqual(dims(r.model, 'conv1.weight'), [16, 1, 5, 5]);
  assert.deepEqual(dims(r.model, 'conv2.weight'), [24, 16, 5, 5]);
  assert.deepEqual(dims(r.model, 'fc1.weight'), [200, 24 * 16]);
  assert.deepEqual(
    r.groups.map((g) => g.channelsAfter),
    [16, 24, 200],
  );
  const small = await pruneChannels(model, { perLayer: { fc1: 0.99 }, roundTo: 8 });
  assert.deepEqual(dims(small.model, 'fc1.weight'), [8, 800]);
  // A multiple past the group's own size keeps the unrounded count: 20 channels, keep 10, roundTo 32.
  const big = await pruneChannels(model, { perLayer: { conv1: 0.5 }, roundTo: 32 });
  assert.deepEqual(dims(big.model, 'conv1.weight'), [10, 1, 5, 5]);
  await assert.rejects(pruneChannels(model, { sparsity: 0.5, roundTo: 0 }), /roundTo must be a whole number/);
});

test("pruneChannels roundTo 'auto': convolution channels to multiples of 8, fully connected neurons as counted", async () => {
  const model = createModel('lenet-5', { seed: 2 });
  // conv1 20 → 10 → 16, conv2 50 → 20 → 24 (Conv producers); fc1 500 → 0.63 → 185 stays 185 (a Gemm).
  const r = await pruneChannels(model, { perLayer: { conv1: 0.5, conv2: 0.6, fc1: 0.63 }, roundTo: 'auto' });
  assert.deepEqual(
    r.groups.map((g) => [g.name, g.channelsAfter]),
    [
      ['conv1', 16],
      ['conv2', 24],
      ['fc1', 185],
    ],
  );
  const byName = new Map(dependencyGroups(model.graph).map((g) => [g.name, g]));
  assert.equal(groupRoundTo(model.graph, byName.get('conv2') as PruneGroup, 'auto'), AUTO_CONV_ROUND_TO);
  assert.equal(groupRoundTo(model.graph, byName.get('fc1') as PruneGroup, 'auto'), 1);
  assert.equal(groupRoundTo(model.graph, byName.get('fc1') as PruneGroup, 4), 4);
  // A model without convolutions: 'auto' rounds nothing, so a search keeps its unrounded figures.
  assert.equal(autoRoundsAny(model.graph), true);
  assert.equal(autoRoundsAny(createModel('lenet-300-100', { seed: 2 }).graph), false);
  await assert.rejects(
    pruneChannels(model, { sparsity: 0.5, roundTo: 'eight' as never }),
    /roundTo must be a whole number of channels, 1 or more \(e\.g\. 8\), or 'auto'/,
  );
});
test('roundedKeep: up never keeps fewer than counted, nearest picks the closest multiple inside the group', () => {
  // [counted, channels, roundTo] → [up, nearest]
  const cases: [number, number, number, number, number][] = [
    [27, 72, 8, 32, 24],
    [45, 120, 8, 48, 48],
    [45, 120, 16, 48, 48],
    [20, 50, 8, 24, 24], // a tie keeps more
    [3, 24, 8, 8, 8], // nearest never rounds to zero
    [13, 14, 8, 13, 8], // up past the group keeps the count; nearest takes the multiple below
    [3, 6, 8, 3, 3], // no multiple fits
    [20, 20, 8, 20, 20], // nothing removed stays whole
    [10, 20, 1, 10, 10],
  ];
  for (const [counted, channels, n, up, nearest] of cases) {
    assert.equal(roundedKeep(counted, channels, n, 'up'), up, `up ${counted}/${channels} to ${n}`);
    assert.equal(roundedKeep(counted, channels, n, 'nearest'), nearest, `nearest ${counted}/${channels} to ${n}`);
  }
  assert.throws(() => roundedKeep(10, 20, 8, 'down' as 'up'), /rounding must be 'up' or 'nearest'/);
  assert.throws(() => roundedKeep(10, 20, 2.5), /roundTo must be a whole number/);
});

test('pruneChannels rounding nearest: kept counts go to the closest multiple, so more can go than asked', async () => {
  const model = createModel('lenet-5', { seed: 2 });
  // 20 → 10 → 8; 50 → 15 → 16; 500 → 150 → 152.
  const r = await pruneChannels(model, { perLayer: { conv1: 0.5, conv2: 0.7, fc1: 0.7 }, roundTo: 8, rounding: 'nearest' });
  assert.deepEqual(
    r.groups.map((g) => g.channelsAfter),
    [8, 16, 152],
  );
  assert.deepEqual(r.model.graph.initializers.get('conv1.weight')?.dims, [8, 1, 5, 5]);
  const up = await pruneChannels(model, { perLayer: { conv1: 0.5, conv2: 0.7, fc1: 0.7 }, roundTo: 8 });
  assert.deepEqual(
    up.groups.map((g) => g.channelsAfter),
    [16, 16, 152],
  );
});

test('bad input: removing every channel, an unknown group, the output group', async () => {
  const model = createModel('lenet-5');
  await assert.rejects(pruneChannels(model, { perLayer: { conv1: 0.99 } }), /would disconnect the graph/);
  await assert.rejects(pruneChannels(model, { perLayer: { conv7: 0.5 } }), /no channel group named "conv7"; prunable groups: conv1, conv2, fc1/);
  await assert.rejects(pruneChannels(model, { perLayer: { fc2: 0.5 } }), /graph output/);
  await assert.rejects(pruneChannels(model, { sparsity: 1 }), /\[0, 1\)/);
});

test('activation statistics on convolution outputs feeding MaxPool (LeNet-5) run and thin', async () => {
  const mnist = loadIdxDataset();
  const r = await pruneChannels(createModel('lenet-5', { seed: 1 }), {
    sparsity: 0.5,
    importance: 'apoz',
    calibration: { data: subset(mnist.train, 0, 64), normalization: 'x/255', threads: 1 },
  });
  assert.deepEqual(
    r.groups.map((g) => [g.name, g.channelsAfter]),
    [
      ['conv1', 10],
      ['conv2', 25],
      ['fc1', 250],
    ],
  );
});

for (const importance of ['apoz', 'activation'] as const) {
  test(`${importance} importance removes exactly the neurons that never fire`, async () => {
    const model = createModel('lenet-300-100', { seed: 4 });
    const bias = (model.graph.initializers.get('fc1.bias') as Tensor).clone();
    const dead = new Set(Array.from({ length: 30 }, (_, i) => 7 + 9 * i));
    // Dead neurons never fire; every other one always does.
    for (let i = 0; i < 300; i++) (bias.data as Float32Array)[i] = dead.has(i) ? -1e3 : 1e3;
    model.graph.initializers.set('fc1.bias', bias);
    const mnist = loadIdxDataset();
    const r = await pruneChannels(model, {
      perLayer: { fc1: 0.1 },
      importance,
      calibration: { data: subset(mnist.train, 0, 256), normalization: 'x/255', threads: 1 },
    });
    const w0 = model.graph.initializers.get('fc1.weight')?.data as Float32Array;
    const w1 = r.model.graph.initializers.get('fc1.weight')?.data as Float32Array;
    const kept = Array.from({ length: 300 }, (_, i) => i).filter((i) => !dead.has(i));
    assert.equal(w1.length, 270 * 784);
    kept.forEach((row, j) => assert.deepEqual(w1.subarray(j * 784, (j + 1) * 784), w0.subarray(row * 784, (row + 1) * 784)));
  });
}

test('activation statistics of own samples (a TensorDataset) equal those of the same images as bytes', async () => {
  const model = createModel('lenet-5', { seed: 1 });
  const images = subset(loadIdxDataset().train, 0, 96);
  const groups = dependencyGroups(model.graph);
  const own = tensorDatasetFromImages(images, { name: model.graph.inputs[0]?.name ?? 'input', normalization: 'x/255', shape: [1, 28, 28], source: 'own.npy' });
  const fromBytes = await activationStats(model, groups, images, { normalization: 'x/255', threads: 1 });
  // 'none' would feed raw bytes: the floats must be taken as they are, not normalized again.
  const fromTensors = await activationStats(model, groups, own, { normalization: 'none', threads: 1 });
  assert.ok(fromBytes.size >= 3);
  for (const [id, s] of fromBytes) {
    const t = fromTensors.get(id);
    assert.ok(t !== undefined, `group ${id}`);
    assert.deepEqual([...t.meanAbs], [...s.meanAbs], `mean |a| of group ${id}`);
    assert.deepEqual([...t.zeroFraction], [...s.zeroFraction], `APoZ of group ${id}`);
  }
  // And the same channels go.
  const a = await pruneChannels(model, { sparsity: 0.5, importance: 'apoz', calibration: { data: images, normalization: 'x/255', threads: 1 } });
  const b = await pruneChannels(model, { sparsity: 0.5, importance: 'apoz', calibration: { data: own, normalization: 'none', threads: 1 } });
  assert.deepEqual(b.model.graph.initializers.get('conv2.weight')?.data, a.model.graph.initializers.get('conv2.weight')?.data);
});

test('a depthwise convolution joins its input group and keeps its group count right', async () => {
  const g = new Graph('dw');
  const rnd = (dims: number[], seed: number): Tensor => {
    const t = new Tensor('float32', dims);
    for (let i = 0; i < t.size; i++) (t.data as Float32Array)[i] = Math.cos(seed + 0.7 * i);
    return t;
  };
  g.inputs.push({ name: 'input', dtype: 'float32', shape: ['N', 1, 8, 8] });
  const conv = (name: string, x: string, w: Tensor, group = 1): void => {
    g.initializers.set(`${name}.weight`, w);
    g.nodes.push({
      name,
      opType: 'Conv',
      domain: '',
      inputs: [x, `${name}.weight`],
      outputs: [name],
      attributes: { kernel_shape: attr.ints([3, 3]), pads: attr.ints([1, 1, 1, 1]), group: attr.int(group) },
    });
  };
  conv('pw', 'input', rnd([6, 1, 3, 3], 1));
  conv('dw', 'pw', rnd([6, 1, 3, 3], 2), 6);
  g.nodes.push({ name: 'relu', opType: 'Relu', domain: '', inputs: ['dw'], outputs: ['relu'], attributes: {} });
  conv('out', 'relu', rnd([2, 6, 3, 3], 3));
  g.nodes.push({ name: 'flat', opType: 'Flatten', domain: '', inputs: ['out'], outputs: ['flat'], attributes: { axis: attr.int(1) } });
  g.initializers.set('fc.weight', rnd([10, 128], 4));
  g.nodes.push({ name: 'fc', opType: 'Gemm', domain: '', inputs: ['flat', 'fc.weight'], outputs: ['logits'], attributes: { transB: attr.int(1) } });
  g.outputs.push({ name: 'logits', dtype: 'float32', shape: ['N', 10] });
  const model = makeModel(g);
  const groups = dependencyGroups(model.graph);
  const pw = groups.find((x) => x.name === 'pw') as PruneGroup;
  assert.deepEqual(
    pw.members.map((m) => [m.tensor, m.axis]),
    [
      ['pw.weight', 0],
      ['dw.weight', 0],
      ['out.weight', 1],
    ],
  );
  const { model: dead, keep } = silenceOddChannels(model, groups);
  const thin = thinChannels(dead, groups, keep);
  assert.deepEqual(thin.graph.initializers.get('dw.weight')?.dims, [3, 1, 3, 3]);
  assert.equal(thin.graph.nodes.find((n) => n.name === 'dw')?.attributes['group']?.value, 3);
  const x = input(model);
  const [a, b] = [await modelOutputs(dead, x), await modelOutputs(thin, x)];
  for (let i = 0; i < a.length; i++) assert.ok(Math.abs((a[i] as number) - (b[i] as number)) < 1e-4);
});

test('a weight shared by two layers (as deduplicating exporters write) is left alone', async () => {
  const model = createModel('mlp:784-16-16-16-10', { seed: 1 });
  const fc3 = model.graph.nodes.find((n) => n.name === 'fc3');
  assert.ok(fc3);
  fc3.inputs[1] = 'fc2.weight';
  const groups = dependencyGroups(model.graph);
  assert.ok(
    groups.every((g) => !g.prunable),
    groups.map((g) => `${g.name}: ${g.prunable}`).join(', '),
  );
  assert.match(groups.find((g) => g.name === 'fc2')?.reason ?? '', /"fc2.weight" is shared/);
  await assert.rejects(pruneChannels(model, { sparsity: 0.5 }), /no prunable channel groups/);
});

test('global channel ranking: the asked share of all channels goes, unevenly across groups, every group keeps one', async () => {
  const model = createModel('lenet-5', { seed: 2 });
  // conv1's filters scaled down 1000×: scores are compared relative to their group's mean, so a
  // layer's scale does not decide how much of it goes.
  const w = model.graph.initializers.get('conv1.weight') as Tensor;
  model.graph.initializers.set(
    'conv1.weight',
    new Tensor(
      'float32',
      w.dims,
      (w.data as Float32Array).map((v) => v / 1000),
    ),
  );
  const total = 20 + 50 + 500;
  const r = await pruneChannels(model, { sparsity: 0.5, scope: 'global' });
  const kept = r.groups.reduce((a, g) => a + g.channelsAfter, 0);
  assert.equal(kept, total - Math.round(0.5 * total));
  assert.ok(r.groups.every((g) => g.channelsAfter >= 1));
  const conv1 = r.groups.find((g) => g.name === 'conv1')?.channelsAfter ?? 0;
  assert.ok(conv1 >= 5, `conv1 keeps ${conv1} of 20`);
  const layer = await pruneChannels(model, { sparsity: 0.5 });
  assert.notDeepEqual(
    r.groups.map((g) => g.channelsAfter),
    layer.groups.map((g) => g.channelsAfter),
    'not the per-layer split',
  );
  const extreme = await pruneChannels(model, { sparsity: 0.99, scope: 'global' });
  assert.deepEqual(
    extreme.groups.map((g) => g.channelsAfter).every((n) => n >= 1),
    true,
  );
  assert.equal(
    extreme.groups.reduce((a, g) => a + g.channelsAfter, 0),
    total - Math.round(0.99 * total),
  );
  // The thinned model runs: one batch through onnxruntime.
  const s = await Session.create(r.model, { threads: 1 });
  const out = await s.run({ input: new Tensor('float32', [2, 1, 28, 28]) });
  await s.release();
  assert.deepEqual(Object.values(out)[0]?.dims, [2, 10]);
  await assert.rejects(pruneChannels(model, { sparsity: 0.5, scope: 'global', perLayer: { conv1: 0.5 } }), /one options.sparsity/);
});
