// The in-graph optimizers against a float64 reference of PyTorch's update rules
// (torch.optim.SGD, Adam, AdamW, RMSprop), on a linear softmax classifier whose cross-entropy
// gradient is written out by hand, so neither the gradient nor the update comes from Whittle.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { seededUniform } from '../../test/gradcheck.js';
import { attr, Graph, makeModel } from '../ir/graph.js';
import type { Model } from '../ir/graph.js';
import { Tensor } from '../ir/tensor.js';
import { Session } from '../runtime/session.js';
import { buildLoopTrainStep } from './loop.js';
import type { OptimizerConfig } from './optimizer.js';
import { Optimizer, optimizerFromName } from './optimizer.js';
import { buildTrainStep } from './train-step.js';
import type { TrainStep } from './train-step.js';

const N = 5;
const F = 4;
const C = 3;
const STEPS = 3;
/** A different learning rate each step, so a step fed the wrong scalars shows. */
const LRS = [0.1, 0.05, 0.02];

interface Params {
  w: Float64Array;
  b: Float64Array;
}

interface Batch {
  x: Float32Array;
  y: number[];
}

const rand = seededUniform(7);
const W0 = Float32Array.from({ length: C * F }, () => rand(-0.5, 0.5));
const B0 = Float32Array.from({ length: C }, () => rand(-0.1, 0.1));
const BATCHES: Batch[] = Array.from({ length: STEPS }, () => ({
  x: Float32Array.from({ length: N * F }, () => rand(-2, 2)),
  y: Array.from({ length: N }, () => Math.floor(rand(0, 1) * C)),
}));

/** logits = input · wᵀ + b, the Gemm a Linear layer exports to. */
function linearClassifier(): Model {
  const g = new Graph('linear');
  g.inputs.push({ name: 'input', dtype: 'float32', shape: ['N', F] });
  g.initializers.set('w', new Tensor('float32', [C, F], W0.slice()));
  g.initializers.set('b', new Tensor('float32', [C], B0.slice()));
  g.nodes.push({ name: 'fc', opType: 'Gemm', domain: '', inputs: ['input', 'w', 'b'], outputs: ['logits'], attributes: { transB: attr.int(1) } });
  g.outputs.push({ name: 'logits', dtype: 'float32', shape: ['N', C] });
  return makeModel(g);
}

/** Mean softmax cross-entropy and its gradient, by the textbook formula, in float64. */
function lossAndGradient(p: Params, batch: Batch): { loss: number; dw: Float64Array; db: Float64Array } {
  const dw = new Float64Array(C * F);
  const db = new Float64Array(C);
  let loss = 0;
  for (let n = 0; n < N; n++) {
    const z = Array.from({ length: C }, (_, c) => {
      let s = p.b[c] as number;
      for (let f = 0; f < F; f++) s += (batch.x[n * F + f] as number) * (p.w[c * F + f] as number);
      return s;
    });
    const max = Math.max(...z);
    const e = z.map((v) => Math.exp(v - max));
    const sum = e.reduce((a, v) => a + v, 0);
    const label = batch.y[n] as number;
    loss -= Math.log((e[label] as number) / sum) / N;
    for (let c = 0; c < C; c++) {
      // dlogits = (softmax − onehot) / N; dW = dlogitsᵀ · x; db = Σ_n dlogits.
      const d = ((e[c] as number) / sum - (c === label ? 1 : 0)) / N;
      db[c] = (db[c] as number) + d;
      for (let f = 0; f < F; f++) dw[c * F + f] = (dw[c * F + f] as number) + d * (batch.x[n * F + f] as number);
    }
  }
  return { loss, dw, db };
}

/** One optimizer's per-parameter state and update, following torch.optim's documented algorithms. */
type Reference = (p: Float64Array, g: Float64Array, lr: number, t: number) => void;

