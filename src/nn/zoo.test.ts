import assert from 'node:assert/strict';
import { test } from 'node:test';
import { WhittleError } from '../ir/errors.js';
import type { Model } from '../ir/graph.js';
import { encodeModel } from '../ir/onnx.js';
import { Tensor } from '../ir/tensor.js';
import { Session } from '../runtime/session.js';
import { Rng } from './init.js';
import { countParameters } from './layers.js';
import { createModel, ZOO_NAMES } from './zoo.js';

function randomBatch(seed: number, dims: number[]): Tensor {
  const rng = new Rng(seed);
  const t = new Tensor('float32', dims);
  const d = t.data as Float32Array;
  for (let i = 0; i < d.length; i++) d[i] = rng.uniform();
  return t;
}

async function logitsOf(model: Model, input: Tensor): Promise<Tensor> {
  const s = await Session.create(encodeModel(model), { threads: 1 });
  try {
    const out = await s.run({ input });
    return out['logits'] ?? assert.fail('no logits output');
  } finally {
    await s.release();
  }
}

test('parameter counts match the literature and a hand count', () => {
  assert.equal(countParameters(createModel('lenet-300-100').graph), 266_610);
  assert.equal(countParameters(createModel('lenet-5').graph), 431_080);
  assert.equal(countParameters(createModel('mlp:784-100-10').graph), 784 * 100 + 100 + 100 * 10 + 10);
  assert.equal(countParameters(createModel('mlp', { hidden: [50, 20] }).graph), 784 * 50 + 50 + 50 * 20 + 20 + 20 * 10 + 10);
  // stem 432 + bn 32; stage1 2·2304 + 2·32; stage2 4608 + 9216 + 2·64 + proj 512 + 64;
  // stage3 18432 + 36864 + 2·128 + proj 2048 + 128; fc 650.
  assert.equal(countParameters(createModel('resnet-cifar').graph), 78_042);
  // PyTorch's nn.LSTM(28, 64) (4·64·(28 + 64) weights + 2·4·64 biases) + nn.Linear(64, 10).
  assert.equal(countParameters(createModel('lstm').graph), 24_714);
  // torchvision's mobilenet_v2(num_classes=10) has 2,236,682 with a 3-channel stem; 1 channel saves 32·2·9.
  assert.equal(countParameters(createModel('mobilenet-v2').graph), 2_236_682 - 32 * 2 * 9);
});

test('every model records its zoo name, takes `input` and returns `logits` [N, 10]', () => {
  for (const name of [...ZOO_NAMES, 'mlp:784-300-10']) {
    const m = createModel(name);
    assert.equal(m.metadata['whittle.zoo'], name);
    assert.deepEqual(m.opsetImports, [{ domain: '', version: 17 }]);
    assert.deepEqual(
      m.graph.inputs.map((v) => v.name),
      ['input'],
    );
    assert.deepEqual(m.graph.outputs, [{ name: 'logits', dtype: 'float32', shape: ['N', 10] }]);
  }
  assert.deepEqual(createModel('resnet-cifar').graph.inputs[0]?.shape, ['N', 3, 32, 32]);
  assert.deepEqual(createModel('lenet-5').graph.inputs[0]?.shape, ['N', 1, 28, 28]);
});

test('lenet-5 follows Caffe: conv/pool twice, ReLU after fc1 only', () => {
  const g = createModel('lenet-5').graph;
  assert.deepEqual(
    g.nodes.map((n) => `${n.name}:${n.opType}`),
    ['conv1:Conv', 'pool1:MaxPool', 'conv2:Conv', 'pool2:MaxPool', 'flatten:Flatten', 'fc1:Gemm', 'relu1:Relu', 'fc2:Gemm'],
  );
  assert.deepEqual(g.initializers.get('conv2.weight')?.dims, [50, 20, 5, 5]);
  assert.deepEqual(g.initializers.get('fc1.weight')?.dims, [500, 800]);
  assert.deepEqual(g.valueInfo.get('pool2')?.shape, ['N', 50, 4, 4]);
});

