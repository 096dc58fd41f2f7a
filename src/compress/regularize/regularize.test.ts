// The regularizers' gradients against their closed forms: one plain-SGD step on the regularizer
// alone (base loss weight 0) moves each weight by −lr·∂R/∂w.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadIdxDataset, subset } from '../../data/index.js';
import { WhittleError } from '../../ir/errors.js';
import type { Tensor } from '../../ir/tensor.js';
import { createModel } from '../../nn/index.js';
import { train } from '../../train/trainer.js';
import { groupLassoRegularizer, l1Regularizer } from './index.js';

const data = subset(loadIdxDataset().train, 0, 64);
const opts = { epochs: 1, batchSize: 64, lr: 0.1, optimizer: { kind: 'sgd' } as const, normalization: 'x/255' as const, threads: 1, stepsPerRun: 1 };

test('L1: one step moves every weight by −lr·λ·sign(w)', async () => {
  const model = createModel('mlp:784-16-10', { seed: 1 });
  const lambda = 0.01;
  const r = await train(model, data, { ...opts, step: { ...l1Regularizer(model.graph, lambda), baseLossWeight: 0 } });
  for (const w of ['fc1.weight', 'fc2.weight']) {
    const a = (model.graph.initializers.get(w) as Tensor).data as Float32Array;
    const b = (r.model.graph.initializers.get(w) as Tensor).data as Float32Array;
    let maxErr = 0;
    for (let i = 0; i < a.length; i++) {
      // The smooth |w| ≈ √(w² + ε) matches sign(w) to 5e-5 relative once |w| > 1e-2.
      if (Math.abs(a[i] as number) < 1e-2) continue;
      maxErr = Math.max(maxErr, Math.abs((b[i] as number) - ((a[i] as number) - 0.1 * lambda * Math.sign(a[i] as number))));
    }
    assert.ok(maxErr < 1e-6, `${w}: ${maxErr}`);
  }
  // Biases are not regularized.
  assert.deepEqual(r.model.graph.initializers.get('fc1.bias')?.data, model.graph.initializers.get('fc1.bias')?.data);
});

test('group lasso: one step shrinks each neuron row by −lr·λ·√n·w/‖w_row‖', async () => {
  const model = createModel('mlp:784-16-10', { seed: 1 });
  const lambda = 0.01;
  const r = await train(model, data, { ...opts, step: { ...groupLassoRegularizer(model.graph, lambda, ['fc1']), baseLossWeight: 0 } });
  const a = (model.graph.initializers.get('fc1.weight') as Tensor).data as Float32Array;
  const b = (r.model.graph.initializers.get('fc1.weight') as Tensor).data as Float32Array;
  let maxErr = 0;
  for (let row = 0; row < 16; row++) {
    let norm = 0;
    for (let j = 0; j < 784; j++) norm += (a[row * 784 + j] as number) ** 2;
    norm = Math.sqrt(norm);
    for (let j = 0; j < 784; j++) {
      const i = row * 784 + j;
      maxErr = Math.max(maxErr, Math.abs((b[i] as number) - (a[i] as number) * (1 - (0.1 * lambda * Math.sqrt(784)) / norm)));
    }
  }
  assert.ok(maxErr < 1e-6, `max error ${maxErr}`);
  assert.deepEqual(r.model.graph.initializers.get('fc2.weight')?.data, model.graph.initializers.get('fc2.weight')?.data, 'fc2 not in the group set');
});

test('a negative λ is refused', () => {
  assert.throws(
    () => l1Regularizer(createModel('lenet-300-100').graph, -1),
    (e: unknown) => e instanceof WhittleError && e.code === 'BAD_ARGUMENT',
  );
});