function torchReference(cfg: OptimizerConfig, size: number): Reference {
  const wd = cfg.weightDecay ?? 0;
  const buf = new Float64Array(size);
  const sq = new Float64Array(size);
  switch (cfg.kind) {
    case 'sgd': {
      const mu = cfg.momentum ?? 0;
      return (p, grad, lr, t) => {
        for (let i = 0; i < size; i++) {
          let g = (grad[i] as number) + wd * (p[i] as number);
          if (mu !== 0) {
            buf[i] = t === 1 ? g : mu * (buf[i] as number) + g;
            g = cfg.nesterov ? g + mu * (buf[i] as number) : (buf[i] as number);
          }
          p[i] = (p[i] as number) - lr * g;
        }
      };
    }
    case 'adam':
    case 'adamw': {
      const b1 = cfg.beta1 ?? 0.9;
      const b2 = cfg.beta2 ?? 0.999;
      const eps = cfg.eps ?? 1e-8;
      return (p, grad, lr, t) => {
        for (let i = 0; i < size; i++) {
          let g = grad[i] as number;
          if (cfg.kind === 'adamw') p[i] = (p[i] as number) * (1 - lr * wd);
          else g += wd * (p[i] as number);
          buf[i] = b1 * (buf[i] as number) + (1 - b1) * g;
          sq[i] = b2 * (sq[i] as number) + (1 - b2) * g * g;
          const denom = Math.sqrt(sq[i] as number) / Math.sqrt(1 - b2 ** t) + eps;
          p[i] = (p[i] as number) - (lr / (1 - b1 ** t)) * ((buf[i] as number) / denom);
        }
      };
    }
    case 'rmsprop': {
      const alpha = cfg.alpha ?? 0.99;
      const eps = cfg.eps ?? 1e-8;
      const mu = cfg.momentum ?? 0;
      return (p, grad, lr) => {
        for (let i = 0; i < size; i++) {
          const g = (grad[i] as number) + wd * (p[i] as number);
          sq[i] = alpha * (sq[i] as number) + (1 - alpha) * g * g;
          const step = g / (Math.sqrt(sq[i] as number) + eps);
          if (mu > 0) {
            buf[i] = mu * (buf[i] as number) + step;
            p[i] = (p[i] as number) - lr * (buf[i] as number);
          } else p[i] = (p[i] as number) - lr * step;
        }
      };
    }
  }
}

/**
 * Parameters after each step, and the loss each step saw, per the float64 reference; with
 * `clipNorm`, both gradients scaled by min(1, clipNorm / ‖(dw, db)‖) first (torch.nn.utils.clip_grad_norm_).
 */
function referenceRun(cfg: OptimizerConfig, clipNorm?: number): { params: Params[]; losses: number[]; norms: number[] } {
  const p: Params = { w: Float64Array.from(W0), b: Float64Array.from(B0) };
  const updW = torchReference(cfg, C * F);
  const updB = torchReference(cfg, C);
  const params: Params[] = [];
  const losses: number[] = [];
  const norms: number[] = [];
  BATCHES.forEach((batch, s) => {
    const { loss, dw, db } = lossAndGradient(p, batch);
    losses.push(loss);
    const norm = Math.sqrt([...dw, ...db].reduce((a, g) => a + g * g, 0));
    norms.push(norm);
    if (clipNorm !== undefined && norm > clipNorm) {
      for (const g of [dw, db]) for (let i = 0; i < g.length; i++) g[i] = ((g[i] as number) * clipNorm) / norm;
    }
    updW(p.w, dw, LRS[s] as number, s + 1);
    updB(p.b, db, LRS[s] as number, s + 1);
    params.push({ w: p.w.slice(), b: p.b.slice() });
  });
  return { params, losses, norms };
}

function initialState(step: TrainStep, model: Model): Map<string, Tensor> {
  const state = new Map<string, Tensor>();
  for (const c of step.carried) {
    state.set(c.input, c.init.kind === 'initializer' ? (model.graph.initializers.get(c.init.name) as Tensor).clone() : new Tensor(c.dtype, c.dims));
  }
  return state;
}

function labels(batch: Batch): Tensor {
  return Tensor.fromArray('int64', [N], batch.y);
}

