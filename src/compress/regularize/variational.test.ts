// Sparse variational dropout against oracles: the KL approximation's closed form and its
// derivative by central differences (the in-graph gradient after one plain-SGD step), the local
// reparameterization's mean and variance (empirical, over many noise draws), the log α threshold.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadIdxDataset, subset } from '../../data/index.js';
import type { Graph, Model } from '../../ir/graph.js';
import { Tensor } from '../../ir/tensor.js';
import { createModel } from '../../nn/index.js';
import { Session } from '../../runtime/session.js';
import { train } from '../../train/trainer.js';
import { KL_K1, klApproximation, logAlpha, logSigma2Name, sparsifyVariational, type VariationalModel, variationalKL, variationalModel } from './index.js';

test('KL approximation: the paper’s closed form, decreasing in log α, ≈ 0 once the weight is pure noise', () => {
  const sig = (x: number): number => 1 / (1 + Math.exp(-x));
  for (const la of [-6, -2, 0, 1.5, 4]) {
    const want = -(KL_K1 * sig(1.8732 + 1.48695 * la) - 0.5 * Math.log(1 + Math.exp(-la)) - KL_K1);
    assert.ok(Math.abs(klApproximation(la) - want) < 1e-12, `log α ${la}`);
  }
  for (let la = -8; la < 8; la += 0.5) assert.ok(klApproximation(la + 0.5) < klApproximation(la), `decreasing at ${la}`);
  assert.ok(klApproximation(8) < 1e-3);
  // Clipped at ±8 as in the paper's code.
  assert.equal(klApproximation(20), klApproximation(8));
});

test('in-graph KL: one SGD step on the KL alone moves log σ² and w by −lr·λ·∂KL (central differences of the closed form)', async () => {
  const model = createModel('mlp:784-16-10', { seed: 3 });
  const vm = variationalModel(model, { seed: 1 });
  // Spread log α over (−6, 6) so every part of the curve is checked.
  const g = vm.model.graph.clone();
  for (const l of vm.layers) {
    const w = (g.initializers.get(l.weight) as Tensor).data as Float32Array;
    g.initializers.set(
      l.logSigma2,
      new Tensor(
        'float32',
        [...(g.initializers.get(l.logSigma2) as Tensor).dims],
        w.map((v, i) => Math.log(v * v + 1e-8) + 6 * Math.sin(i * 0.37)),
      ),
    );
  }
  const start: Model = { ...vm.model, graph: g };
  const lr = 0.5;
  const lambda = 0.01;
  const data = subset(loadIdxDataset().train, 0, 64);
  const r = await train(start, data, {
    epochs: 1,
    batchSize: 64,
    lr,
    optimizer: { kind: 'sgd' },
    normalization: 'x/255',
    threads: 1,
    stepsPerRun: 1,
    step: { ...variationalKL(vm, lambda), baseLossWeight: 0 },
  });
  const h = 1e-3;
  const dKL = (la: number): number => (klApproximation(la + h) - klApproximation(la - h)) / (2 * h);
  let checked = 0;
  for (const l of vm.layers) {
    const w0 = (g.initializers.get(l.weight) as Tensor).data as Float32Array;
    const s0 = (g.initializers.get(l.logSigma2) as Tensor).data as Float32Array;
    const w1 = (r.model.graph.initializers.get(l.weight) as Tensor).data as Float32Array;
    const s1 = (r.model.graph.initializers.get(l.logSigma2) as Tensor).data as Float32Array;
    const la = logAlpha(w0, s0);
    for (let i = 0; i < w0.length; i += 7) {
      const a = la[i] as number;
      if (Math.abs(a) > 7.9) continue;
      const w = w0[i] as number;
      const g2 = dKL(a);
      const wantS = (s0[i] as number) - lr * lambda * g2;
      const wantW = w - lr * lambda * g2 * ((-2 * w) / (w * w + 1e-8));
      assert.ok(Math.abs((s1[i] as number) - wantS) < 2e-5, `${l.logSigma2}[${i}]: ${s1[i]} vs ${wantS}`);
      assert.ok(Math.abs((w1[i] as number) - wantW) < 2e-5 * Math.max(1, Math.abs(wantW)), `${l.weight}[${i}]: ${w1[i]} vs ${wantW}`);
      checked++;
    }
  }
  assert.ok(checked > 1000, `${checked} weights checked`);
});

