// Distillation: the loss the training graph reports equals (1−α)·CE + α·T²·KL computed from the
// two models' ORT outputs; shape and name errors are clear; hint adapters train and are removed.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Normalization } from '../../data/index.js';
import { loadIdxDataset, NORMALIZATIONS, normalizeBatch, normalizeValue, subset } from '../../data/index.js';
import { WhittleError } from '../../ir/errors.js';
import type { Model } from '../../ir/graph.js';
import { Tensor } from '../../ir/tensor.js';
import { createModel, parameterNames } from '../../nn/index.js';
import { Session } from '../../runtime/session.js';
import { magnitudePrune } from '../prune/index.js';
import { addHintAdapters, distillationStep, distillStudent, teacherInputAffine } from './index.js';

const mnist = loadIdxDataset();
const batch = subset(mnist.train, 0, 64);
const base = { epochs: 1, batchSize: 64, optimizer: { kind: 'sgd' } as const, normalization: 'x/255' as const, threads: 1, stepsPerRun: 1 };

async function logits(model: Model, normalization: Normalization = 'x/255'): Promise<Float32Array> {
  const s = await Session.create(model, { threads: 1 });
  const x = normalizeBatch(
    batch,
    Int32Array.from({ length: 64 }, (_, i) => i),
    normalization,
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

/** (1−α)·CE + α·T²·KL(p_t ‖ p_s) over the batch, p_t the mean of the teachers' softened distributions. */
function kdLoss(teachers: readonly Float32Array[], zs: Float32Array, T: number, alpha: number): number {
  let ce = 0;
  let kl = 0;
  for (let i = 0; i < 64; i++) {
    ce -= logSoftmax(zs, i, 10, 1)[batch.labels[i] as number] as number;
    const ls = logSoftmax(zs, i, 10, T);
    const pt = new Array<number>(10).fill(0);
    for (const zt of teachers) logSoftmax(zt, i, 10, T).forEach((l, c) => (pt[c] = (pt[c] as number) + Math.exp(l) / teachers.length));
    for (let c = 0; c < 10; c++) kl += (pt[c] as number) * (Math.log(pt[c] as number) - (ls[c] as number));
  }
  return ((1 - alpha) * ce) / 64 + (alpha * T * T * kl) / 64;
}

test('teacherInputAffine maps every byte from the student normalization to the teacher one', () => {
  for (const s of NORMALIZATIONS)
    for (const t of NORMALIZATIONS) {
      const a = teacherInputAffine(s, t) ?? { scale: 1, shift: 0 };
      for (let v = 0; v < 256; v++) {
        const got = normalizeValue(v, s) * a.scale + a.shift;
        assert.ok(Math.abs(got - normalizeValue(v, t)) < 1e-4 * Math.max(1, Math.abs(normalizeValue(v, t))), `${s} → ${t} at byte ${v}: ${got}`);
      }
    }
});

test("a teacher trained on other inputs is fed its own normalization: the loss is the one of its soft targets on those inputs, not on the student's", async () => {
  const teacher = createModel('lenet-5', { seed: 3 });
  const student = createModel('mlp:784-30-10', { seed: 4 });
  const zs = await logits(student, 'x/255');
  const right = kdLoss([await logits(teacher, 'mnist-mean-std')], zs, 4, 0.7);
  const wrong = kdLoss([await logits(teacher, 'x/255')], zs, 4, 0.7);
  assert.ok(Math.abs(right - wrong) > 1e-2 * right, `the two normalizations must give different soft targets (${right} vs ${wrong})`);
  const run = async (normalization?: { student: Normalization; teacher: Normalization }) =>
    (await distillStudent(teacher, student, batch, { ...base, lr: 1e-12 }, { temperature: 4, alpha: 0.7, ...(normalization ? { normalization } : {}) }))
      .history[0]?.loss as number;
  const fed = await run({ student: 'x/255', teacher: 'mnist-mean-std' });
  assert.ok(Math.abs(fed - right) < 1e-4 * right, `reported ${fed}, expected ${right} (the teacher on mean/std inputs)`);
  const same = await run();
  assert.ok(Math.abs(same - wrong) < 1e-4 * wrong, `without a normalization the teacher takes the student's inputs: reported ${same}, expected ${wrong}`);
});

test('several teachers: the soft target is the mean of their softened distributions, each fed its own normalization', async () => {
  const t1 = createModel('lenet-5', { seed: 5 });
  const t2 = createModel('lenet-300-100', { seed: 6 });
  const student = createModel('mlp:784-30-10', { seed: 4 });
  const expected = kdLoss([await logits(t1, 'mnist-mean-std'), await logits(t2, 'x/255')], await logits(student, 'x/255'), 2, 0.9);
  const r = await distillStudent(
    [t1, t2],
    student,
    batch,
    { ...base, lr: 1e-12 },
    {
      temperature: 2,
      alpha: 0.9,
      normalization: { student: 'x/255', teacher: ['mnist-mean-std', 'x/255'] },
    },
  );
  const loss = r.history[0]?.loss as number;
  assert.ok(Math.abs(loss - expected) < 1e-4 * expected, `reported ${loss}, expected ${expected}`);
  assert.throws(
    () => distillationStep([t1, t2], student, { normalization: { student: 'x/255', teacher: ['x/255', 'x/255', 'none'] } }),
    (e: unknown) => e instanceof WhittleError && e.code === 'BAD_ARGUMENT' && /3 teacher normalizations for 2 teachers/.test(e.message),
  );
});

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
