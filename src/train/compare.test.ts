import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createTensorDataset } from '../data/index.js';
import { attr, Graph, makeModel } from '../ir/graph.js';
import { Tensor } from '../ir/tensor.js';
import { compareModels, evaluateTensors } from './compare.js';

/** y = x · W (2 inputs' worth of features → 3 classes), with named inputs a and b added first. */
function twoInputModel(w: number[], dtype: 'float32' | 'float16' = 'float32') {
  const g = new Graph('m');
  g.inputs.push({ name: 'a', dtype: 'float32', shape: ['N', 2] }, { name: 'b', dtype: 'float32', shape: ['N', 2] });
  g.initializers.set('w', Tensor.fromArray('float32', [2, 3], w));
  g.nodes.push({ name: 'add', opType: 'Add', domain: '', inputs: ['a', 'b'], outputs: ['s'], attributes: {} });
  g.nodes.push({ name: 'mm', opType: 'MatMul', domain: '', inputs: ['s', 'w'], outputs: [dtype === 'float16' ? 'y32' : 'y'], attributes: {} });
  if (dtype === 'float16') g.nodes.push({ name: 'c', opType: 'Cast', domain: '', inputs: ['y32'], outputs: ['y'], attributes: { to: attr.int(10) } });
  g.outputs.push({ name: 'y', dtype, shape: ['N', 3] });
  return makeModel(g);
}

// Samples: s = a + b = (1, 0) and (0, 1). Reference W rows (1, 2, 3) and (3, 0, 0): y = (1, 2, 3), (3, 0, 0).
const data = createTensorDataset({
  source: 'hand',
  inputs: [
    { name: 'a', dtype: 'float32', shape: [2], data: Float32Array.of(0.5, 0, 0, 0.25) },
    { name: 'b', dtype: 'float32', shape: [2], data: Float32Array.of(0.5, 0, 0, 0.75) },
  ],
  labels: Int32Array.of(2, 2),
});

test('compareModels on a two-input model: agreement and accuracies match the hand computation', async () => {
  const reference = twoInputModel([1, 2, 3, 3, 0, 0]);
  // Model W rows (1, 2, 4) and (0, 0, 4): y = (1, 2, 4), (0, 0, 4) — the agreement test's numbers.
  const model = twoInputModel([1, 2, 4, 0, 0, 4]);
  const cmp = await compareModels(model, reference, data, { threads: 1, batchSize: 1 });
  assert.equal(cmp.samples, 2);
  const y = cmp.outputs[0]!;
  assert.equal(y.name, 'y');
  // The same figures as agreement.test.ts with model and reference swapped (symmetric except SQNR).
  assert.equal(y.top1, 0.5);
  assert.ok(Math.abs(y.cosine - 17 / Math.sqrt(294) / 2) < 1e-6);
  assert.equal(y.maxAbsError, 4);
  assert.ok(Math.abs(y.meanAbsError - 8 / 6) < 1e-6);
  assert.ok(Math.abs(y.sqnrDb - 10 * Math.log10((1 + 4 + 9 + 9) / 26)) < 1e-6);
  // Labels (2, 2): the model predicts 2 and 2, the reference 2 and 0.
  assert.equal(cmp.accuracy, 1);
  assert.equal(cmp.referenceAccuracy, 0.5);
});

test('a float16 output is decoded before comparing; evaluateTensors reports shapes and accuracy', async () => {
  const w = [1, 2, 3, 3, 0, 0];
  const cmp = await compareModels(twoInputModel(w, 'float16'), twoInputModel(w), data, { threads: 1 });
  assert.equal(cmp.outputs[0]!.exact, true);
  const r = await evaluateTensors(twoInputModel(w), data, { threads: 1 });
  assert.deepEqual(r.outputs, [{ name: 'y', dtype: 'float32', dims: [2, 3] }]);
  assert.equal(r.accuracy, 0.5);
});

test('a recurrent state [layers, N, hidden] gets cosine and errors, not top-1 agreement, even when N equals the layer count', async () => {
  const g = new Graph('rnn-like');
  g.inputs.push({ name: 'x', dtype: 'float32', shape: ['N', 4] });
  g.initializers.set('axes', Tensor.fromArray('int64', [1], [0n]));
  g.nodes.push({ name: 'y', opType: 'Identity', domain: '', inputs: ['x'], outputs: ['y'], attributes: {} });
  g.nodes.push({ name: 'u', opType: 'Unsqueeze', domain: '', inputs: ['x', 'axes'], outputs: ['u'], attributes: {} });
  g.nodes.push({ name: 'hn', opType: 'Concat', domain: '', inputs: ['u', 'u'], outputs: ['hn'], attributes: { axis: attr.int(0) } });
  g.outputs.push({ name: 'y', dtype: 'float32', shape: ['N', 4] }, { name: 'hn', dtype: 'float32', shape: [2, 'N', 4] });
  const m = makeModel(g);
  const ds = createTensorDataset({ source: 'hand', inputs: [{ name: 'x', dtype: 'float32', shape: [4], data: Float32Array.of(1, 2, 3, 4, 4, 3, 2, 1) }] });
  // Batches of 2: hn is [2, 2, 4], shaped like class scores for 2 samples; its declared fixed 2 says it is not.
  const cmp = await compareModels(m, m, ds, { threads: 1, batchSize: 2 });
  const [y, hn] = cmp.outputs;
  assert.equal(y?.top1, 1);
  assert.equal(hn?.top1, undefined);
  assert.equal(hn?.cosine, 1);
  assert.equal(hn?.maxAbsError, 0);
});
