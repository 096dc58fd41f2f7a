import assert from 'node:assert/strict';
import { mkdtempSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { createTensorDataset, loadIdxDataset, splitValidation, subset } from '../data/index.js';
import { WhittleError } from '../ir/errors.js';
import { loadModelFile } from '../ir/io.js';
import { createModel } from '../nn/index.js';
import { compressToContainer } from './container.js';
import { expandLayerPlans } from './deep-compression.js';

test('expandLayerPlans: a pattern plans every matching Gemm/Conv/MatMul in graph order; named layers keep their own entry', () => {
  const lenet = createModel('lenet-5');
  assert.deepEqual(expandLayerPlans(lenet, [{ layer: '*', sparsity: 0.5, bits: 5 }]), [
    { layer: 'conv1', sparsity: 0.5, bits: 5 },
    { layer: 'conv2', sparsity: 0.5, bits: 5 },
    { layer: 'fc1', sparsity: 0.5, bits: 5 },
    { layer: 'fc2', sparsity: 0.5, bits: 5 },
  ]);
  // Named entries first, whatever their place in the list; the first matching pattern wins.
  assert.deepEqual(
    expandLayerPlans(lenet, [
      { layer: 'conv*', sparsity: 0.3, bits: 8 },
      { layer: '*', sparsity: 0.9, bits: 4 },
      { layer: 'fc2', sparsity: 0.1, bits: 6 },
    ]),
    [
      { layer: 'fc2', sparsity: 0.1, bits: 6 },
      { layer: 'conv1', sparsity: 0.3, bits: 8 },
      { layer: 'conv2', sparsity: 0.3, bits: 8 },
      { layer: 'fc1', sparsity: 0.9, bits: 4 },
    ],
  );
  // No pattern: the list as given.
  const plain = [{ layer: 'fc1', sparsity: 0.9, bits: 5 }];
  assert.deepEqual(expandLayerPlans(lenet, plain), plain);
});

test('expandLayerPlans on a PyTorch export: names with dots and slashes match literally, only * is special', () => {
  const resnet = loadModelFile('test/fixtures/corpus/mnist_resnet20.opset17.onnx');
  const all = expandLayerPlans(resnet, [{ layer: '*', sparsity: 0.6, bits: 5 }]);
  const weighted = resnet.graph.nodes.filter((n) => ['Conv', 'Gemm', 'MatMul'].includes(n.opType) && resnet.graph.initializers.has(n.inputs[1] ?? ''));
  assert.equal(all.length, weighted.length);
  assert.ok(all.length >= 20, `${all.length} layers`);
  const downsample = expandLayerPlans(resnet, [{ layer: '*/downsample.0/Conv', sparsity: 0.2, bits: 6 }]);
  assert.deepEqual(
    downsample.map((p) => p.layer),
    weighted.map((n) => n.name).filter((n) => n.endsWith('/downsample.0/Conv')),
  );
  assert.equal(downsample.length, 2);
  // "?" is literal too (no node is named so), and a pattern that matches nothing is an error that lists the layers.
  assert.throws(
    () => expandLayerPlans(resnet, [{ layer: 'layers?0*', sparsity: 0.5, bits: 5 }]),
    (e: unknown) => e instanceof WhittleError && /pattern "layers\?0\*" matches no layer with a weight initializer.*\/stem\/stem\.0\/Conv/.test(e.message),
  );
});

test("deepCompress on a PyTorch LSTM export: '*' plans the LSTM's W and R beside the Gemm, both pruned and shared, and the container decodes to it", async () => {
  const model = loadModelFile('test/fixtures/corpus/mnist_lstm.opset17.onnx');
  const plans = expandLayerPlans(model, [{ layer: '*', sparsity: 0.5, bits: 5 }]);
  assert.deepEqual(
    plans.map((p) => p.layer),
    ['/lstm/LSTM.W', '/lstm/LSTM.R', '/fc/Gemm'],
  );
  // A weight named by its initializer takes its own entry, also against a pattern.
  const wName = model.graph.nodes.find((n) => n.opType === 'LSTM')?.inputs[1] ?? '';
  assert.deepEqual(
    expandLayerPlans(model, [
      { layer: '*', sparsity: 0.5, bits: 5 },
      { layer: wName, sparsity: 0.2, bits: 7 },
    ]).map((p) => [p.layer, p.bits]),
    [
      [wName, 7],
      ['/lstm/LSTM.R', 5],
      ['/fc/Gemm', 5],
    ],
  );
  // Own labelled samples as the export was trained on them (MNIST mean/std): train on 1,500, validate on 500.
  const mnist = subset(loadIdxDataset().train, 0, 2000);
  const all = createTensorDataset({
    inputs: [{ name: 'input', dtype: 'float32', shape: [1, 28, 28], data: Float32Array.from(mnist.images, (v) => (v / 255 - 0.1307) / 0.3081) }],
    labels: Int32Array.from(mnist.labels),
    source: 'MNIST as own mean/std samples',
  });
  const { train, validation } = splitValidation(all, 0.25, { seed: 0 });
  const out = mkdtempSync(join(tmpdir(), 'whittle-dc-lstm-'));
  const run = await compressToContainer(
    model,
    { train, validation, test: validation },
    {
      out,
      layers: [{ layer: '*', sparsity: 0.5, bits: 5 }],
      prune: { method: 'agp', epochs: 1, lr: 0.01 },
      centroids: { epochs: 1, lr: 0.001 },
      batchSize: 64,
      optimizer: { kind: 'sgd', momentum: 0.9 },
      normalization: 'none',
      threads: 1,
    },
  );
  const byName = new Map(run.layers.map((l) => [l.name, l]));
  for (const name of ['/lstm/LSTM.W', '/lstm/LSTM.R', '/fc/Gemm']) {
    const l = byName.get(name);
    assert.ok(l !== undefined, `${name} in ${[...byName.keys()].join(', ')}`);
    assert.equal(l.bits, 5, name);
    assert.ok(Math.abs(l.sparsity - 0.5) < 0.01, `${name}: sparsity ${l.sparsity}`);
  }
  // Shared: each recurrent weight holds at most 2^5 distinct values, zero among them.
  const decoded = loadModelFile(run.onnx);
  const lstm = decoded.graph.nodes.find((n) => n.opType === 'LSTM');
  for (const slot of [1, 2]) {
    const values = new Set(decoded.graph.initializers.get(lstm?.inputs[slot] ?? '')?.data as Float32Array);
    assert.ok(values.size <= 32 && values.has(0), `input ${slot}: ${values.size} distinct values`);
  }
  assert.equal(run.breakdown.bytes, statSync(run.container).size);
  assert.ok(run.denseBytes / run.breakdown.bytes > 5, `ratio ${run.denseBytes / run.breakdown.bytes}`);
  // Still a working classifier after one short epoch of each stage (the input scores ~0.97 here).
  assert.ok(run.accuracy > 0.8, `accuracy ${run.accuracy} (input ${run.baselineAccuracy})`);
});

test('expandLayerPlans: a weight two layers read (tied) is planned once, by the first layer that reads it', () => {
  const model = createModel('lenet-300-100', { seed: 1 });
  const g = model.graph.clone();
  // fc2 reads fc1's weight too (shapes aside: planning reads names, not values).
  const fc2 = g.nodes.find((n) => n.name === 'fc2');
  const fc1w = g.nodes.find((n) => n.name === 'fc1')?.inputs[1] ?? '';
  assert.ok(fc2 !== undefined && fc1w !== '');
  fc2.inputs = [fc2.inputs[0] as string, fc1w, ...fc2.inputs.slice(2)];
  const tied = { ...model, graph: g };
  assert.deepEqual(
    expandLayerPlans(tied, [{ layer: '*', sparsity: 0.5, bits: 5 }]).map((p) => p.layer),
    ['fc1', 'fc3'],
  );
  // Named by the second reader, the weight keeps that entry and no pattern plans it again.
  assert.deepEqual(
    expandLayerPlans(tied, [
      { layer: '*', sparsity: 0.5, bits: 5 },
      { layer: 'fc2', sparsity: 0.9, bits: 4 },
    ]).map((p) => [p.layer, p.bits]),
    [
      ['fc2', 4],
      ['fc3', 5],
    ],
  );
});
