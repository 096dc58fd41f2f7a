// PTQ, dynamic quantization, BatchNorm folding and QAT finalization on a LeNet-300-100 trained
// for one epoch on 6,000 MNIST images. Oracles: the fp32 model's accuracy (floors), Whittle's
// float fake-quant twin against ORT's integer kernels (within one quantization step), exact
// equivalence for BatchNorm folding and for packed binary/ternary weights.
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import type { Dataset } from '../../data/index.js';
import { loadIdxDataset, normalizeBatch, subset } from '../../data/index.js';
import type { Model } from '../../ir/graph.js';
import { encodeModel } from '../../ir/onnx.js';
import { inferShapes } from '../../ir/shape.js';
import { Tensor } from '../../ir/tensor.js';
import { SHAPE_RULES } from '../../ops/index.js';
import { createModel } from '../../nn/index.js';
import { Session } from '../../runtime/session.js';
import { evaluate } from '../../train/evaluate.js';
import { train } from '../../train/trainer.js';
import { CALIBRATION_METHODS, calibrate } from './calibrate.js';
import { quantizeDynamic } from './dynamic.js';
import { foldBatchNorm } from './fold-bn.js';
import { prepareQat } from './qat.js';
import { finalizeQat } from './qat-finalize.js';
import { simulateQdq } from './simulate.js';
import { quantizeStatic } from './static.js';

let fp32: Model;
let test2k: Dataset;
let samples: Tensor;
let fp32Accuracy: number;
const opts = { normalization: 'x/255' as const, threads: 1 };

before(async () => {
  const mnist = loadIdxDataset();
  const r = await train(createModel('lenet-300-100', { seed: 1 }), subset(mnist.train, 0, 10000), {
    epochs: 2,
    batchSize: 64,
    lr: 0.05,
    optimizer: { kind: 'sgd', momentum: 0.9 },
    normalization: 'x/255',
    threads: 1,
  });
  fp32 = r.model;
  test2k = subset(mnist.test, 0, 2000);
  samples = new Tensor(
    'float32',
    [256, 1, 28, 28],
    normalizeBatch(
      mnist.train,
      Int32Array.from({ length: 256 }, (_, i) => 10000 + i),
      'x/255',
    ),
  );
  fp32Accuracy = (await evaluate(fp32, test2k, opts)).accuracy;
  assert.ok(fp32Accuracy > 0.9, `baseline trained to ${fp32Accuracy}`);
});

async function outputs(model: Model, names: string[], x: Tensor): Promise<Record<string, Tensor>> {
  const g = model.graph.clone();
  const shapes = inferShapes(g.clone(), SHAPE_RULES);
  g.outputs = names.map((n) => ({ name: n, dtype: 'float32', shape: [...(shapes.get(n)?.shape ?? [])] }));
  const s = await Session.create({ ...model, graph: g }, { threads: 1 });
  try {
    return await s.run({ input: x });
  } finally {
    await s.release();
  }
}

test('static PTQ: ORT’s integer kernels agree with the fake-quant twin within one step; accuracy floor', async () => {
  const { model: q, ranges } = await quantizeStatic(fp32, { samples, calibration: { method: 'minmax' }, threads: 1 });
  assert.ok(q.graph.nodes.some((n) => n.opType === 'QuantizeLinear'));
  const dq = q.graph.nodes.find((n) => n.opType === 'DequantizeLinear' && q.graph.producerOf(n.inputs[0] as string)?.inputs[0] === 'relu1');
  assert.ok(dq, 'relu1 is quantized');
  const step = q.graph.initializers.get(dq.inputs[1] as string)?.data[0] as number;
  const x = new Tensor('float32', [64, 1, 28, 28], (samples.data as Float32Array).subarray(0, 64 * 784));
  const names = [dq.outputs[0] as string, 'logits'];
  const ort = await outputs(q, names, x);
  const sim = await outputs(simulateQdq(q), names, x);
  const a = ort[names[0] as string]?.data as Float32Array;
  const b = sim[names[0] as string]?.data as Float32Array;
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs((a[i] as number) - (b[i] as number)));
  assert.ok(worst <= step * 1.0001, `relu1 differs by ${worst}, one step is ${step}`);
  const r = ranges.get('relu1');
  assert.ok(r !== undefined && r.lo === 0 && r.hi > 0);
  const acc = (await evaluate(q, test2k, opts)).accuracy;
  const simAcc = (await evaluate(simulateQdq(q), test2k, opts)).accuracy;
  assert.ok(acc >= fp32Accuracy - 0.01, `int8 ${acc} vs fp32 ${fp32Accuracy}`);
  assert.ok(Math.abs(acc - simAcc) <= 0.002, `ORT ${acc} vs fake-quant ${simAcc}`);
});

