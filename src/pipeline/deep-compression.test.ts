import assert from 'node:assert/strict';
import { test } from 'node:test';
import { WhittleError } from '../ir/errors.js';
import { loadModelFile } from '../ir/io.js';
import { createModel } from '../nn/index.js';
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
    (e: unknown) => e instanceof WhittleError && /pattern "layers\?0\*" matches no Gemm\/Conv\/MatMul node.*\/stem\/stem\.0\/Conv/.test(e.message),
  );
});