/** Three single-step runs, carrying state as the trainer does; the state after each step. */
async function runSteps(cfg: OptimizerConfig, clipNorm?: number): Promise<{ states: Map<string, Tensor>[]; losses: number[] }> {
  const model = linearClassifier();
  const step = buildTrainStep(model, { optimizer: cfg, ...(clipNorm !== undefined ? { clipNorm } : {}) });
  const session = await Session.create(step.model, { threads: 1 });
  let state = initialState(step, model);
  const states: Map<string, Tensor>[] = [];
  const losses: number[] = [];
  try {
    for (let s = 0; s < STEPS; s++) {
      const batch = BATCHES[s] as Batch;
      const feeds: Record<string, Tensor> = Object.fromEntries(state);
      feeds[step.input] = new Tensor('float32', [N, F], batch.x);
      feeds[step.labels] = labels(batch);
      for (const [name, v] of step.optimizer.scalarFeeds(step.scalars, [LRS[s] as number], s + 1)) feeds[name] = new Tensor('float32', [], v);
      const r = await session.run(feeds);
      losses.push(Number(r[step.loss]?.data[0]));
      state = new Map(step.carried.map((c) => [c.input, r[c.output] as Tensor]));
      states.push(state);
    }
  } finally {
    await session.release();
  }
  return { states, losses };
}

/** The same three steps as one run of the Loop form, on stacked batches and scalars. */
async function runLoop(cfg: OptimizerConfig): Promise<{ state: Map<string, Tensor>; losses: number[] }> {
  const model = linearClassifier();
  const step = buildTrainStep(model, { optimizer: cfg });
  const loop = buildLoopTrainStep(step);
  const session = await Session.create(loop.step.model, { threads: 1 });
  try {
    const feeds: Record<string, Tensor> = Object.fromEntries(initialState(step, model));
    const x = new Float32Array(STEPS * N * F);
    BATCHES.forEach((b, s) => x.set(b.x, s * N * F));
    feeds[loop.stackedInput] = new Tensor('float32', [STEPS, N, F], x);
    feeds[loop.stackedLabels] = Tensor.fromArray(
      'int64',
      [STEPS, N],
      BATCHES.flatMap((b) => b.y),
    );
    for (const [name, v] of step.optimizer.scalarFeeds(step.scalars, LRS, 1)) feeds[loop.stackedScalars[name] as string] = new Tensor('float32', [STEPS], v);
    const r = await session.run(feeds);
    return { state: new Map(step.carried.map((c) => [c.input, r[c.output] as Tensor])), losses: Array.from(r[loop.losses]?.data as Float32Array) };
  } finally {
    await session.release();
  }
}

function assertClose(actual: Tensor | undefined, expected: Float64Array, what: string): void {
  assert.ok(actual, `${what} missing from the step's outputs`);
  assert.equal(actual.size, expected.length, what);
  for (let i = 0; i < expected.length; i++) {
    const a = actual.data[i] as number;
    const e = expected[i] as number;
    // float32 parameters against a float64 trajectory: relative error, floored for near-zero values.
    const err = Math.abs(a - e) / Math.max(Math.abs(e), 1e-2);
    assert.ok(err <= 1e-5, `${what}[${i}]: Whittle ${a}, PyTorch rule ${e} (relative error ${err.toExponential(2)})`);
  }
}

const CONFIGS: [string, OptimizerConfig][] = [
  ['sgd', { kind: 'sgd' }],
  ['sgd + momentum 0.9', { kind: 'sgd', momentum: 0.9 }],
  ['nesterov', { kind: 'sgd', momentum: 0.9, nesterov: true }],
  ['sgd + weight decay 0.1', { kind: 'sgd', weightDecay: 0.1 }],
  ['nesterov + weight decay 0.1', { kind: 'sgd', momentum: 0.9, nesterov: true, weightDecay: 0.1 }],
  ['adam', { kind: 'adam' }],
  ['adam + L2 weight decay 0.1', { kind: 'adam', weightDecay: 0.1 }],
  ['adamw (weight decay 0.01)', { kind: 'adamw', weightDecay: 0.01 }],
  ['adam (beta1 0.5, beta2 0.9, eps 1e-3)', { kind: 'adam', beta1: 0.5, beta2: 0.9, eps: 1e-3 }],
  ['rmsprop', { kind: 'rmsprop' }],
  ['rmsprop + momentum 0.9', { kind: 'rmsprop', momentum: 0.9 }],
  ['rmsprop + weight decay 0.1', { kind: 'rmsprop', weightDecay: 0.1 }],
];