test('static PTQ of a conv net (QLinearConv, uint8 MaxPool): every quantized activation within one step of the twin', async () => {
  const lenet = createModel('lenet-5', { seed: 2 });
  const { model: q } = await quantizeStatic(lenet, { samples, calibration: { method: 'percentile' }, threads: 1 });
  const dqs = q.graph.nodes.filter((n) => n.opType === 'DequantizeLinear' && q.graph.producerOf(n.inputs[0] as string)?.opType === 'QuantizeLinear');
  assert.ok(dqs.length >= 6, `${dqs.length} quantized activations`);
  const x = new Tensor('float32', [32, 1, 28, 28], (samples.data as Float32Array).subarray(0, 32 * 784));
  const names = dqs.map((n) => n.outputs[0] as string);
  const [ort, sim] = [await outputs(q, names, x), await outputs(simulateQdq(q), names, x)];
  for (const n of dqs) {
    const step = q.graph.initializers.get(n.inputs[1] as string)?.data[0] as number;
    const a = ort[n.outputs[0] as string]?.data as Float32Array;
    const b = sim[n.outputs[0] as string]?.data as Float32Array;
    let worst = 0;
    for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs((a[i] as number) - (b[i] as number)));
    assert.ok(worst <= step * 1.0001, `${n.outputs[0]}: off by ${worst}, one step is ${step}`);
  }
});

test('PTQ with conv1 kept in float: pool1 stays float behind a Max(v, v) barrier, and quantizing after the pool equals quantizing before it', async () => {
  const lenet = createModel('lenet-5', { seed: 2 });
  const { model: q } = await quantizeStatic(lenet, { samples, calibration: { method: 'minmax' }, keepFloat: ['conv1'], threads: 1 });
  const g = q.graph;
  const conv1 = g.nodes.find((n) => n.name === 'conv1');
  const pool1 = g.nodes.find((n) => n.name === 'pool1');
  assert.ok(conv1 && pool1);
  assert.deepEqual(
    g.consumersOf(conv1.outputs[0] as string).map((n) => n.opType),
    ['MaxPool'],
    'conv1 feeds pool1 directly, in float',
  );
  const barrier = g.consumersOf(pool1.outputs[0] as string);
  assert.deepEqual(
    barrier.map((n) => n.opType),
    ['Max'],
  );
  assert.deepEqual(barrier[0]?.inputs, [pool1.outputs[0], pool1.outputs[0]]);
  const qNode = g.consumersOf(barrier[0]?.outputs[0] as string)[0];
  assert.equal(qNode?.opType, 'QuantizeLinear');
  // The form onnxruntime would otherwise make: the same Q → DQ also in front of pool1.
  const before = q.graph.clone();
  const v = conv1.outputs[0] as string;
  for (const n of before.nodes) n.inputs = n.inputs.map((i) => (i === v ? 'conv1.dq' : i));
  before.nodes.splice(
    before.nodes.findIndex((n) => n.name === 'conv1') + 1,
    0,
    {
      name: 'conv1.q_node',
      opType: 'QuantizeLinear',
      domain: '',
      inputs: [v, qNode.inputs[1] as string, qNode.inputs[2] as string],
      outputs: ['conv1.q'],
      attributes: {},
    },
    {
      name: 'conv1.dq_node',
      opType: 'DequantizeLinear',
      domain: '',
      inputs: ['conv1.q', qNode.inputs[1] as string, qNode.inputs[2] as string],
      outputs: ['conv1.dq'],
      attributes: {},
    },
  );
  const x = new Tensor('float32', [32, 1, 28, 28], (samples.data as Float32Array).subarray(0, 32 * 784));
  const a = (await outputs(q, ['logits'], x))['logits']?.data as Float32Array;
  const b = (await outputs({ ...q, graph: before }, ['logits'], x))['logits']?.data as Float32Array;
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs((a[i] as number) - (b[i] as number)));
  assert.ok(worst <= 1e-5, `max |Δlogits| ${worst}`);
});

test('calibration methods pick ranges inside the observed one and keep accuracy', async () => {
  const ranges = await Promise.all(CALIBRATION_METHODS.map((method) => calibrate(fp32, samples, ['relu1', 'flatten'], { method, threads: 1 })));
  ranges.forEach((m, i) => {
    for (const [name, r] of m) {
      assert.ok(r.lo >= r.min && r.hi <= r.max && r.lo <= 0 && r.hi > 0, `${CALIBRATION_METHODS[i]} ${name}: [${r.lo}, ${r.hi}] outside [${r.min}, ${r.max}]`);
    }
  });
  // MNIST pixels: [0, 1] exactly, and min-max must say so.
  assert.deepEqual([ranges[0]?.get('flatten')?.lo, ranges[0]?.get('flatten')?.hi], [0, 1]);
  // Clipping methods cut the ReLU's long tail.
  assert.ok((ranges[1]?.get('relu1')?.hi ?? Infinity) < (ranges[0]?.get('relu1')?.hi ?? 0));
  const { model } = await quantizeStatic(fp32, { samples, calibration: { method: 'entropy' }, threads: 1 });
  assert.ok((await evaluate(model, test2k, opts)).accuracy >= fp32Accuracy - 0.015);
  await assert.rejects(
    () => calibrate(fp32, new Tensor('float32', [4, 1, 8, 8]), ['relu1'], { method: 'minmax' }),
    /SHAPE_MISMATCH|calibration data must be float32 \[N, 1, 28, 28\].*\[4, 1, 8, 8\]/,
  );
});

