// Recovery from a non-finite loss: the run goes back to a kept state, halves the learning rate and
// replays the same batches (bit-identical to a clean run at the halved rate from that state);
// `recover: false` fails at once; a NaN that keeps coming back stops after a bounded number of
// halvings with the last good state checkpointed.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { createRng } from '../data/rng.js';
import { loadIdxDataset, subset } from '../data/index.js';
import { WhittleError } from '../ir/errors.js';
import { Tensor } from '../ir/tensor.js';
import { createModel } from '../nn/zoo.js';
import { loadCheckpoint } from './checkpoint.js';
import { BLOW_UP_FACTOR, BlowUpDetector, CollapseDetector } from './recovery.js';
import type { TrainCallback, TrainOptions } from './trainer.js';
import { train } from './trainer.js';

const mnist = loadIdxDataset();
const data = subset(mnist.train, 0, 512);
const base: TrainOptions = {
  epochs: 1,
  batchSize: 32,
  lr: 0.05,
  optimizer: { kind: 'sgd', momentum: 0.9 },
  normalization: 'x/255',
  threads: 1,
  stepsPerRun: 4,
  seed: 3,
};

/** After the run ending at step `at` (or every run when `at` is undefined), sets fc1's weights to NaN. */
function poison(at: number | undefined): TrainCallback & { fired: number } {
  return {
    fired: 0,
    onStepEnd(ctx) {
      if (at !== undefined && (ctx.globalStep !== at || this.fired > 0)) return;
      this.fired++;
      const w = ctx.state.get('fc1.weight') as Tensor;
      ctx.state.set('fc1.weight', new Tensor(w.dtype, w.dims, new Float32Array(w.size).fill(Number.NaN)));
    },
  };
}

test('a non-finite loss is undone: back to the kept state, half the rate, same batches = a clean run at half the rate', async () => {
  const cb = poison(8);
  const recovered = await train(createModel('mlp:784-32-10'), data, { ...base, callbacks: [cb] });
  assert.equal(cb.fired, 1);
  // The run after step 8 starts on the poisoned weights: its first loss (step 9) is NaN; the only
  // state kept this epoch (16 steps, states ≥ 16 steps apart) is the one before step 1.
  assert.deepEqual(recovered.recoveries, [{ epoch: 1, step: 9, reason: 'non-finite', loss: Number.NaN, restoredStep: 0, lr: 0.025 }]);
  assert.equal(recovered.status, 'completed');
  const clean = await train(createModel('mlp:784-32-10'), data, { ...base, lr: 0.025 });
  assert.deepEqual(clean.recoveries, []);
  for (const [name, t] of clean.model.graph.initializers) assert.deepEqual(recovered.model.graph.initializers.get(name)?.data, t.data, name);
  assert.equal(recovered.history[0]?.loss, clean.history[0]?.loss, 'the undone steps are not counted in the epoch loss');
});

test('recover: false stops with NAN_LOSS at the first non-finite loss', async () => {
  await assert.rejects(train(createModel('mlp:784-32-10'), data, { ...base, recover: false, callbacks: [poison(8)] }), (e: unknown) => {
    assert.ok(e instanceof WhittleError, String(e));
    assert.equal(e.code, 'NAN_LOSS');
    assert.match(e.message, /^the loss became NaN at epoch 1, step 9 \(learning rate 0\.05\); lower the learning rate \(e\.g\. 0\.005\)/);
    return true;
  });
});

test('a NaN that keeps coming back stops after maxRecoveries halvings, the last good state checkpointed', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'whittle-recovery-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const checkpointPath = join(dir, 'run.ckpt');
  const halvings: number[] = [];
  await assert.rejects(
    train(createModel('mlp:784-32-10'), data, {
      ...base,
      epochs: 2,
      maxRecoveries: 3,
      checkpointPath,
      callbacks: [poison(undefined)],
      onProgress: (e) => e.type === 'recovery' && halvings.push(e.recovery.lr),
    }),
    (e: unknown) => {
      assert.ok(e instanceof WhittleError, String(e));
      assert.equal(e.code, 'NAN_LOSS');
      assert.match(e.message, /again after 3 halvings of the learning rate; the last good state \(step 0\) is saved in .*run\.ckpt/);
      return true;
    },
  );
  assert.deepEqual(halvings, [0.025, 0.0125, 0.00625]);
  const ck = loadCheckpoint<{ globalStep: number; epoch: number; recoveries: unknown[]; lrScale: number }>(checkpointPath);
  assert.equal(ck.meta.globalStep, 0);
  assert.equal(ck.meta.epoch, 0);
  assert.equal(ck.meta.recoveries.length, 3);
  assert.equal(ck.meta.lrScale, 0.125);
  const w = ck.tensors.get('fc1.weight')?.data as Float32Array;
  assert.ok(w.length === 784 * 32 && w.every(Number.isFinite), 'the saved weights are the good ones');
  assert.deepEqual(w, createModel('mlp:784-32-10').graph.initializers.get('fc1.weight')?.data, 'step 0 is the initial model');
});

