// HardSigmoid folded into the Conv before it: the same float function, and in static int8 one
// QLinearConv per squeeze-excitation gate instead of QLinearConv → DQ → HardSigmoid → Q.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { loadDataForModel, tensorBatch } from '../../data/index.js';
import type { Model } from '../../ir/graph.js';
import { loadModelFile } from '../../ir/io.js';
import { loadModel } from '../../load.js';
import { quantizeModel } from '../../pipeline/quantize.js';
import { Session } from '../../runtime/session.js';
import { foldHardSigmoid } from './fold-hardsigmoid.js';

const CORPUS = fileURLToPath(new URL('../../../../test/fixtures/corpus/', import.meta.url));

async function outputs(m: Model, feeds: Parameters<Session['run']>[0]): Promise<Float32Array> {
  const s = await Session.create(m, { threads: 1 });
  try {
    return (await s.run(feeds))[m.graph.outputs[0]?.name as string]?.data as Float32Array;
  } finally {
    await s.release();
  }
}

for (const opset of [11, 17]) {
  test(`foldHardSigmoid (opset ${opset}): every SE gate's HardSigmoid becomes Clip(0, 1) after a rescaled Conv; outputs unchanged`, async () => {
    const m = loadModel(`${CORPUS}mnist_mobilenet_v3.opset${opset}.onnx`);
    // A gate's HardSigmoid is the Conv output's only reader (opset 11 exports HardSwish as HardSigmoid × x: the Conv output is read twice, not folded).
    const gates = m.graph.nodes.filter(
      (n) =>
        n.opType === 'HardSigmoid' && m.graph.producerOf(n.inputs[0] as string)?.opType === 'Conv' && m.graph.consumersOf(n.inputs[0] as string).length === 1,
    );
    assert.ok(gates.length > 0, 'the model has squeeze-excitation gates');
    const { model: f, folded } = foldHardSigmoid(m);
    assert.deepEqual(
      folded,
      gates.map((n) => n.name),
    );
    assert.equal(f.graph.nodes.filter((n) => n.opType === 'HardSigmoid').length, m.graph.nodes.filter((n) => n.opType === 'HardSigmoid').length - gates.length);
    assert.equal(f.graph.nodes.filter((n) => n.opType === 'Clip').length, m.graph.nodes.filter((n) => n.opType === 'Clip').length + gates.length);
    const ds = loadDataForModel(m, `${CORPUS}mnist.calib.npy`);
    const { feeds } = tensorBatch(ds, 0, 32);
    const [a, b] = [await outputs(m, feeds), await outputs(f, feeds)];
    let worst = 0;
    for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs((a[i] as number) - (b[i] as number)));
    assert.ok(worst < 1e-4, `max |Δ| ${worst}`);
  });
}

test('static int8 MobileNetV3: onnxruntime runs no HardSigmoid of a gate (only the HardSwish ones), and top-1 agreement stays ≥ 99%', async () => {
  const m = loadModel(`${CORPUS}mnist_mobilenet_v3.opset17.onnx`);
  const ds = loadDataForModel(m, `${CORPUS}mnist.calib.npy`);
  const samples = tensorBatch(ds, 0, 16).feeds[m.graph.inputs[0]?.name as string];
  assert.ok(samples !== undefined);
  const r = await quantizeModel(m, { scheme: 'ptq', samples, threads: 1 });
  const dir = mkdtempSync(join(tmpdir(), 'whittle-hsig-'));
  try {
    const path = join(dir, 'optimized.onnx');
    await (await Session.create(r.model, { threads: 1, optimizedModelPath: path })).release();
    const ops = loadModelFile(path).graph.nodes.map((n) => n.opType);
    // onnxruntime runs each HardSwish left in the file as HardSigmoid × x (those between int8 values
    // are QLinearAdd + QLinearMul: see fusion.test.ts); the gates' HardSigmoids are gone into their QLinearConv.
    const hardSwish = r.model.graph.nodes.filter((n) => n.opType === 'HardSwish').length;
    assert.equal(ops.filter((o) => o === 'HardSigmoid').length, hardSwish);
    assert.ok(!ops.includes('Clip'), 'the Clip is fused into the QLinearConv before it');
    assert.equal(ops.filter((o) => o === 'QLinearConv').length, m.graph.nodes.filter((n) => n.opType === 'Conv').length);
    const { feeds } = tensorBatch(ds, 16, ds.count - 16);
    const [a, b] = [await outputs(m, feeds), await outputs(r.model, feeds)];
    const rows = a.length / 10;
    let agree = 0;
    for (let i = 0; i < rows; i++) {
      const [ra, rb] = [[...a.subarray(10 * i, 10 * i + 10)], [...b.subarray(10 * i, 10 * i + 10)]];
      if (ra.indexOf(Math.max(...ra)) === rb.indexOf(Math.max(...rb))) agree++;
    }
    assert.ok(agree >= 0.99 * rows, `top-1 agreement ${agree}/${rows}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
