// What onnxruntime makes of Whittle's static int8 files: the graph it runs after its QDQ fusions
// (written with optimizedModelPath), and what the file costs in bytes.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { loadDataForModel, tensorBatch } from '../../data/index.js';
import type { Model } from '../../ir/graph.js';
import { loadModelFile } from '../../ir/io.js';
import { encodeModel } from '../../ir/onnx.js';
import { saveModel } from '../../ir/io.js';
import { loadModel } from '../../load.js';
import { quantizeModel } from '../../pipeline/quantize.js';
import { Session } from '../../runtime/session.js';

const CORPUS = fileURLToPath(new URL('../../../../test/fixtures/corpus/', import.meta.url));

/** Op types of the graph onnxruntime-node runs for `m` at the 'all' optimization level. */
async function optimizedOps(m: Model): Promise<string[]> {
  const dir = mkdtempSync(join(tmpdir(), 'whittle-fusion-'));
  try {
    const path = join(dir, 'optimized.onnx');
    const s = await Session.create(m, { threads: 1, optimizedModelPath: path });
    await s.release();
    return loadModelFile(path).graph.nodes.map((n) => n.opType);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

for (const [file, data] of [
  ['mnist_mobilenet_v3.opset17.onnx', 'mnist.calib.npy'],
  ['efficientnet_b0.opset13.onnx', 'images32.input.npy'],
] as const) {
  test(`static int8 ${file}: onnxruntime runs every Conv as QLinearConv, and the bias scales it reads are folded Muls`, async () => {
    const m = loadModel(`${CORPUS}${file}`);
    const ds = loadDataForModel(m, `${CORPUS}${data}`);
    const samples = tensorBatch(ds, 0, 16).feeds[m.graph.inputs[0]?.name as string];
    assert.ok(samples !== undefined);
    const r = await quantizeModel(m, { scheme: 'ptq', samples, threads: 1 });
    const convs = m.graph.nodes.filter((n) => n.opType === 'Conv').length;
    const ops = await optimizedOps(r.model);
    // A Conv whose output no int8 consumer reads (Conv → HardSwish, an SE block's Conv → Sigmoid)
    // ran in float on dequantized weights before its output was quantized too: 27 of 52 in MobileNetV3-Small.
    assert.equal(ops.filter((o) => o === 'QLinearConv').length, convs, `${convs} convolutions, ops: ${[...new Set(ops)].join(' ')}`);
    assert.ok(!ops.includes('Conv') && !ops.includes('FusedConv'), 'no float convolution left');
    // Bias scales are s_x·s_w computed by a Mul of two constants, not stored per channel; the
    // int32 biases are stored in 16 bits or fewer where they fit, widened by a Cast.
    const g = r.model.graph;
    const biasDq = g.nodes.filter(
      (n) =>
        n.opType === 'DequantizeLinear' && (g.initializers.get(n.inputs[0] ?? '')?.dtype === 'int32' || g.producerOf(n.inputs[0] as string)?.opType === 'Cast'),
    );
    assert.ok(biasDq.some((n) => g.producerOf(n.inputs[0] as string)?.opType === 'Cast'));
    // A Gemm whose output stays float (the classifier head) keeps int8-stored weights but no bias DQ: see the test below.
    const floatGemms = (r.skipped ?? []).filter((s) => s.op === 'Gemm' && s.reason.startsWith('computed in float32')).length;
    assert.equal(biasDq.length, convs + m.graph.nodes.filter((n) => n.opType === 'Gemm').length - floatGemms);
    assert.ok(biasDq.every((n) => g.producerOf(n.inputs[1] as string)?.opType === 'Mul'));
    // Outputs track the float model (the random-weight EfficientNet loosely: its activations are wide).
    const { feeds } = tensorBatch(ds, 16, ds.count - 16);
    const run = async (x: Model | Uint8Array): Promise<Float32Array> => {
      const s = await Session.create(x, { threads: 1 });
      try {
        return (await s.run(feeds))[m.graph.outputs[0]?.name as string]?.data as Float32Array;
      } finally {
        await s.release();
      }
    };
    const [a, b] = [await run(m), await run(encodeModel(r.model))];
    let [ab, aa, bb] = [0, 0, 0];
    for (let i = 0; i < a.length; i++) {
      ab += (a[i] as number) * (b[i] as number);
      aa += (a[i] as number) ** 2;
      bb += (b[i] as number) ** 2;
    }
    assert.ok(ab / Math.sqrt(aa * bb) > (file.startsWith('mnist') ? 0.999 : 0.6), `cosine ${ab / Math.sqrt(aa * bb)}`);
    // Node names are dropped, and equal activation zero points are one initializer.
    assert.ok(g.nodes.every((n) => n.name === ''));
    const zeroPoints = [...g.initializers.values()].filter((t) => t.dtype === 'uint8' && t.size === 1).map((t) => t.data[0]);
    assert.equal(new Set(zeroPoints).size, zeroPoints.length);
  });
}

test('loadModel asShipped (info, eval, bench) keeps a QDQ file’s DequantizeLinear of int8 weights: the same graph onnxruntime runs from the file', async () => {
  const m = loadModel(`${CORPUS}mnist_resnet20.opset17.onnx`);
  const ds = loadDataForModel(m, `${CORPUS}mnist.calib.npy`);
  const samples = tensorBatch(ds, 0, 16).feeds[m.graph.inputs[0]?.name as string];
  assert.ok(samples !== undefined);
  const r = await quantizeModel(m, { scheme: 'ptq', samples, threads: 1 });
  const dir = mkdtempSync(join(tmpdir(), 'whittle-shipped-'));
  try {
    const file = join(dir, 'int8.onnx');
    saveModel(r.model, file);
    const shipped = loadModel(file, { asShipped: true });
    const g = shipped.graph;
    const int8Weights = g.nodes.filter((n) => n.opType === 'DequantizeLinear' && g.initializers.get(n.inputs[0] ?? '')?.dtype === 'int8');
    // The last Gemm computes in float from int8-stored weights (Cast × scale): no DequantizeLinear of its own.
    assert.equal(int8Weights.length, r.layers.length - 1, 'every int8 weight but the float-output Gemm’s still dequantized at run time');
    // No float weight tensor but the head's, which loading folds from Cast(int8) × scale as onnxruntime does.
    const floatWeights = [...g.initializers.values()].filter((t) => t.dtype === 'float32' && t.size > 64);
    assert.deepEqual(
      floatWeights.map((t) => t.dims),
      [[10, 32]],
    );
    // What eval runs is what the file runs: identical outputs.
    const { feeds } = tensorBatch(ds, 16, 16);
    const run = async (x: Uint8Array): Promise<Float32Array> => {
      const s = await Session.create(x, { threads: 1 });
      try {
        return (await s.run(feeds))[m.graph.outputs[0]?.name as string]?.data as Float32Array;
      } finally {
        await s.release();
      }
    };
    assert.deepEqual(await run(encodeModel(shipped)), await run(new Uint8Array(readFileSync(file))));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a Gemm whose output stays float (the classifier head) computes from int8-stored weights: onnxruntime runs no DequantizeLinear for it', async () => {
  const m = loadModel(`${CORPUS}mnist_resnet20.opset17.onnx`);
  const ds = loadDataForModel(m, `${CORPUS}mnist.calib.npy`);
  const samples = tensorBatch(ds, 0, 16).feeds[m.graph.inputs[0]?.name as string];
  assert.ok(samples !== undefined);
  const r = await quantizeModel(m, { scheme: 'ptq', samples, threads: 1 });
  const head = m.graph.nodes.find((n) => n.opType === 'Gemm');
  assert.ok(head !== undefined);
  assert.match((r.skipped ?? []).find((s) => s.node === head.name)?.reason ?? '', /int8-stored weights/);
  assert.equal(r.layers.find((l) => l.name === head.name)?.bits, 8, 'its weights are stored in int8');
  const dir = mkdtempSync(join(tmpdir(), 'whittle-gemm-'));
  try {
    const path = join(dir, 'optimized.onnx');
    await (await Session.create(r.model, { threads: 1, optimizedModelPath: path })).release();
    const g = loadModelFile(path).graph;
    const gemm = g.nodes.find((n) => n.opType === 'Gemm');
    assert.ok(gemm !== undefined, 'the head runs as a float Gemm');
    // Before: DequantizeLinear of its input, weight and bias on every run (QGemm needs a quantized output).
    for (const v of gemm.inputs.slice(1)) assert.ok(g.initializers.get(v)?.dtype === 'float32', `Gemm input ${v} is a folded float32 constant`);
    assert.ok(g.nodes.filter((n) => n.opType === 'DequantizeLinear').length <= 1, 'at most the activation is dequantized');
    // Outputs still track the float model.
    const { feeds } = tensorBatch(ds, 16, 64);
    const out = async (x: Model | Uint8Array): Promise<Float32Array> => {
      const s = await Session.create(x, { threads: 1 });
      try {
        return (await s.run(feeds))[m.graph.outputs[0]?.name as string]?.data as Float32Array;
      } finally {
        await s.release();
      }
    };
    const [a, b] = [await out(m), await out(encodeModel(r.model))];
    const top1 = (x: Float32Array, i: number): number => {
      const row = x.subarray(10 * i, 10 * i + 10);
      return row.indexOf(Math.max(...row));
    };
    let agree = 0;
    for (let i = 0; i < 64; i++) if (top1(a, i) === top1(b, i)) agree++;
    assert.ok(agree >= 63, `top-1 agreement ${agree}/64`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('ShuffleNet’s channel shuffle and split (Reshape → Transpose → Reshape → Slice) run on uint8 between integer kernels; Shape reads the uint8 value', async () => {
  const m = loadModel(`${CORPUS}shufflenet_v2.opset17.onnx`);
  const ds = loadDataForModel(m, `${CORPUS}images32.input.npy`);
  const samples = tensorBatch(ds, 0, 16).feeds[m.graph.inputs[0]?.name as string];
  assert.ok(samples !== undefined);
  const r = await quantizeModel(m, { scheme: 'ptq', samples, threads: 1 });
  const dir = mkdtempSync(join(tmpdir(), 'whittle-shuffle-'));
  try {
    const path = join(dir, 'optimized.onnx');
    await (await Session.create(r.model, { threads: 1, optimizedModelPath: path })).release();
    const g = loadModelFile(path).graph;
    const count = (op: string): number => g.nodes.filter((n) => n.opType === op).length;
    const convs = m.graph.nodes.filter((n) => n.opType === 'Conv').length;
    assert.equal(count('QLinearConv'), convs);
    // Before: the shuffle ran in float between a DequantizeLinear and a QuantizeLinear, and each
    // Shape of a quantized value read a DequantizeLinear of its own (74 of them).
    assert.ok(count('DequantizeLinear') <= 1, `${count('DequantizeLinear')} DequantizeLinear left (the head's input only)`);
    assert.ok(count('QuantizeLinear') <= 1, `${count('QuantizeLinear')} QuantizeLinear left (the graph input only)`);
    const producers = new Map(g.nodes.flatMap((n) => n.outputs.map((o) => [o, n] as const)));
    for (const n of g.nodes.filter((x) => x.opType === 'Slice'))
      assert.notEqual(producers.get(n.inputs[0] as string)?.opType, 'DequantizeLinear', 'a Slice reads uint8');
    // The file tracks the float model (random weights, wide activations). With 7-bit weights (reduceRange, the
    // default) 0.72 on any x86 CPU; full-range weights gave 0.83 on a CPU with VNNI but 0.36 on an AVX2 one
    // without, where onnxruntime's uint8×int8 products saturate.
    const { feeds } = tensorBatch(ds, 16, ds.count - 16);
    const run = async (x: Model | Uint8Array): Promise<Float32Array> => {
      const s = await Session.create(x, { threads: 1 });
      try {
        return (await s.run(feeds))[m.graph.outputs[0]?.name as string]?.data as Float32Array;
      } finally {
        await s.release();
      }
    };
    const [a, b] = [await run(m), await run(encodeModel(r.model))];
    let [ab, aa, bb] = [0, 0, 0];
    for (let i = 0; i < a.length; i++) {
      ab += (a[i] as number) * (b[i] as number);
      aa += (a[i] as number) ** 2;
      bb += (b[i] as number) ** 2;
    }
    assert.ok(ab / Math.sqrt(aa * bb) > 0.7, `cosine ${ab / Math.sqrt(aa * bb)}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('HardSwish between int8 values runs as QLinearAdd + QLinearMul (onnxruntime has no integer HardSwish); the trained MobileNetV3 keeps its accuracy', async () => {
  const m = loadModel(`${CORPUS}mnist_mobilenet_v3.opset17.onnx`);
  const calib = loadDataForModel(m, `${CORPUS}mnist.calib.npy`);
  const samples = tensorBatch(calib, 0, 16).feeds[m.graph.inputs[0]?.name as string];
  assert.ok(samples !== undefined);
  const r = await quantizeModel(m, { scheme: 'ptq', samples, threads: 1 });
  const hardSwish = m.graph.nodes.filter((n) => n.opType === 'HardSwish').length;
  assert.ok(hardSwish > 0);
  // In the file: each HardSwish fed by a DequantizeLinear and read by a QuantizeLinear is x · DQ(Q(x + 3)).
  const g = r.model.graph;
  const left = g.nodes.filter((n) => n.opType === 'HardSwish').length;
  assert.ok(left < hardSwish, `${left} of ${hardSwish} HardSwish left`);
  const sixth = g.nodes.filter(
    (n) => n.opType === 'DequantizeLinear' && Math.abs((g.initializers.get(n.inputs[1] as string)?.data[0] as number) - 1 / 255) < 1e-9,
  );
  assert.equal(sixth.length, hardSwish - left, 'one hardsigmoid read back at a sixth of its scale per rewritten HardSwish');
  // What onnxruntime runs: no float HardSigmoid/Mul pair (its expansion of HardSwish) on dequantized values.
  const ops = await optimizedOps(r.model);
  const count = (op: string): number => ops.filter((o) => o === op).length;
  assert.equal(count('HardSigmoid'), left, `ops: ${[...new Set(ops)].join(' ')}`);
  assert.ok(count('QLinearAdd') >= hardSwish - left, `${count('QLinearAdd')} QLinearAdd`);
  assert.ok(count('QLinearMul') >= hardSwish - left, `${count('QLinearMul')} QLinearMul`);
  // Accuracy on 2,000 labelled MNIST test images: within 0.5 points of float, ≥ 99% top-1 agreement.
  const test = loadDataForModel(m, `${CORPUS}mnist.test2000.npz`);
  const { feeds, labels } = tensorBatch(test, 0, test.count);
  assert.ok(labels !== undefined);
  // Raw uint8 pixels (as cast to float32): standardized as the model was trained (MNIST mean/std, as mnist.calib.npy).
  for (const t of Object.values(feeds)) for (let i = 0; i < t.size; i++) t.data[i] = ((t.data[i] as number) / 255 - 0.1307) / 0.3081;
  const predict = async (x: Model | Uint8Array): Promise<number[]> => {
    const s = await Session.create(x, { threads: 1 });
    try {
      const out = (await s.run(feeds))[m.graph.outputs[0]?.name as string]?.data as Float32Array;
      const k = out.length / test.count;
      return Array.from({ length: test.count }, (_, i) => {
        const row = out.subarray(k * i, k * i + k);
        return row.indexOf(Math.max(...row));
      });
    } finally {
      await s.release();
    }
  };
  const [a, b] = [await predict(m), await predict(encodeModel(r.model))];
  const acc = (p: number[]): number => p.filter((c, i) => c === labels[i]).length / p.length;
  const agree = a.filter((c, i) => c === b[i]).length / a.length;
  assert.ok(agree >= 0.99, `top-1 agreement ${agree}, accuracy ${acc(a)} → ${acc(b)}`);
  assert.ok(acc(a) - acc(b) <= 0.005, `accuracy ${acc(a)} → ${acc(b)}`);
});
