// Growing: Net2WiderNet and Net2DeeperNet keep the ORT outputs (≤ 1e-5), have the expected
// shapes and parameter counts, refuse to shrink; grow-when-stuck reaches the target widths and
// keeps learning.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadIdxDataset, splitValidation, subset } from '../../data/index.js';
import { WhittleError } from '../../ir/errors.js';
import type { Tensor } from '../../ir/tensor.js';
import { countParameters, createModel } from '../../nn/index.js';
import { evaluate } from '../../train/evaluate.js';
import { train } from '../../train/trainer.js';
import { maxAbsOutputChange } from '../merge/index.js';
import { deepen, growWhenStuck, widen } from './index.js';

const mnist = loadIdxDataset();
const sample = subset(mnist.test, 0, 500);
const norm = { normalization: 'x/255' as const, threads: 1 };
const sgd = { batchSize: 64, lr: 0.05, optimizer: { kind: 'sgd', momentum: 0.9 } as const, ...norm };

const trained = train(createModel('lenet-300-100', { seed: 5 }), subset(mnist.train, 0, 4096), { ...sgd, epochs: 1 }).then((r) => r.model);

for (const [label, options] of [
  ['Net2WiderNet', {}],
  ['Net2WiderNet with symmetry-breaking noise', { noise: 0.2 }],
  ['random new units with zero outgoing weights', { init: 'random' as const }],
] as const) {
  test(`${label} keeps the outputs (fc1 300 → 450)`, async () => {
    const model = await trained;
    const before = (model.graph.initializers.get('fc2.weight') as Tensor).data.slice();
    const wider = widen(model, { layer: 'fc1', width: 450, seed: 1, ...options });
    assert.deepEqual(wider.graph.initializers.get('fc1.weight')?.dims, [450, 784]);
    assert.deepEqual(wider.graph.initializers.get('fc2.weight')?.dims, [100, 450]);
    assert.equal(countParameters(wider.graph), countParameters(model.graph) + 150 * (784 + 1 + 100));
    const change = await maxAbsOutputChange(model, wider, sample, norm);
    assert.ok(change <= 1e-5, `max |Δoutput| ${change}`);
    assert.deepEqual((model.graph.initializers.get('fc2.weight') as Tensor).data, before, 'the input model is not modified');
  });
}

test('Net2DeeperNet inserts an identity Dense + ReLU and keeps the outputs', async () => {
  const model = await trained;
  const deeper = deepen(model, { after: 'fc2' });
  assert.deepEqual(
    deeper.graph.nodes.map((n) => n.opType),
    ['Flatten', 'Gemm', 'Relu', 'Gemm', 'Relu', 'Gemm', 'Relu', 'Gemm'],
  );
  assert.equal(countParameters(deeper.graph), countParameters(model.graph) + 100 * 100 + 100);
  assert.equal(await maxAbsOutputChange(model, deeper, sample, norm), 0);
  // Deepening twice after the same layer picks a fresh name.
  const twice = deepen(deeper, { after: 'fc2' });
  assert.ok(twice.graph.initializers.has('fc2_deep2.weight'));
});

test('widening to a smaller width, or growing the output layer, is refused', async () => {
  const model = createModel('lenet-300-100', { seed: 1 });
  assert.throws(
    () => widen(model, { layer: 'fc1', width: 200 }),
    (e: unknown) => e instanceof WhittleError && e.code === 'BAD_ARGUMENT' && /cannot widen "fc1" to 200 units: it has 300/.test(e.message),
  );
  assert.throws(
    () => widen(model, { layer: 'fc3', width: 20 }),
    (e: unknown) => e instanceof WhittleError && /the last layer cannot be/.test(e.message),
  );
});

test('grow when stuck: a 784-16-10 net grows to 784-64-10 in steps and keeps learning', async () => {
  const split = splitValidation(subset(mnist.train, 0, 6144), 1024);
  const r = await growWhenStuck(
    createModel('mlp:784-16-10', { seed: 2 }),
    split.train,
    { ...sgd, epochs: 4, schedule: { schedule: { kind: 'cosine' } } },
    { targets: { fc1: 64 }, validation: split.validation, steps: 2, deadline: 2 },
  );
  assert.equal(r.events.length, 2);
  assert.deepEqual(
    r.events.map((e) => e.widths['fc1']),
    [40, 64],
  );
  assert.deepEqual(r.model.graph.initializers.get('fc1.weight')?.dims, [64, 784]);
  // One check per epoch until the last growth; then the validation samples train too, unchecked.
  assert.equal(r.history.length, 2);
  const acc = await evaluate(r.model, subset(mnist.test, 0, 2000), norm);
  assert.ok(acc.accuracy > 0.85, `accuracy ${acc.accuracy}`);
  const held = await growWhenStuck(
    createModel('mlp:784-16-10', { seed: 2 }),
    split.train,
    { ...sgd, epochs: 4, schedule: { schedule: { kind: 'cosine' } } },
    { targets: { fc1: 64 }, validation: split.validation, steps: 2, deadline: 2, reuseValidation: false },
  );
  assert.equal(held.history.length, 4, 'kept out of training, the validation set is checked every epoch and at the end');
});

