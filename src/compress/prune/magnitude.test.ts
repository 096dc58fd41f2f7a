// Magnitude pruning against exact counts and the defining order property (every pruned |w| ≤
// every kept |w|), sparse storage against a round trip, and bad input.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { WhittleError } from '../../ir/errors.js';
import type { Model } from '../../ir/graph.js';
import { Graph, makeModel } from '../../ir/graph.js';
import { loadModelFile } from '../../ir/io.js';
import { Tensor } from '../../ir/tensor.js';
import { createModel } from '../../nn/index.js';
import { Session } from '../../runtime/session.js';
import { isLinearLayer, prunableLayers } from './layers.js';
import { magnitudePrune, masksFromZeros } from './magnitude.js';
import { decodeSparse, encodeSparse, sparseStats } from './sparse.js';

const W = ['fc1.weight', 'fc2.weight', 'fc3.weight'];
const data = (m: ReturnType<typeof createModel>, w: string): Float32Array => m.graph.initializers.get(w)?.data as Float32Array;
const zeros = (d: Float32Array): number => d.reduce((a, v) => a + (v === 0 ? 1 : 0), 0);

function orderHolds(arrays: Float32Array[]): boolean {
  const maxPruned = 0;
  let minKept = Infinity;
  for (const a of arrays) for (const v of a) v === 0 ? 0 : (minKept = Math.min(minKept, Math.abs(v)));
  return minKept >= maxPruned;
}

test('layer scope zeros exactly round(s·n) smallest weights per layer and leaves the input untouched', () => {
  const model = createModel('lenet-300-100', { seed: 3 });
  const before = data(model, 'fc1.weight').slice();
  const r = magnitudePrune(model, { sparsity: 0.9 });
  assert.deepEqual(data(model, 'fc1.weight'), before, 'input not mutated');
  for (const w of W) {
    const orig = data(model, w);
    const d = data(r.model, w);
    assert.equal(zeros(d), Math.round(0.9 * d.length), w);
    let maxPruned = 0;
    let minKept = Infinity;
    for (let i = 0; i < d.length; i++) {
      if (d[i] === 0) maxPruned = Math.max(maxPruned, Math.abs(orig[i] as number));
      else {
        assert.equal(d[i], orig[i], 'kept weights are unchanged');
        minKept = Math.min(minKept, Math.abs(d[i] as number));
      }
    }
    assert.ok(maxPruned <= minKept, `${w}: pruned ${maxPruned} > kept ${minKept}`);
    const mask = r.masks.get(w)?.data as Float32Array;
    for (let i = 0; i < d.length; i++) assert.equal(mask[i], d[i] === 0 ? 0 : 1);
  }
  assert.deepEqual(
    r.layers.map((l) => l.name),
    ['fc1', 'fc2', 'fc3'],
  );
  assert.ok(Math.abs((r.layers[0]?.sparsity ?? 0) - 0.9) < 1e-6);
  assert.ok(orderHolds(W.map((w) => data(r.model, w))));
});

test('global scope uses one threshold across layers', () => {
  const model = createModel('lenet-300-100', { seed: 3 });
  const r = magnitudePrune(model, { sparsity: 0.8, scope: 'global' });
  let total = 0;
  let pruned = 0;
  let maxPruned = 0;
  let minKept = Infinity;
  for (const w of W) {
    const orig = data(model, w);
    const d = data(r.model, w);
    total += d.length;
    for (let i = 0; i < d.length; i++) {
      if (d[i] === 0) {
        pruned++;
        maxPruned = Math.max(maxPruned, Math.abs(orig[i] as number));
      } else minKept = Math.min(minKept, Math.abs(d[i] as number));
    }
  }
  assert.equal(pruned, Math.round(0.8 * total));
  assert.ok(maxPruned <= minKept);
  // Layers end up with different sparsities (fc3's Glorot weights are larger than fc1's He weights per fan-in).
  const s = r.layers.map((l) => l.sparsity);
  assert.ok(new Set(s.map((x) => x.toFixed(3))).size > 1, `sparsities ${s.join(', ')}`);
});

test('per-layer sparsities apply to the named layers only', () => {
  const model = createModel('lenet-300-100', { seed: 3 });
  const r = magnitudePrune(model, { perLayer: { fc1: 0.92, fc3: 0.5 } });
  assert.equal(zeros(data(r.model, 'fc1.weight')), Math.round(0.92 * 235200));
  assert.equal(zeros(data(r.model, 'fc2.weight')), 0);
  assert.equal(zeros(data(r.model, 'fc3.weight')), 500);
  assert.deepEqual([...r.masks.keys()].sort(), ['fc1.weight', 'fc3.weight']);
  assert.deepEqual([...masksFromZeros(r.model, ['fc3.weight']).get('fc3.weight')!.data], [...r.masks.get('fc3.weight')!.data]);
});

