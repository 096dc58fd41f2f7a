import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { loadDataForModel, tensorBatch } from '../data/index.js';
import type { Model } from '../ir/graph.js';
import { encodeModel } from '../ir/onnx.js';
import { loadModel } from '../load.js';
import { Session } from '../runtime/session.js';
import { compactValueNames } from './compact-names.js';
import { exportFp16 } from './fp16.js';

const CORPUS = fileURLToPath(new URL('../../../test/fixtures/corpus/', import.meta.url));

async function outputsOf(m: Model, file: string): Promise<number[]> {
  const { feeds } = tensorBatch(loadDataForModel(m, `${CORPUS}${file}`), 0, 8);
  const s = await Session.create(m, { threads: 1 });
  try {
    return [...((await s.run(feeds))[m.graph.outputs[0]?.name as string]?.data as Float32Array)];
  } finally {
    await s.release();
  }
}

for (const [model, data] of [
  ['if_branch.opset17.onnx', 'if_branch.input.npy'],
  ['loop.opset17.onnx', 'loop.input.npy'],
  ['mnist_vit.opset17.onnx', 'mnist.calib.npy'],
] as const) {
  test(`short value names keep ${model} computing the same, with the same inputs and outputs, in fewer bytes`, async () => {
    const m = loadModel(`${CORPUS}${model}`);
    const c = compactValueNames(m);
    assert.deepEqual(
      c.graph.inputs.map((v) => v.name),
      m.graph.inputs.map((v) => v.name),
    );
    assert.deepEqual(
      c.graph.outputs.map((v) => v.name),
      m.graph.outputs.map((v) => v.name),
    );
    assert.ok(
      [...c.graph.initializers.keys()].every((k) => /^_[0-9a-z]+$/.test(k)),
      'initializers renamed',
    );
    // Bit-identical outputs: only names changed.
    assert.deepEqual(await outputsOf(c, data), await outputsOf(m, data));
    const [before, after] = [encodeModel(m).length, encodeModel(c).length];
    assert.ok(after < before, `${after} < ${before} bytes`);
    if (model.startsWith('mnist_vit')) {
      // The fp16 ViT's long exporter names were 40% of its file.
      const half = exportFp16(m);
      assert.ok(encodeModel(compactValueNames(half)).length <= 0.55 * before, 'fp16 ViT ≤ 55% of the fp32 bytes');
    }
  });
}