test('a really diverging run (LeNet-5, lr 0.2, no warm-up) recovers and learns', async () => {
  const r = await train(createModel('lenet-5', { seed: 1 }), subset(mnist.train, 0, 2048), { ...base, lr: 0.2, seed: 0 });
  assert.ok(r.recoveries.length >= 1 && r.recoveries.length <= 8, JSON.stringify(r.recoveries));
  r.recoveries.forEach((x, i) => assert.equal(x.lr, 0.2 / 2 ** (i + 1)));
  for (const x of r.recoveries) assert.ok(x.restoredStep < x.step);
  for (const t of r.model.graph.initializers.values()) if (t.dtype === 'float32') assert.ok((t.data as Float32Array).every(Number.isFinite));
  assert.ok(Number.isFinite(r.history[0]?.loss) && (r.history[0]?.trainAccuracy ?? 0) > 0.5, JSON.stringify(r.history));
});

/** After the run ending at step `at`, multiplies the last layer's weights by `factor` (a finite blow-up). */
function inflate(at: number, factor: number): TrainCallback & { fired: number } {
  return {
    fired: 0,
    onStepEnd(ctx) {
      if (ctx.globalStep !== at || this.fired > 0) return;
      this.fired++;
      const w = ctx.state.get('fc2.weight') as Tensor;
      ctx.state.set(
        'fc2.weight',
        new Tensor(
          w.dtype,
          w.dims,
          (w.data as Float32Array).map((v) => v * factor),
        ),
      );
    },
  };
}

test('a finite blow-up (loss ×100 without NaN) is undone like a NaN: back, half the rate, same batches', async () => {
  // 32 steps: the detector judges only after 16 steps, so the jump comes after step 20.
  const more = subset(mnist.train, 0, 1024);
  const cb = inflate(20, 3000);
  const recovered = await train(createModel('mlp:784-32-10'), more, { ...base, callbacks: [cb] });
  assert.equal(cb.fired, 1);
  const [r, ...rest] = recovered.recoveries;
  assert.deepEqual(rest, []);
  assert.ok(r !== undefined && r.reason === 'blow-up' && Number.isFinite(r.loss) && r.loss > 100, JSON.stringify(recovered.recoveries));
  assert.deepEqual({ ...r, loss: 0 }, { epoch: 1, step: 21, reason: 'blow-up', loss: 0, restoredStep: 0, lr: 0.025 });
  const clean = await train(createModel('mlp:784-32-10'), more, { ...base, lr: 0.025 });
  for (const [name, t] of clean.model.graph.initializers) assert.deepEqual(recovered.model.graph.initializers.get(name)?.data, t.data, name);
  // Without recovery a finite loss is not an error: the run goes on (and pays for the jump).
  const strict = await train(createModel('mlp:784-32-10'), more, { ...base, recover: false, callbacks: [inflate(20, 3000)] });
  assert.deepEqual(strict.recoveries, []);
});

test('BlowUpDetector: a ×100 jump over the recent losses and above the first is flagged; descent, tiny-loss noise and one hard batch are not', () => {
  const descent = [2.3, 2.1, 1.8, 1.2, 0.9, 0.6, 0.5, 0.4, 0.35, ...new Array<number>(20).fill(0.3)];
  const after = (losses: number[]): BlowUpDetector => {
    const d = new BlowUpDetector();
    for (const l of losses) assert.equal(d.check(l), false, `${l}`);
    return d;
  };
  assert.equal(after(descent).check(0.3 * BLOW_UP_FACTOR * 0.5), false, 'a jump to 15 (×50) is not one');
  assert.equal(after(descent).check(0.3 * BLOW_UP_FACTOR * 3), true, 'a jump to 90 after 0.3 is');
  // Converged runs wobble by orders of magnitude at tiny losses without diverging.
  const calm = after([2.3, 0.5, 0.1, 0.01, 1e-3, ...new Array<number>(20).fill(1e-4)]);
  assert.equal(calm.check(0.05), false, '500× a tiny loss but below the first: not a blow-up');
  // A well-fit model being fine-tuned: first loss 0.01, one hard batch at 0.3 among 0.003s.
  const fine = after([0.01, ...new Array<number>(20).fill(0.003), 0.3]);
  assert.equal(fine.check(0.003), false);
  assert.equal(fine.check(0.3 * 0.9), false, 'the recent maximum includes the hard batch');
  assert.equal(after([0.01, ...new Array<number>(20).fill(0.003)]).check(5), true, '5 after 0.003s and above the first 0.01');
  // The first steps are never judged: there is nothing recent to compare with.
  const early = new BlowUpDetector();
  assert.equal(early.check(1), false);
  assert.equal(early.check(1000), false);
});

