// Quantization of models Whittle did not make (test/fixtures/corpus: PyTorch exports with random
// weights). Oracles: the float model's own outputs in onnxruntime (cosine per sample), exact
// transposes, the input model left untouched, and the node types onnxruntime needs to see.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { loadDataForModel } from '../../data/index.js';
import type { TensorDataset } from '../../data/index.js';
import { exportFp16 } from '../../export/fp16.js';
import { exportInt4 } from '../../export/int4.js';
import type { Model } from '../../ir/graph.js';
import { attr, Graph, makeModel, opsetOf } from '../../ir/graph.js';
import { encodeModel } from '../../ir/onnx.js';
import { Tensor } from '../../ir/tensor.js';
import { loadModel } from '../../load.js';
import { Session } from '../../runtime/session.js';
import { tensorBatch } from '../../data/index.js';
import { quantizeDynamic } from './dynamic.js';
import { collectFeeds } from './feeds.js';
import { foldWeightTransposes } from '../../export/quant-graph.js';
import { quantizeStatic } from './static.js';
import { valueTypes } from '../../ir/value-types.js';

const CORPUS = fileURLToPath(new URL('../../../../test/fixtures/corpus/', import.meta.url));
const load = (name: string): Model => loadModel(`${CORPUS}${name}`);
const data = (m: Model, file: string, n: number): TensorDataset => {
  const ds = loadDataForModel(m, `${CORPUS}${file}`);
  return { ...ds, count: Math.min(n, ds.count) };
};

/** Mean per-sample cosine between the first outputs of two models on the first batch of `ds`. */
async function cosine(a: Model, b: Model, ds: TensorDataset): Promise<number> {
  const { feeds } = tensorBatch(ds, 0, ds.count);
  const run = async (m: Model): Promise<Float32Array> => {
    const s = await Session.create(m, { threads: 1 });
    try {
      return (await s.run(feeds))[m.graph.outputs[0]?.name as string]?.data as Float32Array;
    } finally {
      await s.release();
    }
  };
  const [x, y] = [await run(a), await run(b)];
  const per = x.length / ds.count;
  let sum = 0;
  for (let i = 0; i < ds.count; i++) {
    let [xy, xx, yy] = [0, 0, 0];
    for (let j = i * per; j < (i + 1) * per; j++) {
      xy += (x[j] as number) * (y[j] as number);
      xx += (x[j] as number) ** 2;
      yy += (y[j] as number) ** 2;
    }
    sum += xy / Math.sqrt(xx * yy);
  }
  return sum / ds.count;
}

test('value types without shape rules: shape arithmetic is int64, activations float32', () => {
  const m = load('transformer_encoder.opset13.onnx');
  const types = valueTypes(m);
  const of = (op: string): Set<string | undefined> => new Set(m.graph.nodes.filter((n) => n.opType === op).map((n) => types.get(n.outputs[0] as string)));
  assert.deepEqual(of('Softmax'), new Set(['float32']));
  assert.deepEqual(of('MatMul'), new Set(['float32']));
  assert.equal(types.get(m.graph.inputs[0]?.name as string), 'int64');
  // The token embedding: a Gather of a float table by int64 ids is float.
  const gather = m.graph.nodes.find((n) => n.opType === 'Gather' && m.graph.initializers.get(n.inputs[0] as string)?.dtype === 'float32');
  assert.equal(types.get(gather?.outputs[0] as string), 'float32');
});

test('collectFeeds cuts one tensor into batches and names the input a batch lacks', async () => {
  const m = load('resnet18.opset17.onnx');
  const batches = await collectFeeds(m, new Tensor('float32', [5, 3, 32, 32]), 2);
  assert.deepEqual(
    batches.map((b) => b['input']?.dims[0]),
    [2, 2, 1],
  );
  await assert.rejects(collectFeeds(m, [{ x: new Tensor('float32', [1, 3, 32, 32]) }]), /no value for model input "input"/);
  await assert.rejects(collectFeeds(m, [{ input: new Tensor('float32', [1, 3, 28, 28]) }]), /expects float32 \[batch, 3, 32, 32\].*\[1, 3, 28, 28\]/);
});