for (const [label, cfg] of CONFIGS) {
  test(`${label}: three in-graph steps match PyTorch's update rule on a hand-derived gradient`, async () => {
    const ref = referenceRun(cfg);
    const { states, losses } = await runSteps(cfg);
    for (let s = 0; s < STEPS; s++) {
      const expected = ref.params[s] as Params;
      assert.ok(
        Math.abs((losses[s] as number) - (ref.losses[s] as number)) <= 1e-5 * (ref.losses[s] as number),
        `step ${s + 1} loss ${losses[s]} vs ${ref.losses[s]}`,
      );
      assertClose(states[s]?.get('w'), expected.w, `w after step ${s + 1}`);
      assertClose(states[s]?.get('b'), expected.b, `b after step ${s + 1}`);
    }
  });

  test(`${label}: the Loop form (3 steps in one run) gives the 3 single runs' state bit for bit`, async () => {
    const single = await runSteps(cfg);
    const looped = await runLoop(cfg);
    const last = single.states[STEPS - 1] as Map<string, Tensor>;
    assert.deepEqual([...looped.state.keys()], [...last.keys()]);
    for (const [name, t] of last) assert.deepEqual(looped.state.get(name)?.data, t.data, `${name} after 3 steps`);
    assert.deepEqual(
      looped.losses,
      single.losses.map((l) => Math.fround(l)),
    );
  });
}

test('clipNorm scales the gradient to its global norm before the update, as clip_grad_norm_ does, and leaves smaller ones alone', async () => {
  const cfg: OptimizerConfig = { kind: 'sgd', momentum: 0.9 };
  const { norms } = referenceRun(cfg);
  // A limit between the steps' norms: some steps are clipped, some are not.
  const sorted = [...norms].sort((a, b) => a - b);
  const clip = ((sorted[0] as number) + (sorted[STEPS - 1] as number)) / 2;
  assert.ok(norms.some((n) => n > clip) && norms.some((n) => n < clip), `norms ${norms.join(', ')} around ${clip}`);
  const ref = referenceRun(cfg, clip);
  const unclipped = referenceRun(cfg);
  const { states } = await runSteps(cfg, clip);
  for (let s = 0; s < STEPS; s++) {
    assertClose(states[s]?.get('w'), (ref.params[s] as Params).w, `w after step ${s + 1}`);
    assertClose(states[s]?.get('b'), (ref.params[s] as Params).b, `b after step ${s + 1}`);
  }
  // The clipped trajectory is not the unclipped one (the test would pass without clipping otherwise).
  const last = (unclipped.params[STEPS - 1] as Params).w;
  const got = states[STEPS - 1]?.get('w')?.data as Float32Array;
  assert.ok(
    got.some((v, i) => Math.abs(v - (last[i] as number)) > 1e-3),
    'clipping changed nothing',
  );
  assert.throws(
    () => buildTrainStep(linearClassifier(), { optimizer: cfg, clipNorm: 0 }),
    (e: Error & { code?: string }) => e.code === 'BAD_ARGUMENT' && /clipNorm/.test(e.message),
  );
});

