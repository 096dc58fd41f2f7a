// The compression hooks of the training step: masks keep pruned weights at exactly zero (also
// through the K-step Loop), extra loss terms change the gradient as their math says, and
// callbacks can change masks between runs.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadIdxDataset, subset } from '../data/index.js';
import { attr } from '../ir/graph.js';
import { Tensor } from '../ir/tensor.js';
import { createModel } from '../nn/index.js';
import { train } from './trainer.js';

const mnist = loadIdxDataset();
const data = subset(mnist.train, 0, 1024);
const base = { epochs: 1, batchSize: 64, lr: 0.05, optimizer: { kind: 'sgd', momentum: 0.9 } as const, normalization: 'x/255' as const, threads: 1 };

function halfMask(dims: readonly number[]): Tensor {
  const t = new Tensor('float32', dims);
  const d = t.data as Float32Array;
  for (let i = 0; i < d.length; i++) d[i] = i % 2;
  return t;
}

for (const stepsPerRun of [1, 8]) {
  test(`masked weights stay exactly zero and unmasked ones train (stepsPerRun ${stepsPerRun})`, async () => {
    const model = createModel('lenet-300-100', { seed: 2 });
    const w0 = model.graph.initializers.get('fc1.weight') as Tensor;
    const mask = halfMask(w0.dims);
    const r = await train(model, data, { ...base, stepsPerRun, step: { masked: ['fc1.weight'] }, extraFeeds: new Map([['fc1.weight.mask', mask]]) });
    const w = r.model.graph.initializers.get('fc1.weight')?.data as Float32Array;
    let zeros = 0;
    let moved = 0;
    for (let i = 0; i < w.length; i++) {
      if (i % 2 === 0) zeros += w[i] === 0 ? 1 : 0;
      else moved += w[i] !== w0.data[i] ? 1 : 0;
    }
    assert.equal(zeros, w.length / 2, 'every masked weight is exactly 0');
    assert.ok(moved > w.length / 4, 'unmasked weights are updated');
  });
}

test('an extra L2 loss term equals coupled weight decay (same parameters)', async () => {
  const lambda = 1e-3;
  // Σ_p λ/2·‖p‖² has gradient λ·p: exactly SGD's weightDecay λ.
  const l2 = await train(createModel('lenet-300-100', { seed: 4 }), data, {
    ...base,
    optimizer: { kind: 'sgd' },
    step: {
      extraLoss: ({ b, params, dtype }) => {
        const terms = params.map((p) => b.op1('ReduceSum', [b.op1('Mul', [p, p])], { keepdims: attr.int(0) }));
        return [b.op1('Mul', [b.op1('Sum', terms), b.constant(Tensor.scalar(dtype, lambda / 2), 'half_lambda')])];
      },
    },
  });
  const wd = await train(createModel('lenet-300-100', { seed: 4 }), data, { ...base, optimizer: { kind: 'sgd', weightDecay: lambda } });
  const a = l2.model.graph.initializers.get('fc2.weight')?.data as Float32Array;
  const b = wd.model.graph.initializers.get('fc2.weight')?.data as Float32Array;
  let maxDiff = 0;
  for (let i = 0; i < a.length; i++) maxDiff = Math.max(maxDiff, Math.abs((a[i] as number) - (b[i] as number)));
  assert.ok(maxDiff < 1e-5, `max difference ${maxDiff}`);
  // The reported loss includes the regularizer, so it is larger.
  assert.ok((l2.history[0]?.loss ?? 0) > (wd.history[0]?.loss ?? 0));
});

test('a callback can change a mask between runs; its effect is visible in the next run', async () => {
  const model = createModel('lenet-300-100', { seed: 5 });
  const dims = (model.graph.initializers.get('fc3.weight') as Tensor).dims;
  let runs = 0;
  const r = await train(model, data, {
    ...base,
    stepsPerRun: 4,
    step: { masked: ['fc3.weight'] },
    callbacks: [
      {
        onStepEnd: (ctx) => {
          runs++;
          if (ctx.globalStep === 8) ctx.extraFeeds.set('fc3.weight.mask', new Tensor('float32', dims));
        },
      },
    ],
  });
  assert.equal(runs, 4, '16 steps in runs of 4');
  const w = r.model.graph.initializers.get('fc3.weight')?.data as Float32Array;
  assert.ok(
    w.every((v) => v === 0),
    'the all-zero mask set after step 8 zeroed the layer',
  );
});