test('bad input: sparsity outside [0, 1), unknown layer, no prunable layers', () => {
  const model = createModel('lenet-300-100');
  for (const s of [1, -0.1, 1.5, Number.NaN]) {
    assert.throws(
      () => magnitudePrune(model, { sparsity: s }),
      (e: unknown) => e instanceof WhittleError && e.code === 'BAD_ARGUMENT' && /\[0, 1\)/.test(e.message),
    );
  }
  assert.throws(() => magnitudePrune(model, { perLayer: { fc9: 0.5 } }), /no prunable layer named "fc9"; valid layers: fc1, fc2, fc3/);
  const g = new Graph('relu-only');
  g.inputs.push({ name: 'x', dtype: 'float32', shape: ['N', 4] });
  g.nodes.push({ name: 'r', opType: 'Relu', domain: '', inputs: ['x'], outputs: ['y'], attributes: {} });
  g.outputs.push({ name: 'y', dtype: 'float32', shape: ['N', 4] });
  assert.throws(() => magnitudePrune(makeModel(g), { sparsity: 0.5 }), /no prunable layers/);
});

test('sparse storage round-trips and counts bytes exactly', () => {
  const model = magnitudePrune(createModel('lenet-300-100', { seed: 1 }), { sparsity: 0.95 }).model;
  // Long runs of zeros exercise the filler entries of the relative form.
  const runs = new Tensor('float32', [3000]);
  (runs.data as Float32Array)[0] = 1;
  (runs.data as Float32Array)[2999] = -2;
  model.graph.initializers.set('runs', runs);
  model.graph.initializers.set('ones', Tensor.fromArray('float32', [100], new Array(100).fill(1)));
  const s = sparseStats(model);
  let encoded = 0;
  for (const [name, t] of model.graph.initializers) {
    const bytes = encodeSparse(t);
    encoded += bytes.length;
    assert.deepEqual([...decodeSparse(bytes, t.dtype, t.dims).data], [...t.data], name);
  }
  assert.equal(s.sparseBytes, encoded);
  assert.equal(s.denseBytes, (266610 + 3000 + 100) * 4);
  assert.ok(s.sparseBytes < s.denseBytes / 8, `${s.sparseBytes} vs ${s.denseBytes}`);
  assert.equal(s.tensors.find((t) => t.name === 'ones')?.form, 'dense');
  assert.equal(s.tensors.find((t) => t.name === 'ones')?.sparseBytes, 405);
  assert.equal(s.tensors.find((t) => t.name === 'runs')?.form, 'relative');
});

test("a PyTorch LSTM export: the LSTM's input and recurrent weights are layers (NODE.W, NODE.R), pruned by magnitude, and onnxruntime runs the result", async () => {
  const model = loadModelFile('test/fixtures/corpus/mnist_lstm.opset17.onnx');
  const layers = prunableLayers(model.graph);
  assert.deepEqual(
    layers.map((l) => [l.name, l.opType, l.dims]),
    [
      ['/lstm/LSTM.W', 'LSTM', [1, 256, 28]],
      ['/lstm/LSTM.R', 'LSTM', [1, 256, 64]],
      ['/fc/Gemm', 'Gemm', [10, 64]],
    ],
  );
  const { model: pruned } = magnitudePrune(model, { perLayer: { '/lstm/LSTM.R': 0.8, '/lstm/LSTM.W': 0.5 } });
  const w = (m: Model, name: string): Float32Array => m.graph.initializers.get(layers.find((l) => l.name === name)?.weight ?? '')?.data as Float32Array;
  assert.equal(zeros(w(pruned, '/lstm/LSTM.R')), Math.round(0.8 * 256 * 64));
  assert.equal(zeros(w(pruned, '/lstm/LSTM.W')), Math.round(0.5 * 256 * 28));
  assert.equal(zeros(w(pruned, '/fc/Gemm')), 0);
  assert.ok(orderHolds([w(pruned, '/lstm/LSTM.R')]));
  // Still a valid LSTM: onnxruntime runs it, and its outputs moved (the weights it reads changed).
  const x = Tensor.fromArray(
    'float32',
    [2, 1, 28, 28],
    Array.from({ length: 2 * 28 * 28 }, (_, i) => Math.sin(i)),
  );
  const run = async (m: Model): Promise<Float32Array> => {
    const s = await Session.create(m, { threads: 1 });
    const out = await s.run({ [m.graph.inputs[0]?.name ?? '']: x });
    await s.release();
    return Object.values(out)[0]?.data as Float32Array;
  };
  const [a, b] = [await run(model), await run(pruned)];
  assert.equal(a.length, 20);
  assert.ok(b.every(Number.isFinite));
  assert.ok(a.some((v, i) => v !== b[i]));
  // Group lasso and variational dropout act on output channels: they keep to Gemm/MatMul/Conv.
  assert.deepEqual(
    prunableLayers(model.graph)
      .filter(isLinearLayer)
      .map((l) => l.name),
    ['/fc/Gemm'],
  );
});