test('foldWeightTransposes stores Transpose(W) as the transposed constant, which dynamic int8 then quantizes', async () => {
  const g = new Graph('t');
  g.inputs.push({ name: 'x', dtype: 'float32', shape: ['N', 2, 3] });
  g.initializers.set('w', Tensor.fromArray('float32', [4, 3], [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]));
  g.nodes.push({ name: 't', opType: 'Transpose', domain: '', inputs: ['w'], outputs: ['wt'], attributes: { perm: attr.ints([1, 0]) } });
  g.nodes.push({ name: 'mm', opType: 'MatMul', domain: '', inputs: ['x', 'wt'], outputs: ['y'], attributes: {} });
  g.outputs.push({ name: 'y', dtype: 'float32', shape: ['N', 2, 4] });
  const m = makeModel(g);
  const folded = foldWeightTransposes(m).graph;
  assert.deepEqual(
    folded.nodes.map((n) => n.opType),
    ['MatMul'],
  );
  assert.deepEqual([...(folded.initializers.get('wt')?.data ?? [])], [1, 4, 7, 10, 2, 5, 8, 11, 3, 6, 9, 12]);
  const q = quantizeDynamic(m);
  assert.deepEqual(
    q.layers.map((l) => l.name),
    ['mm'],
  );
  const x = Tensor.fromArray('float32', [1, 2, 3], [1, -2, 3, 0.5, 0, -1]);
  const ds: TensorDataset = { count: 1, inputs: [{ name: 'x', dtype: 'float32', shape: [2, 3], data: x.data }], labels: undefined, source: 'test' };
  assert.ok((await cosine(q.model, m, ds)) >= 0.999);
});

test('dynamic int8: Transformer MatMuls on [B, T, K] activations and the LSTM (DynamicQuantizeLSTM) keep cosine ≥ 0.99', async () => {
  const tr = load('transformer_encoder.opset13.onnx');
  const q = quantizeDynamic(tr);
  assert.ok(q.layers.length >= 8, `${q.layers.length} layers`);
  assert.ok(
    q.skipped?.some((s) => s.op === 'MatMul' && /both inputs are activations/.test(s.reason)),
    'attention scores MatMul listed as float',
  );
  assert.ok((await cosine(q.model, tr, data(tr, 'transformer_encoder.input.npy', 16))) >= 0.99);
  const lstm = load('lstm.opset17.onnx');
  const ql = quantizeDynamic(lstm);
  assert.ok(ql.model.graph.nodes.some((n) => n.opType === 'DynamicQuantizeLSTM' && n.domain === 'com.microsoft'));
  assert.ok((await cosine(ql.model, lstm, data(lstm, 'lstm.input.npy', 16))) >= 0.99);
  const gru = quantizeDynamic(load('gru.opset17.onnx'));
  assert.deepEqual(
    gru.skipped?.map((s) => s.op),
    ['GRU'],
  );
});

test('dynamic int8 quantizes Gemms inside If branches and leaves the input model untouched', async () => {
  const m = load('if_branch.opset17.onnx');
  const before = encodeModel(m);
  const q = quantizeDynamic(m);
  assert.equal(q.layers.length, 2);
  assert.deepEqual(encodeModel(m), before);
  const iff = q.model.graph.nodes.find((n) => n.opType === 'If');
  const branch = iff?.attributes['then_branch'];
  assert.ok(branch?.type === 'graph' && branch.value.nodes.some((n) => n.opType === 'MatMulInteger'));
  assert.ok((await cosine(q.model, m, data(m, 'if_branch.input.npy', 16))) >= 0.99);
});

test('--exclude by op type keeps every Conv float and lists it', () => {
  const q = quantizeDynamic(load('resnet18.opset17.onnx'), { exclude: ['Conv'] });
  assert.deepEqual(
    q.layers.map((l) => l.op),
    ['Gemm'],
  );
  assert.ok((q.skipped ?? []).length > 10 && q.skipped?.every((s) => s.op === 'Conv' && s.reason.startsWith('excluded')));
});

