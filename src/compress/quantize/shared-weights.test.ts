// A weight shared by several layers stays one tensor through load → quantize → save. Fixture:
// test/fixtures/corpus/tied_weights.opset13.onnx (export_tied.py): a PyTorch export whose
// embedding is also the classifier (read through a Transpose) and whose Linear weight is read by
// two Gemms, once through an Identity (the second name exporters give a shared parameter).
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { loadDataForModel, tensorBatch } from '../../data/index.js';
import type { Model } from '../../ir/graph.js';
import type { Tensor } from '../../ir/tensor.js';
import { saveModel } from '../../ir/io.js';
import { encodeModel } from '../../ir/onnx.js';
import { loadModel } from '../../load.js';
import { Session } from '../../runtime/session.js';
import { quantizeStatic } from './static.js';

const FILE = fileURLToPath(new URL('../../../../test/fixtures/corpus/tied_weights.opset13.onnx', import.meta.url));
const IDS = fileURLToPath(new URL('../../../../test/fixtures/corpus/tied_weights.input.npy', import.meta.url));

async function logits(m: Model | Uint8Array, feeds: Record<string, Tensor>): Promise<Float32Array> {
  const s = await Session.create(m, { threads: 1 });
  try {
    return (await s.run(feeds))['logits']?.data as Float32Array;
  } finally {
    await s.release();
  }
}

test('a tied/shared weight stays one tensor through load, static int8 and save', async () => {
  const m = loadModel(FILE, { shareWeights: true });
  const g = m.graph;
  // Load: the Identity's second name is gone; both Gemms read mix.weight itself.
  assert.deepEqual([...g.initializers.keys()].sort(), ['emb.weight', 'mix.bias', 'mix.weight', 'mix2.bias']);
  const gemms = g.nodes.filter((n) => n.opType === 'Gemm');
  assert.deepEqual(
    gemms.map((n) => n.inputs[1]),
    ['mix.weight', 'mix.weight'],
  );
  assert.ok(encodeModel(m).length <= statSync(FILE).size, 'saving does not grow the file');
  const ds = loadDataForModel(m, IDS);
  const { feeds } = tensorBatch(ds, 0, ds.count);
  assert.deepEqual(await logits(m, feeds), await logits(new Uint8Array(readFileSync(FILE)), feeds));

  // Static int8: the shared 8×8 weight is quantized once and dequantized once for both Gemms; the
  // tied embedding stays one float tensor (Gather reads it), not a float one plus a transposed copy.
  const q = await quantizeStatic(m, { samples: ds, threads: 1 });
  const dir = mkdtempSync(join(tmpdir(), 'whittle-tied-'));
  try {
    const out = join(dir, 'int8.onnx');
    saveModel(q.model, out);
    const r = loadModel(out, { shareWeights: true });
    const int8 = [...r.graph.initializers.values()].filter((t) => t.dtype === 'int8' && t.size > 8);
    assert.equal(int8.length, 1, 'one int8 copy of the shared weight');
    const deqs = r.graph.nodes.filter((n) => n.opType === 'Gemm').map((n) => n.inputs[1]);
    assert.equal(new Set(deqs).size, 1, 'both Gemms read the same DequantizeLinear');
    const bigFloat = [...r.graph.initializers.values()].filter((t) => t.dtype === 'float32' && t.size === 128);
    assert.equal(bigFloat.length, 1, 'the tied embedding/classifier is one tensor');
    const [a, b] = [await logits(m, feeds), await logits(new Uint8Array(readFileSync(out)), feeds)];
    let [ab, aa, bb] = [0, 0, 0];
    for (let i = 0; i < a.length; i++) {
      ab += (a[i] as number) * (b[i] as number);
      aa += (a[i] as number) ** 2;
      bb += (b[i] as number) ** 2;
    }
    assert.ok(ab / Math.sqrt(aa * bb) > 0.999, `cosine ${ab / Math.sqrt(aa * bb)}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