test('optimizerFromName: PyTorch defaults per name; unknown names list the valid ones', () => {
  assert.deepEqual(optimizerFromName('nesterov'), { kind: 'sgd', momentum: 0.9, nesterov: true, weightDecay: 0 });
  assert.deepEqual(optimizerFromName('adamw'), { kind: 'adamw', weightDecay: 0.01 });
  assert.deepEqual(optimizerFromName('adamw', 0), { kind: 'adamw', weightDecay: 0 }, "an explicit 0 turns AdamW's decay off");
  assert.deepEqual(optimizerFromName('adam', 5e-4), { kind: 'adam', weightDecay: 5e-4 });
  assert.throws(
    () => optimizerFromName('lion'),
    (e: Error & { code?: string }) => e.code === 'BAD_ARGUMENT' && /unknown optimizer "lion".*sgd, momentum, nesterov, adam, adamw, rmsprop/.test(e.message),
  );
});

test('Optimizer owns its names: state inputs per parameter, the scalars it declares and feeds', () => {
  const adam = new Optimizer({ kind: 'adam' });
  assert.deepEqual(adam.stateInputs('w'), ['w.m', 'w.v']);
  assert.deepEqual(adam.scalars, ['lr', 'opt.step_size', 'opt.eps_hat']);
  assert.deepEqual(new Optimizer({ kind: 'sgd', momentum: 0.9 }).stateInputs('w'), ['w.momentum']);
  assert.deepEqual(new Optimizer({ kind: 'sgd' }).stateInputs('w'), []);
  // Step 1 of Adam: step_size = lr·sqrt(1 − 0.999)/(1 − 0.9).
  const feeds = adam.scalarFeeds(adam.scalars, [0.01, 0.02], 1);
  assert.deepEqual([...feeds.keys()], ['lr', 'opt.step_size', 'opt.eps_hat']);
  assert.deepEqual(feeds.get('lr'), Float32Array.of(0.01, 0.02));
  assert.ok(Math.abs((feeds.get('opt.step_size')?.[0] as number) - (0.01 * Math.sqrt(0.001)) / 0.1) < 1e-8);
  // The step and the optimizer build each other's names: the graph declares exactly `scalars`.
  const step = buildTrainStep(linearClassifier(), { optimizer: adam });
  assert.equal(step.optimizer, adam);
  for (const name of adam.scalars)
    assert.ok(
      step.model.graph.inputs.some((i) => i.name === name && i.shape.length === 0),
      name,
    );
  for (const name of ['w.m', 'w.v', 'b.m', 'b.v'])
    assert.ok(
      step.carried.some((c) => c.input === name),
      name,
    );
});

test('a scalar the step reads but the optimizer does not feed is an error, never a silent 0', () => {
  const adamStep = buildTrainStep(linearClassifier(), { optimizer: { kind: 'adam' } });
  const sgd = new Optimizer({ kind: 'sgd', momentum: 0.9 });
  assert.throws(
    () => sgd.scalarFeeds(adamStep.scalars, [0.1], 1),
    (e: Error & { code?: string }) => e.code === 'INVALID_GRAPH' && /"opt\.step_size".*sgd optimizer does not feed/.test(e.message),
  );
  // And the other way: a step that lacks one of the optimizer's scalars.
  const adam = new Optimizer({ kind: 'adam' });
  assert.throws(
    () => adam.scalarFeeds(['lr'], [0.1], 1),
    (e: Error & { code?: string }) => e.code === 'INVALID_GRAPH' && /needs the scalar input "opt\.step_size"/.test(e.message),
  );
  assert.throws(
    () => adam.scalarValues(Number.NaN, 1),
    (e: Error & { code?: string }) => e.code === 'BAD_ARGUMENT',
  );
});

test('a training step run without its learning rate fails instead of training at lr 0', async () => {
  const model = linearClassifier();
  const step = buildTrainStep(model, { optimizer: { kind: 'sgd' } });
  const session = await Session.create(step.model, { threads: 1 });
  try {
    const feeds: Record<string, Tensor> = Object.fromEntries(initialState(step, model));
    feeds[step.input] = new Tensor('float32', [N, F], (BATCHES[0] as Batch).x);
    feeds[step.labels] = labels(BATCHES[0] as Batch);
    await assert.rejects(session.run(feeds), (e: Error & { code?: string }) => e.code === 'RUNTIME' && /lr/.test(e.message));
  } finally {
    await session.release();
  }
});