test('resnet-cifar uses projection shortcuts only where the shape changes', () => {
  const g = createModel('resnet-cifar', { blocks: 2 }).graph;
  const names = new Set(g.nodes.map((n) => n.name));
  assert.ok(!names.has('layer1.0.downsample.0'));
  for (const s of [2, 3]) {
    assert.ok(names.has(`layer${s}.0.downsample.0`) && names.has(`layer${s}.0.downsample.1`));
    assert.ok(!names.has(`layer${s}.1.downsample.0`));
  }
  assert.deepEqual(g.initializers.get('layer2.0.downsample.0.weight')?.dims, [32, 16, 1, 1]);
  assert.ok(g.initializers.has('layer3.1.bn2.running_var'));
  assert.ok(!g.initializers.has('layer1.0.conv1.bias'), 'convs before BatchNorm have no bias');
  assert.deepEqual(g.valueInfo.get('layer3.1.relu2')?.shape, ['N', 64, 8, 8]);
});

test('the same seed gives identical bytes; another seed other weights', () => {
  for (const name of ZOO_NAMES) {
    assert.deepEqual(encodeModel(createModel(name, { seed: 5 })), encodeModel(createModel(name, { seed: 5 })), name);
  }
  const a = createModel('lenet-300-100', { seed: 1 }).graph.initializers.get('fc1.weight');
  const b = createModel('lenet-300-100', { seed: 2 }).graph.initializers.get('fc1.weight');
  assert.notDeepEqual([...(a?.data ?? [])].slice(0, 10), [...(b?.data ?? [])].slice(0, 10));
});

test('each zoo model loads in onnxruntime and returns logits [4, 10]', async () => {
  const cases: [string, Parameters<typeof createModel>[1], number[]][] = [
    ['lenet-300-100', {}, [4, 1, 28, 28]],
    ['lenet-5', {}, [4, 1, 28, 28]],
    ['resnet-cifar', {}, [4, 3, 32, 32]],
    ['resnet-cifar', { inChannels: 1, inputSize: 28, blocks: 2 }, [4, 1, 28, 28]],
    ['mlp:784-100-10', {}, [4, 1, 28, 28]],
    ['mlp', { inChannels: 3, inputSize: 32, hidden: [64] }, [4, 3, 32, 32]],
  ];
  for (const [name, options, dims] of cases) {
    const logits = await logitsOf(createModel(name, { seed: 1, ...options }), randomBatch(2, dims));
    assert.deepEqual(logits.dims, [4, 10], name);
    assert.ok((logits.data as Float32Array).every(Number.isFinite), `${name} logits are finite`);
  }
});

test('lenet-300-100 in onnxruntime matches a plain-JS forward pass', async () => {
  const model = createModel('lenet-300-100', { seed: 7 });
  const x = randomBatch(3, [8, 1, 28, 28]);
  const w = (k: string): Float32Array => (model.graph.initializers.get(k)?.data as Float32Array | undefined) ?? assert.fail(`missing ${k}`);
  const dense = (input: Float32Array, batch: number, inF: number, outF: number, layer: string, relu: boolean): Float32Array => {
    const W = w(`${layer}.weight`);
    const B = w(`${layer}.bias`);
    const out = new Float32Array(batch * outF);
    for (let n = 0; n < batch; n++)
      for (let o = 0; o < outF; o++) {
        let s = B[o] as number;
        for (let i = 0; i < inF; i++) s += (input[n * inF + i] as number) * (W[o * inF + i] as number);
        out[n * outF + o] = relu ? Math.max(0, s) : s;
      }
    return out;
  };
  const h1 = dense(x.data as Float32Array, 8, 784, 300, 'fc1', true);
  const h2 = dense(h1, 8, 300, 100, 'fc2', true);
  const want = dense(h2, 8, 100, 10, 'fc3', false);
  const got = (await logitsOf(model, x)).data as Float32Array;
  let maxDiff = 0;
  for (let i = 0; i < want.length; i++) maxDiff = Math.max(maxDiff, Math.abs((got[i] as number) - (want[i] as number)));
  assert.ok(maxDiff < 1e-4, `max abs diff ${maxDiff}`);
});

