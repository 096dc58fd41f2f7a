// quantizeModel's training schemes on models Whittle did not make.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createRng, createTensorDataset } from '../data/index.js';
import { Tensor } from '../ir/tensor.js';
import { loadModel } from '../load.js';
import { quantizeModel } from './quantize.js';

test("qat trains torchvision's ShuffleNetV2 export (run-time reshape shapes) on a labelled TensorDataset and exports QDQ", async () => {
  // Its channel shuffles reshape to shapes computed from Shape ops: the training step is built with
  // the batch fixed and those folded, and the fake-quantized weights must not fold with them.
  const model = loadModel('test/fixtures/corpus/shufflenet_v2.opset17.onnx');
  const count = 64;
  const rng = createRng(5);
  const x = Float32Array.from({ length: count * 3 * 32 * 32 }, () => rng.next() - 0.5);
  const data = createTensorDataset({
    source: 'noise',
    inputs: [{ name: 'input', dtype: 'float32', shape: [3, 32, 32], data: x }],
    labels: Int32Array.from({ length: count }, (_, i) => i % 10),
  });
  const r = await quantizeModel(model, {
    scheme: 'qat',
    samples: new Tensor('float32', [32, 3, 32, 32], x.slice(0, 32 * 3 * 32 * 32)),
    training: { data, options: { epochs: 1, batchSize: 16, lr: 0.001, optimizer: { kind: 'sgd', momentum: 0.9 }, normalization: 'none', threads: 1 } },
  });
  assert.equal(r.training?.status, 'completed');
  const q = r.model.graph.nodes.filter((n) => n.opType === 'QuantizeLinear').length;
  assert.ok(q >= 20, `${q} QuantizeLinear nodes in the exported model`);
  assert.equal(typeof r.model.graph.inputs[0]?.shape[0], 'string', 'the exported model keeps its symbolic batch');
});