test('static QDQ on depthwise/residual CNNs: Add and pools quantized, runs in onnxruntime; opset 9 is upgraded to 17, or with opset 9 kept stores weights only', async () => {
  const m = load('mobilenet_v2.opset13.onnx');
  const calib = data(m, 'images32.input.npy', 16);
  const q = await quantizeStatic(m, { samples: calib, threads: 1 });
  const g = q.model.graph;
  const add = g.nodes.find((n) => n.opType === 'Add');
  assert.ok(
    add?.inputs.every((i) => g.producerOf(i)?.opType === 'DequantizeLinear'),
    'residual Add reads dequantized int8',
  );
  const depthwise = g.nodes.filter((n) => n.opType === 'Conv' && n.attributes['group']?.type === 'int' && n.attributes['group'].value > 1);
  assert.ok(depthwise.length > 0 && depthwise.every((n) => g.producerOf(n.inputs[1] as string)?.opType === 'DequantizeLinear'));
  assert.ok((await cosine(q.model, m, calib)) > 0.5);
  const old = load('resnet18.opset9.onnx');
  const up = await quantizeStatic(old, { samples: calib, threads: 1 });
  assert.equal(opsetOf(up.model), 17);
  assert.match(up.notes?.join(' ') ?? '', /opset 9 upgraded to 17/);
  const ug = up.model.graph;
  const convs = ug.nodes.filter((n) => n.opType === 'Conv');
  assert.ok(
    convs.length > 0 &&
      convs.every(
        (n) => ug.producerOf(n.inputs[0] as string)?.opType === 'DequantizeLinear' && ug.producerOf(n.inputs[1] as string)?.opType === 'DequantizeLinear',
      ),
    'every Conv reads a dequantized uint8 input and int8 weight (onnxruntime fuses them into QLinearConv)',
  );
  // 7-bit weights (the default): 0.983 on any x86 CPU (full range: 0.990 where VNNI avoids saturation, less without).
  assert.ok((await cosine(up.model, old, calib)) >= 0.98);
  const q9 = await quantizeStatic(old, { samples: calib, threads: 1, opset: 9 });
  assert.ok(!q9.model.graph.nodes.some((n) => n.opType === 'QuantizeLinear'), 'no activation Q at opset 9');
  assert.match(q9.notes?.join(' ') ?? '', /opset 9 < 10/);
  // No DequantizeLinear left to run on every call: each weight is Cast(int8) × scale, which onnxruntime folds at load.
  assert.ok(!q9.model.graph.nodes.some((n) => n.opType === 'DequantizeLinear'), 'no per-run DequantizeLinear at opset 9');
  const convs9 = q9.model.graph.nodes.filter((n) => n.opType === 'Conv');
  assert.ok(convs9.length > 0 && convs9.every((n) => q9.model.graph.producerOf(n.inputs[1] as string)?.opType === 'Mul'), 'conv weights are Cast × scale');
  const stored = convs9.map((n) => {
    const cast = q9.model.graph.producerOf(q9.model.graph.producerOf(n.inputs[1] as string)?.inputs[0] as string);
    return q9.model.graph.initializers.get(cast?.inputs[0] as string)?.dtype;
  });
  assert.deepEqual(new Set(stored), new Set(['int8']), 'conv weights stored int8');
  assert.ok((await cosine(q9.model, old, calib)) >= 0.99);
});

test('fp16: weights form halves the file, compute form keeps float32 inputs/outputs; both track the float model', async () => {
  const m = load('resnet18.opset17.onnx');
  const ds = data(m, 'images32.input.npy', 16);
  const w = exportFp16(m);
  assert.ok(encodeModel(w).length <= 0.55 * encodeModel(m).length);
  assert.ok((await cosine(w, m, ds)) >= 0.9999);
  const c = exportFp16(m, { mode: 'compute' });
  assert.equal(c.graph.inputs[0]?.dtype, 'float32');
  assert.equal(c.graph.outputs[0]?.dtype, 'float32');
  assert.ok(
    [...c.graph.initializers.values()].filter((t) => t.dims.length === 4).every((t) => t.dtype === 'float16'),
    'conv weights are float16',
  );
  assert.ok((await cosine(c, m, ds)) >= 0.999);
});