test('bad names and options are refused with the list of valid names', () => {
  const bad = (name: string, options = {}, text = '') =>
    assert.throws(
      () => createModel(name, options),
      (e: unknown) => e instanceof WhittleError && e.code === 'BAD_ARGUMENT' && e.message.includes(text),
      name,
    );
  bad('lenet-6', {}, ZOO_NAMES.join(', '));
  bad('lenet-5:784', {}, 'lenet-300-100');
  bad('mlp:784-x-10', {}, 'mlp:784-100-10');
  bad('mlp:100-10', {}, 'flattens to 784');
  bad('mlp:784-10', { numClasses: 5 }, 'numClasses');
  bad('resnet-cifar', { blocks: 0 }, 'blocks');
  assert.throws(
    () => createModel('lenet-5', { inputSize: 8 }),
    (e: unknown) => e instanceof WhittleError && e.code === 'SHAPE_MISMATCH' && e.message.includes('conv2'),
  );
});

test('resnet-20 and resnet-56 have 6n + 2 weighted layers: 3×3 convs and the classifier (projections aside)', () => {
  for (const [name, depth] of [
    ['resnet-20', 20],
    ['resnet-56', 56],
  ] as const) {
    const g = createModel(name).graph;
    const convs3 = g.nodes.filter((n) => n.opType === 'Conv' && g.initializers.get(n.inputs[1] ?? '')?.dims[2] === 3);
    assert.equal(convs3.length + g.nodes.filter((n) => n.opType === 'Gemm').length, depth, name);
    assert.deepEqual(g.inputs[0]?.shape, ['N', 3, 32, 32]);
  }
  // He et al.'s CIFAR ResNets: 0.27M and 0.85M parameters (1×1 projections where the width doubles).
  assert.equal(countParameters(createModel('resnet-20').graph), 272_474);
  assert.equal(countParameters(createModel('resnet-56').graph), 855_770);
});

test('vit-tiny: a hand count of its parameters, its options from the name or the options object', () => {
  // patch 4×4 conv 64·16 + 64; position 49·64; per block: 2 LayerNorms 4·64, in-proj 64·192 + 192,
  // out-proj 64·64 + 64, MLP 64·128 + 128 + 128·64 + 64; final LayerNorm 128; head 64·10 + 10.
  const block = 4 * 64 + 64 * 192 + 192 + 64 * 64 + 64 + 64 * 128 + 128 + 128 * 64 + 64;
  assert.equal(countParameters(createModel('vit-tiny').graph), 64 * 16 + 64 + 49 * 64 + 4 * block + 128 + 650);
  const small = createModel('vit-tiny:patch=7,depth=2,heads=2,dim=32').graph;
  assert.equal(small.nodes.filter((n) => n.opType === 'Softmax').length, 2);
  assert.deepEqual(small.initializers.get('patch_embed.weight')?.dims, [32, 1, 7, 7]);
  const viaOptions = createModel('vit-tiny', { vit: { patch: 7, depth: 2, heads: 2, dim: 32 } });
  assert.equal(countParameters(viaOptions.graph), countParameters(small));
  assert.throws(() => createModel('vit-tiny:patch=5'), /patch 5 does not divide the input size 28/);
  assert.throws(() => createModel('vit-tiny:heads=3'), /3 heads do not divide dim 64/);
  assert.throws(() => createModel('vit-tiny:width=2'), /key=value pairs of patch, depth, heads, dim/);
});

test('vit-tiny, resnet-20 and resnet-56 run in onnxruntime and return finite logits [4, 10]', async () => {
  const cases: [string, Parameters<typeof createModel>[1], number[]][] = [
    ['vit-tiny:patch=7,depth=2,heads=2,dim=32', {}, [4, 1, 28, 28]],
    ['vit-tiny', { inChannels: 3, inputSize: 32, vit: { patch: 8, depth: 1 } }, [4, 3, 32, 32]],
    ['resnet-20', {}, [4, 3, 32, 32]],
    ['resnet-56', { inChannels: 1, inputSize: 28 }, [4, 1, 28, 28]],
  ];
  for (const [name, options, dims] of cases) {
    const logits = await logitsOf(createModel(name, { seed: 1, ...options }), randomBatch(2, dims));
    assert.deepEqual(logits.dims, [4, 10], name);
    assert.ok((logits.data as Float32Array).every(Number.isFinite), `${name} logits are finite`);
    // Different images give different logits (no constant output from a broken block).
    const d = logits.data as Float32Array;
    assert.ok(
      d.slice(0, 10).some((v, i) => Math.abs(v - (d[10 + i] as number)) > 1e-6),
      name,
    );
  }
});
