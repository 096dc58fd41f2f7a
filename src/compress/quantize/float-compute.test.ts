// Static int8's float-compute layers (keepFloat 'auto' picks them): the file stores their weights
// in int8, onnxruntime folds Cast × scale back into a float32 weight at load and runs its float
// convolution, and the outputs are the float model's with those weights dequantized.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { loadDataForModel, tensorBatch } from '../../data/index.js';
import type { Model } from '../../ir/graph.js';
import { loadModelFile } from '../../ir/io.js';
import { encodeModel } from '../../ir/onnx.js';
import { Tensor } from '../../ir/tensor.js';
import { loadModel } from '../../load.js';
import { Session } from '../../runtime/session.js';
import { QDQ_OPS, quantizeStatic } from './static.js';

const CORPUS = fileURLToPath(new URL('../../../../test/fixtures/corpus/', import.meta.url));

/** Op types onnxruntime-node runs for `m` after its optimizations. */
async function optimizedOps(m: Model): Promise<string[]> {
  const dir = mkdtempSync(join(tmpdir(), 'whittle-fc-'));
  try {
    const path = join(dir, 'o.onnx');
    await (await Session.create(m, { threads: 1, optimizedModelPath: path })).release();
    return loadModelFile(path).graph.nodes.map((n) => n.opType);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The oracle: symmetric int8 per output channel (axis 0), written out here, dequantized. */
function dequantizedPerChannel(w: Tensor, axis: number): Tensor {
  const data = w.data as Float32Array;
  const channels = w.dims[axis] as number;
  const inner = w.dims.slice(axis + 1).reduce((a, d) => a * d, 1);
  const out = new Float32Array(data.length);
  const scale = new Float64Array(channels);
  for (let i = 0; i < data.length; i++) {
    const c = Math.floor(i / inner) % channels;
    scale[c] = Math.max(scale[c] as number, Math.abs(data[i] as number) / 127);
  }
  for (let i = 0; i < data.length; i++) {
    const s = Math.fround(scale[Math.floor(i / inner) % channels] as number);
    out[i] = s === 0 ? 0 : Math.max(-127, Math.min(127, Math.round((data[i] as number) / s))) * s;
  }
  return new Tensor('float32', w.dims, out);
}

test('float-compute layers: int8 in the file, a float convolution in onnxruntime, the float model with dequantized weights as output', async () => {
  const m = loadModel(`${CORPUS}mnist_resnet20.opset17.onnx`);
  const ds = loadDataForModel(m, `${CORPUS}mnist.calib.npy`);
  const input = m.graph.inputs[0]?.name as string;
  const samples = tensorBatch(ds, 0, 16).feeds[input] as Tensor;
  const layers = m.graph.nodes.filter((n) => n.opType === 'Conv' || n.opType === 'Gemm');
  // The residual Adds and the pool stay float too (op types in exclude): a model with no int8 compute.
  const all = await quantizeStatic(m, { samples, floatCompute: layers.map((n) => n.name), exclude: [...QDQ_OPS] });
  // Every weight is an int8 initializer; nothing of the model's float32 weights is left.
  const g = all.model.graph;
  for (const n of g.nodes.filter((x) => x.opType === 'Conv' || x.opType === 'Gemm')) {
    const mul = g.producerOf(n.inputs[1] as string);
    const cast = mul === undefined ? undefined : g.producerOf(mul.inputs[0] as string);
    assert.equal(mul?.opType, 'Mul');
    assert.equal(g.initializers.get(cast?.inputs[0] ?? '')?.dtype, 'int8', `${n.name}'s weight is stored in int8`);
  }
  const floatBytes = [...g.initializers.values()].filter((t) => t.dtype === 'float32').reduce((a, t) => a + t.size, 0);
  assert.ok(floatBytes < 0.05 * layers.reduce((a, n) => a + (m.graph.initializers.get(n.inputs[1] as string)?.size ?? 0), 0), 'scales and biases only');
  assert.equal(all.layers.length, layers.length);
  assert.ok((all.skipped ?? []).some((s) => /int8-stored weights/.test(s.reason)));
  // onnxruntime folded Cast × scale: float convolutions on constant weights, no Cast, no QLinearConv.
  const ops = await optimizedOps(all.model);
  assert.ok(!ops.includes('Cast') && !ops.includes('QLinearConv') && !ops.includes('DequantizeLinear'), [...new Set(ops)].join(' '));
  assert.ok(ops.filter((o) => o === 'Conv' || o === 'FusedConv').length >= layers.length - 1);
  // Oracle: the float model with each weight dequantized by the formula above.
  const ref = { ...m, graph: m.graph.clone() };
  for (const n of layers) {
    const name = n.inputs[1] as string;
    const transB = n.opType === 'Gemm' && n.attributes['transB']?.type === 'int' && n.attributes['transB'].value === 1;
    ref.graph.initializers.set(name, dequantizedPerChannel(m.graph.initializers.get(name) as Tensor, n.opType === 'Gemm' && !transB ? 1 : 0));
  }
  const x = { [input]: tensorBatch(ds, 16, 64).feeds[input] as Tensor };
  const [a, b] = [await Session.create(encodeModel(all.model), { threads: 1 }), await Session.create(ref, { threads: 1 })];
  const out = Object.values(await a.run(x))[0] as Tensor;
  const want = Object.values(await b.run(x))[0] as Tensor;
  await a.release();
  await b.release();
  let err = 0;
  for (let i = 0; i < want.size; i++) err = Math.max(err, Math.abs((out.data[i] as number) - (want.data[i] as number)));
  assert.ok(err < 1e-3, `max |err| ${err}`);
});

test('a float-compute first conv beside int8 layers: one float convolution, the rest QLinearConv', async () => {
  const m = loadModel(`${CORPUS}mnist_resnet20.opset17.onnx`);
  const ds = loadDataForModel(m, `${CORPUS}mnist.calib.npy`);
  const samples = tensorBatch(ds, 0, 16).feeds[m.graph.inputs[0]?.name as string] as Tensor;
  const convs = m.graph.nodes.filter((n) => n.opType === 'Conv');
  const first = convs[0]?.name as string;
  const r = await quantizeStatic(m, { samples, floatCompute: [first] });
  const ops = await optimizedOps(r.model);
  assert.equal(ops.filter((o) => o === 'QLinearConv').length, convs.length - 1);
  assert.equal(ops.filter((o) => o === 'Conv' || o === 'FusedConv').length, 1);
  assert.ok(!ops.includes('Cast'));
  assert.equal(r.layers.length, convs.length + 1, 'every layer reported, the first one as int8-stored');
});