test('local reparameterization: each output is Normal(x·w + b, Σ x²·σ²) (empirical over 4,000 draws)', async () => {
  const model = createModel('mlp:6-3', { seed: 2, inChannels: 6, inputSize: 1 });
  const vm = variationalModel(model, { initLogAlpha: -1, seed: 5 });
  const layer = vm.layers[0];
  assert.ok(layer !== undefined && vm.layers.length === 1);
  const x = Array.from({ length: 6 }, (_, i) => 0.5 + Math.cos(i));
  const n = 4000;
  const input = Tensor.fromArray(
    'float32',
    [n, 6, 1, 1],
    Array.from({ length: n * 6 }, (_, i) => x[i % 6] as number),
  );
  const run = async (m: Model): Promise<Float32Array> => {
    const s = await Session.create(m, { threads: 1 });
    const inName = (m.graph.inputs[0] as { name: string }).name;
    const out = await s.run({ [inName]: input });
    await s.release();
    return out[(m.graph.outputs[0] as { name: string }).name]?.data as Float32Array;
  };
  const mean = await run(model);
  const noisy = await run(vm.model);
  const w = (vm.model.graph.initializers.get(layer.weight) as Tensor).data as Float32Array;
  const s2 = (vm.model.graph.initializers.get(layer.logSigma2) as Tensor).data as Float32Array;
  const dims = (vm.model.graph.initializers.get(layer.weight) as Tensor).dims;
  for (let j = 0; j < 3; j++) {
    let sum = 0;
    let sq = 0;
    for (let r = 0; r < n; r++) {
      const v = (noisy[r * 3 + j] as number) - (mean[j] as number);
      sum += v;
      sq += v * v;
    }
    // Variance oracle: Σ_i x_i² σ_ij², the weight stored [out, in] (Gemm transB) or [in, out].
    let want = 0;
    for (let i = 0; i < 6; i++) {
      const k = dims[0] === 3 ? j * 6 + i : i * 3 + j;
      want += (x[i] as number) ** 2 * Math.exp(s2[k] as number);
    }
    assert.ok(Math.abs(sum / n) < 4 * Math.sqrt(want / n), `output ${j}: mean offset ${sum / n}`);
    assert.ok(Math.abs(sq / n / want - 1) < 0.1, `output ${j}: variance ${sq / n} vs ${want}`);
    assert.ok(w.length === 18);
  }
  // Back to the inference graph: no noise, same initializers.
  const back = sparsifyVariational(vm.model, vm, { threshold: 1e9 }).model;
  assert.deepEqual([...(await run(back))], [...mean]);
});

/**
 * An MLP's variational form whose log σ² is set so that log α = 0, 2, 4, 6 by position (i mod 4):
 * thresholding at 3 drops exactly the last two of every four weights.
 */
function logAlphaByPosition(): { model: Model; vm: VariationalModel; g: Graph } {
  const model = createModel('mlp:784-16-10', { seed: 1 });
  const vm = variationalModel(model);
  const g = vm.model.graph.clone();
  for (const l of vm.layers) {
    const w = (g.initializers.get(l.weight) as Tensor).data as Float32Array;
    const dims = [...(g.initializers.get(l.weight) as Tensor).dims];
    g.initializers.set(
      l.logSigma2,
      new Tensor(
        'float32',
        dims,
        w.map((v, i) => Math.log(v * v + 1e-8) + (i % 4) * 2),
      ),
    );
  }
  return { model, vm, g };
}

test('sparsify: exactly the weights with log α > 3 become zero; the graph is the source graph again', () => {
  const { model, vm, g } = logAlphaByPosition();
  const { model: sparse, sparsity } = sparsifyVariational({ ...vm.model, graph: g }, vm);
  assert.equal(sparse.graph.nodes.length, model.graph.nodes.length);
  assert.ok(![...sparse.graph.initializers.keys()].some((k) => k === logSigma2Name('fc1.weight')));
  for (const l of vm.layers) {
    const before = (model.graph.initializers.get(l.weight) as Tensor).data as Float32Array;
    const after = (sparse.graph.initializers.get(l.weight) as Tensor).data as Float32Array;
    // log α = 0, 2, 4, 6 by position: the last two of every four are dropped.
    after.forEach((v, i) => assert.equal(v, i % 4 >= 2 ? 0 : before[i]));
    assert.ok(Math.abs((sparsity[l.weight] as number) - 0.5) < 0.01);
  }
});

test('sparsify with maxSparsity: a capped weight keeps the dropped weights of lowest log α back to the cap; others are thresholded as before', () => {
  const { model, vm, g } = logAlphaByPosition();
  const capped = { ...vm.model, graph: g };
  // A cap above what log α drops changes nothing.
  const loose = sparsifyVariational(capped, vm, { maxSparsity: { 'fc1.weight': 0.9 } });
  assert.ok(Math.abs((loose.sparsity['fc1.weight'] as number) - 0.5) < 0.01);
  const { model: sparse, sparsity } = sparsifyVariational(capped, vm, { maxSparsity: { 'fc1.weight': 0.25 } });
  const before = (model.graph.initializers.get('fc1.weight') as Tensor).data as Float32Array;
  const after = (sparse.graph.initializers.get('fc1.weight') as Tensor).data as Float32Array;
  // log α = 0, 2, 4, 6 by position: capped at 25%, only the log α = 6 quarter is dropped.
  after.forEach((v, i) => assert.equal(v, i % 4 === 3 ? 0 : before[i]));
  assert.equal(sparsity['fc1.weight'], 0.25);
  assert.ok(Math.abs((sparsity['fc2.weight'] as number) - 0.5) < 0.01);
});
