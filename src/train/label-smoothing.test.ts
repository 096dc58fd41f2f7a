// Label smoothing against a float64 oracle: one full-batch SGD step of a linear classifier, whose
// loss is −Σ_c t_c log p_c with t = (1 − ε)·one-hot + ε/C and whose logit gradient is p − t.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadIdxDataset, subset } from '../data/index.js';
import { WhittleError } from '../ir/errors.js';
import type { Tensor } from '../ir/tensor.js';
import { createModel } from '../nn/zoo.js';
import { checkLabelSmoothing, withLabelSmoothing } from './label-smoothing.js';
import { train } from './trainer.js';

const data = subset(loadIdxDataset().train, 0, 64);
const LR = 0.5;

/** The loss at the initial weights and the weights after one SGD step, computed in float64. */
function oracle(w: Float32Array, bias: Float32Array, epsilon: number): { loss: number; w: Float64Array; bias: Float64Array } {
  const [C, D, N] = [10, 784, data.count];
  const gw = new Float64Array(C * D);
  const gb = new Float64Array(C);
  let loss = 0;
  for (let n = 0; n < N; n++) {
    const x = Array.from(data.images.subarray(n * D, (n + 1) * D), (v) => v / 255);
    const z = Array.from({ length: C }, (_, c) => bias[c] as number);
    for (let c = 0; c < C; c++) for (let d = 0; d < D; d++) z[c] = (z[c] as number) + (w[c * D + d] as number) * (x[d] as number);
    const m = Math.max(...z);
    const lse = m + Math.log(z.reduce((s, v) => s + Math.exp(v - m), 0));
    for (let c = 0; c < C; c++) {
      const t = (c === data.labels[n] ? 1 - epsilon : 0) + epsilon / C;
      const logp = (z[c] as number) - lse;
      loss -= (t * logp) / N;
      const dz = (Math.exp(logp) - t) / N;
      gb[c] = (gb[c] as number) + dz;
      for (let d = 0; d < D; d++) gw[c * D + d] = (gw[c * D + d] as number) + dz * (x[d] as number);
    }
  }
  return { loss, w: Float64Array.from(w, (v, i) => v - LR * (gw[i] as number)), bias: Float64Array.from(bias, (v, i) => v - LR * (gb[i] as number)) };
}

for (const epsilon of [0, 0.1, 0.3]) {
  test(`label smoothing ${epsilon}: the step's loss and its SGD update match the float64 oracle`, async () => {
    const model = createModel('mlp:784-10', { seed: 2 });
    const [wName, bName] = [...model.graph.initializers.keys()];
    const w0 = model.graph.initializers.get(wName as string) as Tensor;
    const b0 = model.graph.initializers.get(bName as string) as Tensor;
    assert.deepEqual([w0.dims, b0.dims], [[10, 784], [10]]);
    const want = oracle(w0.data as Float32Array, b0.data as Float32Array, epsilon);
    const r = await train(model, data, {
      epochs: 1,
      batchSize: data.count,
      lr: LR,
      optimizer: { kind: 'sgd' },
      normalization: 'x/255',
      threads: 1,
      stepsPerRun: 1,
      labelSmoothing: epsilon,
    });
    assert.ok(Math.abs((r.history[0]?.loss ?? 0) - want.loss) < 1e-5 * want.loss, `loss ${r.history[0]?.loss} vs ${want.loss}`);
    const w1 = r.model.graph.initializers.get(wName as string)?.data as Float32Array;
    const b1 = r.model.graph.initializers.get(bName as string)?.data as Float32Array;
    let worst = 0;
    w1.forEach((v, i) => {
      worst = Math.max(worst, Math.abs(v - (want.w[i] as number)));
    });
    b1.forEach((v, i) => {
      worst = Math.max(worst, Math.abs(v - (want.bias[i] as number)));
    });
    assert.ok(worst < 1e-5, `largest weight difference ${worst}`);
  });
}

test('label smoothing composes with a weighted base loss (distillation) and rejects ε outside [0, 1)', () => {
  assert.equal(withLabelSmoothing(undefined, 0), undefined);
  const base = { baseLossWeight: 0.3, masked: ['fc1.weight'] };
  const s = withLabelSmoothing(base, 0.1);
  assert.ok(Math.abs((s?.baseLossWeight ?? 0) - 0.27) < 1e-12);
  assert.deepEqual(s?.masked, ['fc1.weight']);
  for (const bad of [-0.1, 1, Number.NaN])
    assert.throws(
      () => checkLabelSmoothing(bad),
      (e: unknown) => e instanceof WhittleError && e.code === 'BAD_ARGUMENT' && /label smoothing must be in \[0, 1\)/.test(e.message),
    );
});