test('dynamic quantization: MatMulInteger form runs in ORT; accuracy floor', async () => {
  const { model, layers } = quantizeDynamic(fp32);
  assert.ok(model.graph.nodes.some((n) => n.opType === 'MatMulInteger'));
  assert.equal(layers.length, 3);
  assert.ok((await evaluate(model, test2k, opts)).accuracy >= fp32Accuracy - 0.01);
});

test('BatchNorm folding leaves a ResNet’s outputs unchanged', async () => {
  const m = createModel('resnet-cifar', { inChannels: 1, inputSize: 8, seed: 3 });
  // Non-trivial statistics so that folding has something to do.
  for (const [k, t] of m.graph.initializers) {
    if (!/(running_mean|running_var|bn\d?\.(weight|bias)|downsample\.1)/.test(k) || t.dims.length !== 1) continue;
    m.graph.initializers.set(
      k,
      Tensor.fromArray(
        'float32',
        t.dims,
        Array.from({ length: t.size }, (_, i) => (k.includes('var') ? 0.5 + ((i * 37) % 11) / 10 : ((i * 13) % 7) / 7 - 0.4)),
      ),
    );
  }
  const { model: folded, folded: names } = foldBatchNorm(m);
  assert.ok(names.length >= 5 && !folded.graph.nodes.some((n) => n.opType === 'BatchNormalization'));
  const x = new Tensor(
    'float32',
    [4, 1, 8, 8],
    Float32Array.from({ length: 256 }, (_, i) => Math.sin(i)),
  );
  const [a, b] = [await outputs(m, ['logits'], x), await outputs(folded, ['logits'], x)];
  const ya = a['logits']?.data as Float32Array;
  const yb = b['logits']?.data as Float32Array;
  for (let i = 0; i < ya.length; i++)
    assert.ok(Math.abs((ya[i] as number) - (yb[i] as number)) <= 1e-4 * Math.max(1, Math.abs(ya[i] as number)), `logit ${i}: ${ya[i]} vs ${yb[i]}`);
});

for (const scheme of ['binary', 'ternary'] as const) {
  test(`${scheme}: the packed export computes exactly what the training forward computed`, async () => {
    const { model: qat, plan } = await prepareQat(fp32, { scheme });
    const { model: packed, layers } = finalizeQat(qat, plan);
    const x = new Tensor('float32', [64, 1, 28, 28], (samples.data as Float32Array).subarray(0, 64 * 784));
    const [a, b] = [await outputs(qat, ['logits'], x), await outputs(packed, ['logits'], x)];
    const ya = a['logits']?.data as Float32Array;
    const yb = b['logits']?.data as Float32Array;
    for (let i = 0; i < ya.length; i++)
      assert.ok(Math.abs((ya[i] as number) - (yb[i] as number)) <= 1e-4 * Math.max(1, Math.abs(ya[i] as number)), `logit ${i}: ${ya[i]} vs ${yb[i]}`);
    const bits = scheme === 'binary' ? 1 : 2;
    const weights = 784 * 300 + 300 * 100 + 100 * 10;
    assert.ok(layers.every((l) => l.bits === bits));
    // Packed codes: bits/8 byte per weight, plus scales and float biases.
    assert.ok(encodeModel(packed).length < (weights * bits) / 8 + 4 * 410 + 4 * 1000 + 8000, `file is ${encodeModel(packed).length} bytes`);
  });
}

test('QAT (uniform int8): the QDQ export agrees with the trained fake-quant model', async () => {
  const { model: qat, plan } = await prepareQat(fp32, { scheme: 'uniform', bits: 8, samples, threads: 1 });
  const { model: q } = finalizeQat(qat, plan);
  const [a, b] = [await evaluate(qat, test2k, opts), await evaluate(q, test2k, opts)];
  assert.ok(Math.abs(a.accuracy - b.accuracy) <= 0.002, `fake-quant ${a.accuracy} vs QDQ ${b.accuracy}`);
  assert.ok(b.accuracy >= fp32Accuracy - 0.01);
  // Trained and written in 7 bits by default (integer kernels on x86 without VNNI saturate on full-range int8 weights).
  assert.equal(plan.reduceRange, true);
  const codes = q.graph.nodes
    .filter((n) => n.opType === 'DequantizeLinear')
    .map((n) => q.graph.initializers.get(n.inputs[0] as string))
    .filter((t) => t?.dtype === 'int8');
  assert.ok(codes.length > 0);
  let widest = 0;
  for (const t of codes) for (const v of t?.data as Int8Array) widest = Math.max(widest, Math.abs(v));
  // Codes in [-64, 63]; the learned scales use that range, not a quarter of it.
  assert.ok(widest <= 64 && widest > 32, `largest |code| ${widest}`);
  const full = await prepareQat(fp32, { scheme: 'uniform', bits: 8, samples, threads: 1, reduceRange: false });
  assert.equal(full.plan.reduceRange, false);
});
