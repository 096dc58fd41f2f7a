// Learning-rate schedules. Each is a pure function of progress, except reduce-on-plateau, whose
// state (best metric, patience used, current factor) is explicit so checkpoints can store it.
import { WhittleError } from '../ir/errors.js';

export type ScheduleConfig =
  | { kind: 'constant' }
  | { kind: 'step'; stepEpochs: number; gamma: number }
  | { kind: 'exponential'; gamma: number }
  | { kind: 'cosine'; minLr?: number }
  /** Straight line from the base rate at step 0 down to `minLr` (default 0), reached at step `totalSteps` (the run's end). */
  | { kind: 'linear'; minLr?: number }
  | { kind: 'plateau'; factor: number; patience: number; minLr?: number };

export interface ScheduleOptions {
  schedule: ScheduleConfig;
  /** Linear warm-up from 0 over this many steps (0: none). */
  warmupSteps?: number;
}

export interface PlateauState {
  best: number;
  bad: number;
  scale: number;
}

export const SCHEDULE_NAMES = ['constant', 'step', 'exponential', 'cosine', 'linear', 'plateau'] as const;

/** Parses a learning-rate schedule name (`--lr-schedule`) with PyTorch-like defaults: step = ×0.1 every 1/3 of the run, exponential ×0.9/epoch, plateau ×0.1 after 2 epochs. */
export function scheduleFromName(name: string, epochs: number): ScheduleConfig {
  switch (name) {
    case 'constant':
      return { kind: 'constant' };
    case 'step':
      return { kind: 'step', stepEpochs: Math.max(1, Math.round(epochs / 3)), gamma: 0.1 };
    case 'exponential':
      return { kind: 'exponential', gamma: 0.9 };
    case 'cosine':
      return { kind: 'cosine', minLr: 0 };
    case 'linear':
      return { kind: 'linear', minLr: 0 };
    case 'plateau':
      return { kind: 'plateau', factor: 0.1, patience: 2 };
    default:
      throw new WhittleError('BAD_ARGUMENT', `unknown schedule "${name}"; choose one of ${SCHEDULE_NAMES.join(', ')}`);
  }
}

export function initialPlateauState(): PlateauState {
  return { best: Number.POSITIVE_INFINITY, bad: 0, scale: 1 };
}

/**
 * Learning rate at a global step. `totalSteps` is the run's length (cosine needs it);
 * `plateau` is the reduce-on-plateau state.
 *
 * ```ts
 * learningRate(0.1, { schedule: { kind: 'cosine' }, warmupSteps: 100 }, { step: 50, epoch: 0, stepsPerEpoch: 900, totalSteps: 9000 });
 * ```
 */
export function learningRate(
  base: number,
  opts: ScheduleOptions,
  at: { step: number; epoch: number; stepsPerEpoch: number; totalSteps: number },
  plateau: PlateauState = initialPlateauState(),
): number {
  const s = opts.schedule;
  let lr: number;
  switch (s.kind) {
    case 'constant':
      lr = base;
      break;
    case 'step':
      lr = base * s.gamma ** Math.floor(at.epoch / s.stepEpochs);
      break;
    case 'exponential':
      lr = base * s.gamma ** at.epoch;
      break;
    case 'cosine': {
      const min = s.minLr ?? 0;
      const t = Math.min(1, at.step / Math.max(1, at.totalSteps));
      lr = min + ((base - min) * (1 + Math.cos(Math.PI * t))) / 2;
      break;
    }
    case 'linear': {
      const min = s.minLr ?? 0;
      const t = Math.min(1, at.step / Math.max(1, at.totalSteps));
      lr = base - (base - min) * t;
      break;
    }
    case 'plateau':
      lr = Math.max(s.minLr ?? 0, base * plateau.scale);
      break;
  }
  const warm = opts.warmupSteps ?? 0;
  if (warm > 0 && at.step < warm) lr *= (at.step + 1) / warm;
  return lr;
}

/** Reduce-on-plateau bookkeeping at the end of an epoch; returns the new state. */
export function updatePlateau(s: ScheduleConfig, state: PlateauState, metric: number): PlateauState {
  if (s.kind !== 'plateau') return state;
  if (metric < state.best - 1e-12) return { best: metric, bad: 0, scale: state.scale };
  const bad = state.bad + 1;
  if (bad > s.patience) return { best: state.best, bad: 0, scale: state.scale * s.factor };
  return { best: state.best, bad, scale: state.scale };
}