/** Every 1-D parameter (BatchNorm scales, shifts and statistics; biases) away from its initial value, so copying them wrongly shows. */
function randomizeBatchNorm(model: ReturnType<typeof createModel>): void {
  let k = 0;
  for (const [name, t] of model.graph.initializers) {
    if (t.dims.length !== 1 || t.dtype !== 'float32') continue;
    const d = t.data as Float32Array;
    for (let i = 0; i < d.length; i++) d[i] = name.endsWith('running_var') ? 0.5 + ((k++ * 7919) % 100) / 100 : (((k++ * 7919) % 200) - 100) / 200;
  }
}

test('Net2WiderNet for convolutions: LeNet-5 conv1 20 → 30 and conv2 50 → 64 (through Flatten into fc1) keep the outputs', async () => {
  const model = (await train(createModel('lenet-5', { seed: 3 }), subset(mnist.train, 0, 1024), { ...sgd, lr: 0.01, epochs: 1 })).model;
  for (const options of [{}, { noise: 0.2 }, { init: 'random' as const }]) {
    const wider = widen(widen(model, { layer: 'conv1', width: 30, seed: 1, ...options }), { layer: 'conv2', width: 64, seed: 2, ...options });
    assert.deepEqual(wider.graph.initializers.get('conv1.weight')?.dims, [30, 1, 5, 5]);
    assert.deepEqual(wider.graph.initializers.get('conv2.weight')?.dims, [64, 30, 5, 5]);
    assert.deepEqual(wider.graph.initializers.get('fc1.weight')?.dims, [500, 64 * 16]);
    assert.equal(countParameters(wider.graph), countParameters(model.graph) + 10 * 26 + 14 * (30 * 25 + 1) + 50 * 10 * 25 + 500 * 14 * 16);
    const change = await maxAbsOutputChange(model, wider, sample, norm);
    assert.ok(change <= 1e-5, `${JSON.stringify(options)}: max |Δoutput| ${change}`);
  }
});

test('Net2WiderNet across BatchNorm and residual additions: a ResNet stage and an inner conv grow, outputs kept', async () => {
  const model = createModel('resnet-cifar', { inChannels: 1, inputSize: 28, blocks: 2, seed: 4 });
  randomizeBatchNorm(model);
  const stage = widen(model, { layer: 'conv1', width: 24, noise: 0.1, seed: 1 });
  const inner = widen(stage, { layer: 'layer2.0.conv1', width: 40, seed: 2 });
  assert.equal(inner.graph.initializers.get('conv1.weight')?.dims[0], 24);
  assert.equal(inner.graph.initializers.get('layer1.1.conv2.weight')?.dims[0], 24, 'every block output of the stage grows with the stem');
  assert.equal(inner.graph.initializers.get('layer2.0.conv2.weight')?.dims[1], 40);
  const change = await maxAbsOutputChange(model, inner, sample, norm);
  assert.ok(change <= 1e-5, `max |Δoutput| ${change}`);
});

test('Net2DeeperNet for convolutions inserts an identity 3×3 Conv (+ ReLU after a ReLU) and keeps the outputs', async () => {
  const model = createModel('resnet-cifar', { inChannels: 1, inputSize: 28, blocks: 1, seed: 5 });
  randomizeBatchNorm(model);
  const deeper = deepen(deepen(createModel('lenet-5', { seed: 3 }), { after: 'conv2' }), { after: 'conv1' });
  assert.deepEqual(deeper.graph.initializers.get('conv1_deep.weight')?.dims, [20, 20, 3, 3]);
  assert.equal(await maxAbsOutputChange(createModel('lenet-5', { seed: 3 }), deeper, sample, norm), 0);
  const res = deepen(model, { after: 'layer1.0.conv1' });
  assert.ok(
    res.graph.nodes.some((n) => n.name === 'layer1.0.conv1_deep_relu'),
    'a ReLU follows, as after the BatchNorm+ReLU it was inserted behind',
  );
  assert.ok((await maxAbsOutputChange(model, res, sample, norm)) <= 1e-5);
  assert.throws(
    () => widen(model, { layer: 'nosuch', width: 30 }),
    (e: unknown) => e instanceof WhittleError && /no Dense or Conv layer "nosuch"; layers: conv1, /.test(e.message),
  );
});

test('grow when stuck widens convolutions too, and every growth happens even when runs of K steps overshoot the deadline', async () => {
  const { pruneChannels } = await import('../prune/index.js');
  const narrow = (await pruneChannels(createModel('lenet-5', { seed: 6 }), { sparsity: 0.5 })).model;
  const split = splitValidation(subset(mnist.train, 0, 3072), 512);
  const r = await growWhenStuck(
    narrow,
    split.train,
    { ...sgd, lr: 0.01, epochs: 4, stepsPerRun: 16 },
    { targets: { conv1: 20, conv2: 50 }, validation: split.validation, steps: 3, checksPerEpoch: 2, deadline: 1, patience: 100 },
  );
  assert.ok(
    r.events.every((e) => e.reason === 'deadline'),
    'growth forced by the deadline alone',
  );
  assert.equal(r.events.length, 3);
  assert.deepEqual(r.events[2]?.widths, { conv1: 20, conv2: 50 });
  assert.deepEqual(r.model.graph.initializers.get('conv2.weight')?.dims, [50, 20, 5, 5]);
  assert.ok((await evaluate(r.model, subset(mnist.test, 0, 1000), norm)).accuracy > 0.9);
});
