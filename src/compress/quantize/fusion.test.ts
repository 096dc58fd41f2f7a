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
    assert.equal(biasDq.length, convs + m.graph.nodes.filter((n) => n.opType === 'Gemm').length);
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
    assert.equal(int8Weights.length, r.layers.length, 'every int8 weight still dequantized at run time');
    assert.ok(![...g.initializers.values()].some((t) => t.dtype === 'float32' && t.size > 64), 'no float weight tensor');
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
