// k-means sharing against oracles: Lloyd's fixed point on a known data set, and the shared
// training graph's centroid gradient equal to the sum of its members' dense gradients.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { addGradients } from '../../autodiff/gradients.js';
import { attr, Graph, GraphBuilder, makeModel } from '../../ir/graph.js';
import type { Model } from '../../ir/graph.js';
import { Tensor } from '../../ir/tensor.js';
import { createModel } from '../../nn/index.js';
import { Session } from '../../runtime/session.js';
import { readContainer } from '../codec/index.js';
import { writeKmeansContainer } from './container.js';
import { kmeans1d } from './kmeans.js';
import { magnitudePrune } from '../prune/index.js';
import { kmeansShareWeights, readCodebooks, sharedTrainingModel } from './share.js';
import { createRng, createTensorDataset } from '../../data/index.js';
import { loadModel } from '../../load.js';
import { train } from '../../train/trainer.js';

test('kmeans1d: linear init over [min, max], converges to the cluster means', () => {
  const v = Float32Array.of(-1, -0.9, -0.8, 0.1, 0.2, 0.9, 1.0);
  const { centroids, assignment } = kmeans1d(v, 3);
  assert.deepEqual([...assignment], [0, 0, 0, 1, 1, 2, 2]);
  assert.deepEqual(
    [...centroids],
    [Math.fround(-0.9), Math.fround(0.15), Math.fround(0.95)].map((x) => Math.fround(x)),
  );
  // Every value sits at its nearest centroid (the fixed point of Lloyd's iteration).
  v.forEach((x, i) => {
    const best = [...centroids].reduce((b, c, j) => (Math.abs(x - c) < Math.abs(x - (centroids[b] as number)) ? j : b), 0);
    assert.equal(assignment[i], best);
  });
});

function tinyModel(): Model {
  const g = new Graph('tiny');
  g.inputs.push({ name: 'x', dtype: 'float32', shape: ['N', 6] });
  g.initializers.set(
    'fc.weight',
    Tensor.fromArray(
      'float32',
      [4, 6],
      Array.from({ length: 24 }, (_, i) => Math.sin(i * 1.7) * (i % 5 === 0 ? 0.01 : 1)),
    ),
  );
  g.initializers.set('fc.bias', Tensor.fromArray('float32', [4], [0.1, -0.1, 0.2, 0]));
  g.nodes.push({ name: 'fc', opType: 'Gemm', domain: '', inputs: ['x', 'fc.weight', 'fc.bias'], outputs: ['logits'], attributes: { transB: attr.int(1) } });
  g.outputs.push({ name: 'logits', dtype: 'float32', shape: ['N', 4] });
  return makeModel(g);
}

/** d(Σ logits·r)/d(param) for each param, run in ORT. */
async function grads(model: Model, params: string[], x: Tensor): Promise<Map<string, Float32Array>> {
  const g = model.graph.clone();
  const b = new GraphBuilder(g, 'loss');
  const r = b.constant(
    Tensor.fromArray(
      'float32',
      [3, 4],
      Array.from({ length: 12 }, (_, i) => Math.cos(i)),
    ),
    'r',
  );
  const loss = b.op1('ReduceSum', [b.op1('Mul', ['logits', r])], { keepdims: attr.int(0) });
  for (const p of params) {
    const t = g.initializers.get(p) as Tensor;
    g.initializers.delete(p);
    g.inputs.push({ name: p, dtype: 'float32', shape: [...t.dims] });
  }
  const d = addGradients(g, loss, params);
  g.outputs = params.map((p) => ({ name: d.get(p) as string, dtype: 'float32', shape: [...(model.graph.initializers.get(p) as Tensor).dims] }));
  const s = await Session.create(makeModel(g), { threads: 1 });
  const feeds: Record<string, Tensor> = { x };
  for (const p of params) feeds[p] = model.graph.initializers.get(p) as Tensor;
  const out = await s.run(feeds);
  await s.release();
  return new Map(params.map((p) => [p, out[d.get(p) as string]?.data as Float32Array]));
}

