// Distillation: the loss the training graph reports equals (1−α)·CE + α·T²·KL computed from the
// two models' ORT outputs; shape and name errors are clear; hint adapters train and are removed.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadIdxDataset, normalizeBatch, subset } from '../../data/index.js';
import { WhittleError } from '../../ir/errors.js';
import type { Model } from '../../ir/graph.js';
import { Tensor } from '../../ir/tensor.js';
import { createModel, parameterNames } from '../../nn/index.js';
import { Session } from '../../runtime/session.js';
import { magnitudePrune } from '../prune/index.js';
import { addHintAdapters, distillationStep, distillStudent } from './index.js';

const mnist = loadIdxDataset();
const batch = subset(mnist.train, 0, 64);
const base = { epochs: 1, batchSize: 64, optimizer: { kind: 'sgd' } as const, normalization: 'x/255' as const, threads: 1, stepsPerRun: 1 };

async function logits(model: Model): Promise<Float32Array> {
  const s = await Session.create(model, { threads: 1 });
  const x = normalizeBatch(
    batch,
    Int32Array.from({ length: 64 }, (_, i) => i),
    'x/255',
  );
  const r = await s.run({ input: new Tensor('float32', [64, 1, 28, 28], x) });
  await s.release();
  return r[model.graph.outputs[0]?.name as string]?.data as Float32Array;
}

function logSoftmax(z: Float32Array, row: number, c: number, T: number): number[] {
  const v = Array.from(z.subarray(row * c, (row + 1) * c), (x) => x / T);
  const m = Math.max(...v);
  const lse = m + Math.log(v.reduce((a, x) => a + Math.exp(x - m), 0));
  return v.map((x) => x - lse);
}

for (const [T, alpha] of [
  [4, 0.7],
  [1, 1],
] as const) {
  test(`the training loss is (1−α)·CE + α·T²·KL(teacher ‖ student) (T=${T}, α=${alpha})`, async () => {
    const teacher = createModel('lenet-5', { seed: 3 });
    const student = createModel('mlp:784-30-10', { seed: 4 });
    const [zt, zs] = [await logits(teacher), await logits(student)];
    let ce = 0;
    let kl = 0;
    for (let i = 0; i < 64; i++) {
      ce -= logSoftmax(zs, i, 10, 1)[batch.labels[i] as number] as number;
      const lt = logSoftmax(zt, i, 10, T);
      const ls = logSoftmax(zs, i, 10, T);
      for (let c = 0; c < 10; c++) kl += Math.exp(lt[c] as number) * ((lt[c] as number) - (ls[c] as number));
    }
    const expected = ((1 - alpha) * ce) / 64 + (alpha * T * T * kl) / 64;
    // A vanishing learning rate: the reported loss is the objective at the initial weights.
    const r = await distillStudent(teacher, student, batch, { ...base, lr: 1e-12 }, { temperature: T, alpha });
    const loss = r.history[0]?.loss as number;
    assert.ok(Math.abs(loss - expected) < 1e-4 * Math.max(1, expected), `reported ${loss}, expected ${expected}`);
  });
}

test('distillation trains the student and leaves the teacher untouched', async () => {
  const teacher = createModel('lenet-300-100', { seed: 1 });
  const before = (teacher.graph.initializers.get('fc1.weight') as Tensor).data.slice();
  const student = createModel('mlp:784-30-10', { seed: 2 });
  const data = subset(mnist.train, 0, 2048);
  const r = await distillStudent(teacher, student, data, { ...base, lr: 0.05, optimizer: { kind: 'sgd', momentum: 0.9 }, stepsPerRun: 8 });
  assert.deepEqual(parameterNames(r.model.graph), parameterNames(student.graph), 'no teacher or adapter weights leak into the student');
  assert.notDeepEqual((r.model.graph.initializers.get('fc1.weight') as Tensor).data, (student.graph.initializers.get('fc1.weight') as Tensor).data);
  assert.deepEqual((teacher.graph.initializers.get('fc1.weight') as Tensor).data, before);
  assert.ok(Number.isFinite(r.history[0]?.loss));
});

test('a teacher whose output does not match the student is refused before training', () => {
  const teacher = createModel('mlp:784-20-10', { seed: 1 });
  const student = createModel('mlp:784-20-5', { seed: 1 });
  assert.throws(
    () => distillationStep(teacher, student),
    (e: unknown) => e instanceof WhittleError && e.code === 'SHAPE_MISMATCH' && /\[N, 10\].*\[N, 5\]/.test(e.message),
  );
});

test('a hint naming a missing tensor lists the candidates; a valid hint adds a trainable adapter that is removed after', async () => {
  const teacher = createModel('lenet-300-100', { seed: 1 });
  const student = createModel('mlp:784-30-10', { seed: 2 });
  assert.throws(
    () => addHintAdapters(student, teacher, [{ teacher: 'nope', student: 'relu1' }]),
    (e: unknown) => e instanceof WhittleError && e.code === 'BAD_ARGUMENT' && /teacher has no tensor "nope"; candidates: .*relu1/.test(e.message),
  );
  const { model, outputs } = addHintAdapters(student, teacher, [{ teacher: 'relu2', student: 'relu1' }]);
  assert.deepEqual((model.graph.initializers.get('hint0.adapter.weight') as Tensor).dims, [100, 30]);
  assert.equal(outputs[0], 'hint0.adapter.out');
  const r = await distillStudent(teacher, student, subset(mnist.train, 0, 512), { ...base, lr: 0.01 }, { hints: [{ teacher: 'relu2', student: 'relu1' }] });
  assert.deepEqual(parameterNames(r.model.graph), parameterNames(student.graph));
  assert.equal(r.model.graph.nodes.length, student.graph.nodes.length);
});

test('a magnitude-pruned student distilled with its masks keeps every pruned weight at zero', async () => {
  const teacher = createModel('lenet-300-100', { seed: 1 });
  const { model: pruned, masks } = magnitudePrune(createModel('mlp:784-30-10', { seed: 2 }), { sparsity: 0.8 });
  const extraFeeds = new Map([...masks].map(([w, m]) => [`${w}.mask`, m] as const));
  const r = await distillStudent(teacher, pruned, subset(mnist.train, 0, 1024), {
    ...base,
    lr: 0.05,
    stepsPerRun: 4,
    step: { masked: [...masks.keys()] },
    extraFeeds,
  });
  for (const [w, m] of masks) {
    const after = r.model.graph.initializers.get(w)?.data as Float32Array;
    let regrown = 0;
    for (let i = 0; i < after.length; i++) if (m.data[i] === 0 && after[i] !== 0) regrown++;
    assert.equal(regrown, 0, `${w}: pruned weights came back`);
  }
});