test('int4 MatMulNBits for the Transformer’s 3-D MatMuls', async () => {
  const m = load('transformer_encoder.opset17.onnx');
  const q = exportInt4(m);
  assert.equal(q.model.graph.nodes.filter((n) => n.opType === 'MatMulNBits').length, q.layers.length);
  assert.ok((await cosine(q.model, m, data(m, 'transformer_encoder.input.npy', 16))) >= 0.99);
});

test('static int8 of an opset-13 MobileNetV3 (HardSwish spelled x·HardSigmoid(x)) upgrades it to 14: every HardSwish between int8 layers runs in integer ops; opset 13 kept leaves them float', async () => {
  const m = load('mobilenet_v3_small.opset13.onnx');
  const calib = data(m, 'images32.input.npy', 16);
  const q = await quantizeStatic(m, { samples: calib, threads: 1 });
  assert.equal(opsetOf(q.model), 14);
  assert.match(q.notes?.join(' ') ?? '', /opset 13 upgraded to 14/);
  const g = q.model.graph;
  assert.ok(!g.nodes.some((n) => n.opType === 'HardSigmoid'));
  // A HardSwish left as one is in a float region (the classifier head after a float-output Gemm), never between int8 values.
  const left = g.nodes.filter((n) => n.opType === 'HardSwish');
  assert.ok(left.length <= 1 && left.every((n) => g.producerOf(n.inputs[0] as string)?.opType !== 'DequantizeLinear'), `${left.length} HardSwish left`);
  const kept = await quantizeStatic(m, { samples: calib, threads: 1, opset: 13 });
  assert.equal(opsetOf(kept.model), 13);
  assert.ok(kept.model.graph.nodes.some((n) => n.opType === 'HardSigmoid'));
  // A random-weight network: the integer HardSwish may cost a little agreement, not more.
  const [upCos, keptCos] = [await cosine(q.model, m, calib), await cosine(kept.model, m, calib)];
  assert.ok(upCos >= keptCos - 0.02 && upCos > 0.5, `cosine ${upCos} (opset 13 kept: ${keptCos})`);
});

test('integer-kernel weights are 7-bit by default (no uint8×int8 saturation on x86 without VNNI); reduceRange false keeps 8 bits', async () => {
  const m = load('mnist_mobilenet_v3.opset17.onnx');
  const calib = data(m, 'mnist.calib.npy', 16);
  // The largest |code| of the int8 weights each integer Conv reads through a DequantizeLinear.
  const widest = (q: Model): number[] => {
    const g = q.graph;
    return g.nodes
      .filter((n) => n.opType === 'Conv')
      .map((n) => g.producerOf(n.inputs[1] as string))
      .filter((d) => d?.opType === 'DequantizeLinear')
      .map((d) => {
        const t = g.initializers.get(d?.inputs[0] as string);
        assert.equal(t?.dtype, 'int8');
        return Math.max(...Array.from(t?.data as Int8Array, (v) => Math.abs(v)));
      });
  };
  const reduced = await quantizeStatic(m, { samples: calib, threads: 1 });
  const full = await quantizeStatic(m, { samples: calib, threads: 1, reduceRange: false });
  const r = widest(reduced.model);
  assert.ok(r.length > 10);
  // Symmetric per-channel: each channel's largest weight maps to ±63 (7 bits), or ±127 with the full range.
  assert.ok(
    r.every((v) => v === 63),
    r.join(','),
  );
  assert.ok(widest(full.model).every((v) => v === 127));
  // The trained MobileNetV3 on MNIST keeps its outputs: the 7-bit model's cosine to fp32 on held-out samples.
  assert.ok((await cosine(reduced.model, m, data(m, 'mnist.calib.npy', 64))) >= 0.999);
  // Dynamic int8 does the same for the weights its uint8×int8 MatMuls read.
  const dyn = quantizeDynamic(load('transformer_encoder.opset13.onnx'));
  const codes = dyn.model.graph.nodes
    .filter((n) => n.opType === 'MatMulInteger')
    .map((n) => dyn.model.graph.initializers.get(n.inputs[1] as string))
    .filter((t) => t !== undefined);
  assert.ok(codes.length > 0 && codes.every((t) => Math.max(...Array.from(t.data as Int8Array, (v) => Math.abs(v))) <= 63));
});
