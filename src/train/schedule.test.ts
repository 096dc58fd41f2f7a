// Learning-rate schedules against hand-computed values.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { WhittleError } from '../ir/errors.js';
import type { PlateauState, ScheduleConfig, ScheduleOptions } from './schedule.js';
import { initialPlateauState, learningRate, scheduleFromName, updatePlateau } from './schedule.js';

/** 10 epochs of 10 steps. */
const at = (step: number): { step: number; epoch: number; stepsPerEpoch: number; totalSteps: number } => ({
  step,
  epoch: Math.floor(step / 10),
  stepsPerEpoch: 10,
  totalSteps: 100,
});

function near(actual: number, expected: number, what: string): void {
  assert.ok(Math.abs(actual - expected) <= 1e-12 * Math.max(1, Math.abs(expected)), `${what}: got ${actual}, expected ${expected}`);
}

test('constant: the base rate at every step', () => {
  for (const s of [0, 37, 99]) assert.equal(learningRate(0.05, { schedule: { kind: 'constant' } }, at(s)), 0.05);
});

test('step: ×gamma every stepEpochs epochs', () => {
  const o: ScheduleOptions = { schedule: { kind: 'step', stepEpochs: 3, gamma: 0.1 } };
  const expected: [number, number][] = [
    [0, 0.1],
    [29, 0.1],
    [30, 0.01],
    [59, 0.01],
    [60, 0.001],
    [99, 0.0001],
  ];
  for (const [step, lr] of expected) near(learningRate(0.1, o, at(step)), lr, `step ${step}`);
});

test('exponential: ×gamma per epoch, constant within an epoch', () => {
  const o: ScheduleOptions = { schedule: { kind: 'exponential', gamma: 0.9 } };
  near(learningRate(0.1, o, at(0)), 0.1, 'epoch 0');
  near(learningRate(0.1, o, at(9)), 0.1, 'end of epoch 0');
  near(learningRate(0.1, o, at(10)), 0.09, 'epoch 1');
  near(learningRate(0.1, o, at(25)), 0.081, 'epoch 2');
});

test('cosine: base at the start, (base + min)/2 half-way, min at the end', () => {
  const o: ScheduleOptions = { schedule: { kind: 'cosine', minLr: 0.001 } };
  near(learningRate(0.1, o, at(0)), 0.1, 'start');
  // min + (base − min)·(1 + cos(π/4))/2 = 0.001 + 0.099 · 0.853553390593…
  near(learningRate(0.1, o, at(25)), 0.001 + 0.099 * 0.8535533905932737, 'a quarter');
  near(learningRate(0.1, o, at(50)), 0.0505, 'half-way');
  near(learningRate(0.1, o, at(100)), 0.001, 'end');
  near(learningRate(0.1, { schedule: { kind: 'cosine' } }, at(100)), 0, 'end, default min 0');
});

test('linear: base at the start, falls by the same amount every step, min at the end', () => {
  const o: ScheduleOptions = { schedule: { kind: 'linear', minLr: 0.001 } };
  near(learningRate(0.1, o, at(0)), 0.1, 'start');
  near(learningRate(0.1, o, at(25)), 0.1 - 0.099 * 0.25, 'a quarter');
  near(learningRate(0.1, o, at(50)), 0.0505, 'half-way');
  near(learningRate(0.1, o, at(99)), 0.001 + 0.099 * 0.01, 'last step');
  near(learningRate(0.1, o, at(100)), 0.001, 'end');
  near(learningRate(0.1, o, at(150)), 0.001, 'past the end stays at min');
  near(learningRate(0.2, { schedule: { kind: 'linear' } }, at(75)), 0.05, 'default min 0');
  // Below cosine before half-way, above it after: (1 − t) vs (1 + cos πt)/2 at t = 0.25 and 0.75.
  const cos = (step: number): number => learningRate(0.1, { schedule: { kind: 'cosine' } }, at(step));
  const lin = (step: number): number => learningRate(0.1, { schedule: { kind: 'linear' } }, at(step));
  assert.ok(lin(25) < cos(25) && lin(75) > cos(75), `linear ${lin(25)}, ${lin(75)} vs cosine ${cos(25)}, ${cos(75)}`);
  // Warm-up scales it as it scales every schedule.
  near(learningRate(0.1, { schedule: { kind: 'linear' }, warmupSteps: 10 }, at(4)), 0.5 * 0.1 * 0.96, 'warm-up step 4');
});

