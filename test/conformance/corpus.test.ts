// The model corpus (test/fixtures/corpus: PyTorch exports of torchvision CNNs, LSTM/GRU, If and
// Loop models at opsets 9–17): every model loads, `info` knows every shape (rules, else
// onnxruntime's probe), and load → save computes exactly what the original computes.
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { encodeModel } from '../../src/ir/onnx.js';
import { modelStats } from '../../src/ir/stats.js';
import { Tensor } from '../../src/ir/tensor.js';
import { loadModel } from '../../src/load.js';
import { SHAPE_RULES } from '../../src/ops/index.js';
import { runtimeShapes } from '../../src/runtime/probe.js';
import { Session } from '../../src/runtime/session.js';

const CORPUS = process.env['WHITTLE_CORPUS'] ?? new URL('../../../test/fixtures/corpus/', import.meta.url).pathname;
/** FLOPs inside If/Loop/Scan bodies are not counted yet. */
const CONTROL_FLOW = new Set(['If', 'Loop', 'Scan']);
const files = existsSync(CORPUS)
  ? readdirSync(CORPUS)
      .filter((f) => f.endsWith('.onnx'))
      .sort()
  : [];

/** Deterministic float inputs, the symbolic (batch) dims set to 2. */
function sampleFeeds(model: ReturnType<typeof loadModel>): Record<string, Tensor> {
  const feeds: Record<string, Tensor> = {};
  for (const v of model.graph.inputs) {
    const dims = v.shape.map((d) => (typeof d === 'number' ? d : 2));
    const t = new Tensor(v.dtype, dims);
    // Token ids stay 0 (valid for any embedding); floats get varied values.
    if (v.dtype === 'float32') for (let i = 0; i < t.size; i++) (t.data as Float32Array)[i] = Math.sin(i * 0.37);
    feeds[v.name] = t;
  }
  return feeds;
}

for (const file of files) {
  test(`corpus ${file}: load → info (every shape known) → save computes what the original computes`, async () => {
    const path = join(CORPUS, file);
    const model = loadModel(path);
    const stats = modelStats(model, SHAPE_RULES, { known: await runtimeShapes(model, SHAPE_RULES) });
    assert.equal(stats.unknownShapeNodes, 0, 'every value has a shape');
    assert.ok(stats.params > 0);
    if (!Object.keys(stats.ops).some((op) => CONTROL_FLOW.has(op))) assert.ok(stats.flops > 0, 'FLOPs counted');
    const feeds = sampleFeeds(model);
    const original = await Session.create(new Uint8Array(readFileSync(path)), { threads: 1 });
    const saved = await Session.create(encodeModel(model), { threads: 1 });
    const want = await original.run(feeds);
    const got = await saved.run(feeds);
    await original.release();
    await saved.release();
    for (const [name, w] of Object.entries(want)) {
      const g = got[name];
      assert.ok(g !== undefined, `output ${name}`);
      assert.deepEqual(g.dims, w.dims);
      for (let i = 0; i < w.size; i++)
        assert.ok(Math.abs(Number(g.data[i]) - Number(w.data[i])) <= 1e-5 + 1e-5 * Math.abs(Number(w.data[i])), `${name}[${i}]: ${g.data[i]} vs ${w.data[i]}`);
    }
  });
}