test('shared training graph: each centroid gets the sum of its members’ gradients; pruned weights none', async () => {
  const { model: pruned } = magnitudePrune(tinyModel(), { perLayer: { 'fc.weight': 0.25 } });
  const { model: q, shared } = kmeansShareWeights(pruned, new Map([['fc.weight', 2]]));
  const w = shared.get('fc.weight');
  assert.ok(w);
  assert.equal([...w.assignment].filter((c) => c < 0).length, 6, '25% of 24 weights pruned');
  const x = Tensor.fromArray(
    'float32',
    [3, 6],
    Array.from({ length: 18 }, (_, i) => Math.cos(i * 0.3)),
  );
  const dense = (await grads(q, ['fc.weight'], x)).get('fc.weight') as Float32Array;
  const tm = sharedTrainingModel(q, shared);
  const cb = (await grads(tm, ['fc.weight.codebook'], x)).get('fc.weight.codebook') as Float32Array;
  const want = new Float64Array(w.codebook.length);
  w.assignment.forEach((c, i) => {
    if (c >= 0) want[c]! += dense[i] as number;
  });
  want.forEach((v, k) => assert.ok(Math.abs(v - (cb[k] as number)) < 1e-5, `centroid ${k}: ${cb[k]} vs Σ members ${v}`));
  // The training model computes the same function as the quantized dense model.
  const run = async (m: Model): Promise<number[]> => {
    const s = await Session.create(m, { threads: 1 });
    const out = await s.run({ x });
    await s.release();
    return [...(out['logits']?.data as Float32Array)];
  };
  assert.deepEqual(await run(tm), await run(q));
});

test('writeKmeansContainer: every layer shares ≤ 2^bits values, the file decodes to the quantized model', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'whittle-km-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'm.wtl');
  const { model: q, breakdown } = writeKmeansContainer(createModel('mlp:784-30-10', { seed: 2 }), path, { bits: 3 });
  assert.equal(breakdown.bytes, statSync(path).size);
  const d = readContainer(path);
  for (const w of ['fc1.weight', 'fc2.weight']) {
    const values = (q.graph.initializers.get(w) as Tensor).data as Float32Array;
    assert.ok(new Set(values).size <= 8, `${w} has ${new Set(values).size} distinct values`);
    assert.deepEqual([...((d.model.graph.initializers.get(w) as Tensor).data as Float32Array)], [...values]);
  }
});

test("writeKmeansContainer's default layers take a PyTorch LSTM export's input and recurrent weights beside its Gemm", (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'whittle-km-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'lstm.wtl');
  const model = loadModel('test/fixtures/corpus/mnist_lstm.opset17.onnx');
  const lstm = model.graph.nodes.find((n) => n.opType === 'LSTM');
  const { model: q, shared } = writeKmeansContainer(model, path, { bits: 4 });
  const weights = [lstm?.inputs[1], lstm?.inputs[2], 'fc.weight'] as string[];
  assert.deepEqual([...shared.keys()].sort(), [...weights].sort());
  const d = readContainer(path);
  for (const w of weights) {
    const values = (q.graph.initializers.get(w) as Tensor).data as Float32Array;
    assert.ok(new Set(values).size <= 16, `${w} has ${new Set(values).size} distinct values`);
    assert.deepEqual([...((d.model.graph.initializers.get(w) as Tensor).data as Float32Array)], [...values]);
  }
  // 4-bit indices in place of 32-bit floats: the file is far below the dense 24,714 parameters × 4 bytes.
  assert.ok(statSync(path).size < 0.2 * 24_714 * 4, `${statSync(path).size} bytes`);
});

test('centroid fine-tune of a model whose gradient needs run-time shapes (ShuffleNetV2): the codebook trains, the computed constants stay', async () => {
  // The trainer rebuilds ShuffleNetV2's step with its batch fixed and its shape computations
  // folded; the shared-weight graph's own constant Unsqueeze folds too and must stay a constant.
  const model = loadModel('test/fixtures/corpus/shufflenet_v2.opset17.onnx');
  const conv = model.graph.nodes.find((n) => n.opType === 'Conv' && n.name.includes('stage3'))?.inputs[1] as string;
  const { model: quantized, shared } = kmeansShareWeights(model, new Map([[conv, 4]]));
  const student = sharedTrainingModel(quantized, shared);
  const rng = createRng(5);
  const count = 32;
  const ds = createTensorDataset({
    source: 'noise',
    inputs: [{ name: 'input', dtype: 'float32', shape: [3, 32, 32], data: Float32Array.from({ length: count * 3 * 32 * 32 }, () => rng.next() - 0.5) }],
    labels: Int32Array.from({ length: count }, (_, i) => i % 10),
  });
  const r = await train(student, ds, { epochs: 1, batchSize: 16, lr: 0.01, optimizer: { kind: 'sgd', momentum: 0.9 }, normalization: 'none', threads: 1 });
  assert.equal(r.status, 'completed');
  const before = (shared.get(conv) as { codebook: Float32Array }).codebook;
  const after = readCodebooks(r.model, shared).get(conv)?.codebook as Float32Array;
  assert.equal(after.length, 16);
  assert.ok(
    after.some((v, i) => v !== before[i]),
    'the codebook was trained',
  );
});