test('linear warm-up: (step + 1)/warmupSteps of the scheduled rate, then the schedule itself', () => {
  const constant: ScheduleOptions = { schedule: { kind: 'constant' }, warmupSteps: 4 };
  const expected = [0.05, 0.1, 0.15, 0.2, 0.2, 0.2];
  expected.forEach((lr, step) => near(learningRate(0.2, constant, at(step)), lr, `step ${step}`));
  // Warm-up scales the cosine value at that step: step 1 of 100 → ½ · cos-schedule(1).
  const cosine: ScheduleOptions = { schedule: { kind: 'cosine' }, warmupSteps: 4 };
  near(learningRate(0.2, cosine, at(1)), 0.5 * 0.1 * (1 + Math.cos(Math.PI / 100)), 'cosine step 1');
});

test('plateau: ×factor after more than `patience` epochs without improvement; minLr floors it', () => {
  const cfg: ScheduleConfig = { kind: 'plateau', factor: 0.5, patience: 1, minLr: 0.02 };
  const o: ScheduleOptions = { schedule: cfg };
  // metric → expected state after it (best, bad epochs, scale) and the rate that follows.
  const trace: [number, PlateauState, number][] = [
    [1.0, { best: 1.0, bad: 0, scale: 1 }, 0.1],
    [0.9, { best: 0.9, bad: 0, scale: 1 }, 0.1],
    [0.95, { best: 0.9, bad: 1, scale: 1 }, 0.1], // 1 bad epoch: within patience
    [0.9, { best: 0.9, bad: 0, scale: 0.5 }, 0.05], // equal is not better: 2 bad > 1 → halve
    [0.8, { best: 0.8, bad: 0, scale: 0.5 }, 0.05],
    [0.85, { best: 0.8, bad: 1, scale: 0.5 }, 0.05],
    [0.85, { best: 0.8, bad: 0, scale: 0.25 }, 0.025],
    [0.85, { best: 0.8, bad: 1, scale: 0.25 }, 0.025],
    [0.85, { best: 0.8, bad: 0, scale: 0.125 }, 0.02], // 0.0125 floored at minLr
  ];
  let state = initialPlateauState();
  assert.deepEqual(state, { best: Number.POSITIVE_INFINITY, bad: 0, scale: 1 });
  trace.forEach(([metric, expected, lr], i) => {
    state = updatePlateau(cfg, state, metric);
    assert.deepEqual(state, expected, `after epoch ${i + 1} (metric ${metric})`);
    near(learningRate(0.1, o, at(0), state), lr, `rate after epoch ${i + 1}`);
  });
});

test('updatePlateau leaves the state alone for other schedules', () => {
  const s: PlateauState = { best: 0.5, bad: 1, scale: 1 };
  assert.equal(updatePlateau({ kind: 'cosine' }, s, 9), s);
});

test('scheduleFromName: PyTorch-like defaults; an unknown name lists the valid ones', () => {
  assert.deepEqual(scheduleFromName('step', 9), { kind: 'step', stepEpochs: 3, gamma: 0.1 });
  assert.deepEqual(scheduleFromName('step', 1), { kind: 'step', stepEpochs: 1, gamma: 0.1 });
  assert.deepEqual(scheduleFromName('cosine', 5), { kind: 'cosine', minLr: 0 });
  assert.deepEqual(scheduleFromName('linear', 5), { kind: 'linear', minLr: 0 });
  assert.deepEqual(scheduleFromName('plateau', 5), { kind: 'plateau', factor: 0.1, patience: 2 });
  assert.throws(
    () => scheduleFromName('onecycle', 10),
    (e: unknown) =>
      e instanceof WhittleError &&
      e.code === 'BAD_ARGUMENT' &&
      e.message === 'unknown schedule "onecycle"; choose one of constant, step, exponential, cosine, linear, plateau',
  );
});