// LeNet-300-100 at mean/std inputs, batch 16, lr 0.1 on 8,192 samples: training accuracy climbs to
// ~60%, then falls back to ~20% with a finite loss (the network dies); unguarded it ends at 10.1%
// on the held-out samples (measured with the collapse check switched off), with no NaN to catch.
const collapsing: TrainOptions = {
  epochs: 1,
  batchSize: 16,
  lr: 0.1,
  optimizer: { kind: 'sgd', momentum: 0.9, nesterov: true },
  normalization: 'mnist-mean-std',
  schedule: { schedule: { kind: 'cosine' }, warmupSteps: 20 },
  threads: 1,
  stepsPerRun: 16,
  seed: 0,
};
const collapseData = subset(mnist.train, 0, 8192);
const collapseVal = subset(mnist.train, 50_000, 2000);

test('a silent collapse (finite loss, accuracy back to chance) is undone: back, half the rate, and the run learns', async () => {
  const r = await train(createModel('lenet-300-100', { seed: 0 }), collapseData, { ...collapsing, validation: collapseVal });
  const collapses = r.recoveries.filter((x) => x.reason === 'collapse');
  assert.ok(collapses.length >= 1 && r.recoveries.length <= 8, JSON.stringify(r.recoveries));
  for (const x of collapses) {
    assert.ok(Number.isFinite(x.loss) && x.restoredStep < x.step, JSON.stringify(x));
    assert.ok((x.accuracy ?? 1) - 0.1 < ((x.bestAccuracy ?? 0) - 0.1) / 2, 'lost more than half its gain over chance');
  }
  assert.equal(r.recoveries.at(-1)?.lr, 0.1 / 2 ** r.recoveries.length);
  assert.ok((r.history[0]?.valAccuracy ?? 0) > 0.85, `validation ${r.history[0]?.valAccuracy} (collapsed: 0.10)`);
});

test('recover: false stops a collapsing run with NAN_LOSS naming the collapse', async () => {
  await assert.rejects(train(createModel('lenet-300-100', { seed: 0 }), collapseData, { ...collapsing, recover: false }), (e: unknown) => {
    assert.ok(e instanceof WhittleError);
    assert.equal(e.code, 'NAN_LOSS');
    assert.match(
      e.message,
      /^training collapsed at epoch 1, step \d+ .*: the training accuracy \(last 32 steps\) fell to [\d.]+% from [\d.]+% with a finite loss/,
    );
    return true;
  });
});

test('CollapseDetector: losing over half the gain over chance is a collapse; noise, slow starts and near-chance runs are not', () => {
  const rng = createRng(5);
  const feed = (d: CollapseDetector, mean: number, spread: number, steps: number): number => {
    for (let i = 0; i < steps; i++) if (d.check(Math.min(1, Math.max(0, mean + spread * (rng.next() - 0.5))))) return i;
    return -1;
  };
  // Learns to ~80%, then falls to 20%: flagged on the way down, once the 32-step average is below (0.8 + 0.1) / 2.
  const d = new CollapseDetector(10);
  assert.equal(feed(d, 0.8, 0.2, 200), -1);
  const at = feed(d, 0.2, 0.2, 200);
  assert.ok(at > 5 && at < 40, `flagged after ${at} steps`);
  assert.ok(d.best > 0.75 && d.level - 0.1 < (d.best - 0.1) / 2 && d.level > 0.3, `level ${d.level}, best ${d.best}`);
  // A well-fit model fine-tuning (96–100% per batch, dips to 85%) never is.
  const fine = new CollapseDetector(10);
  assert.equal(feed(fine, 0.98, 0.04, 2000), -1);
  assert.equal(feed(fine, 0.9, 0.1, 200), -1);
  // A run that never learned (best under a quarter of the way from chance) has nothing to lose.
  const near = new CollapseDetector(10);
  assert.equal(feed(near, 0.3, 0.2, 200), -1);
  assert.equal(feed(near, 0.1, 0.1, 200), -1);
  // After reset (gone back, or a callback pruned) the history starts again.
  d.reset();
  assert.equal(feed(d, 0.2, 0.2, 200), -1);
  // A fine-tune that starts well fit and falls to chance within its first 32 steps is flagged there
  // (a check that started at step 32 would take the fallen level for the best).
  const early = new CollapseDetector(10);
  assert.equal(feed(early, 0.98, 0.04, 4), -1);
  const fell = feed(early, 0.1, 0.05, 40);
  assert.ok(fell >= 0 && 4 + fell < 32, `flagged at step ${4 + fell}`);
  assert.ok(early.best > 0.5, `best ${early.best}`);
  // Nor are the first steps of a run from scratch, whatever one batch scores.
  const start = new CollapseDetector(10);
  assert.equal(start.check(0.5), false);
  assert.equal(feed(start, 0.1, 0.1, 64), -1);
  // Chance is 1 / classes: two classes at 50% have learned nothing.
  const binary = new CollapseDetector(2);
  assert.equal(feed(binary, 0.9, 0.1, 200), -1);
  assert.ok(feed(binary, 0.55, 0.1, 200) >= 0, '0.55 after 0.9 with two classes');
});
