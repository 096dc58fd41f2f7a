// In-graph optimizer updates: each step's new parameters and optimizer state are outputs of the
// training graph, so the update runs in ORT's kernels instead of a JS loop over the weights.
import { WhittleError } from '../ir/errors.js';
import type { Graph, GraphBuilder } from '../ir/graph.js';
import type { DType } from '../ir/tensor.js';
import { Tensor } from '../ir/tensor.js';

export type OptimizerConfig =
  | { kind: 'sgd'; momentum?: number; nesterov?: boolean; weightDecay?: number }
  | { kind: 'adam'; beta1?: number; beta2?: number; eps?: number; weightDecay?: number }
  | { kind: 'adamw'; beta1?: number; beta2?: number; eps?: number; weightDecay?: number }
  | { kind: 'rmsprop'; alpha?: number; eps?: number; momentum?: number; weightDecay?: number };

export const OPTIMIZER_NAMES = ['sgd', 'momentum', 'nesterov', 'adam', 'adamw', 'rmsprop'] as const;

/**
 * Parses a CLI optimizer name into a config with PyTorch's defaults
 * (momentum 0.9 for 'momentum'/'nesterov').
 */
export function optimizerFromName(name: string, weightDecayOrDefault?: number): OptimizerConfig {
  const weightDecay = weightDecayOrDefault ?? 0;
  switch (name) {
    case 'sgd':
      return { kind: 'sgd', weightDecay };
    case 'momentum':
      return { kind: 'sgd', momentum: 0.9, weightDecay };
    case 'nesterov':
      return { kind: 'sgd', momentum: 0.9, nesterov: true, weightDecay };
    case 'adam':
      return { kind: 'adam', weightDecay };
    case 'adamw':
      // AdamW's customary default decay; an explicit 0 is honoured.
      return { kind: 'adamw', weightDecay: weightDecayOrDefault ?? 0.01 };
    case 'rmsprop':
      return { kind: 'rmsprop', weightDecay };
    default:
      throw new WhittleError('BAD_ARGUMENT', `unknown optimizer "${name}"; choose one of ${OPTIMIZER_NAMES.join(', ')}`);
  }
}

/** Names of the per-parameter state slots an optimizer keeps (each shaped like the parameter). */
function stateSlots(cfg: OptimizerConfig): string[] {
  switch (cfg.kind) {
    case 'sgd':
      return (cfg.momentum ?? 0) > 0 ? ['momentum'] : [];
    case 'adam':
    case 'adamw':
      return ['m', 'v'];
    case 'rmsprop':
      return (cfg.momentum ?? 0) > 0 ? ['square_avg', 'momentum'] : ['square_avg'];
  }
}

/** The learning rate's input name in every training step. */
export const LR_INPUT = 'lr';
const STEP_SIZE = 'opt.step_size';
const EPS_HAT = 'opt.eps_hat';

/** Scalar inputs fed each step: 'lr' always, plus Adam's bias-corrected terms. */
function scalarNames(cfg: OptimizerConfig): string[] {
  return cfg.kind === 'adam' || cfg.kind === 'adamw' ? [LR_INPUT, STEP_SIZE, EPS_HAT] : [LR_INPUT];
}

/**
 * The optimizer of a training step, as one object: the names of its per-parameter state and of
 * the scalars it reads each step, the update it emits into the graph, and the values of those
 * scalars at a step. Nothing else knows the names, so a step and its feeds cannot drift apart.
 *
 * ```ts
 * const opt = new Optimizer({ kind: 'adam' });
 * opt.scalars;                        // ['lr', 'opt.step_size', 'opt.eps_hat']
 * opt.stateInputs('fc1.weight');      // ['fc1.weight.m', 'fc1.weight.v']
 * opt.scalarValues(1e-3, 1);          // { lr: 0.001, 'opt.step_size': …, 'opt.eps_hat': … }
 * ```
 */
export class Optimizer {
  readonly config: OptimizerConfig;
  /** Per-parameter state slots, e.g. ['m', 'v'] for Adam; each is shaped like its parameter. */
  readonly slots: readonly string[];
  /** The scalar inputs the update reads, fed every step (stacked per step in the Loop form). */
  readonly scalars: readonly string[];

  constructor(config: OptimizerConfig) {
    this.config = config;
    this.slots = stateSlots(config);
    this.scalars = scalarNames(config);
  }

  /** The input names of `param`'s state, in `slots` order. */
  stateInputs(param: string): string[] {
    return this.slots.map((s) => `${param}.${s}`);
  }

  /** Declares the scalar inputs on the training graph. */
  declareScalars(g: Graph, dtype: DType): void {
    for (const name of this.scalars) g.inputs.push({ name, dtype, shape: [] });
  }

  /** Every scalar's value at 1-based `step` with learning rate `lr`: exactly `scalars`, no more, no fewer. */
  scalarValues(lr: number, step: number): Record<string, number> {
    if (!Number.isFinite(lr) || !(step >= 1)) {
      throw new WhittleError('BAD_ARGUMENT', `optimizer scalars need a finite learning rate and a step ≥ 1, got lr ${lr} at step ${step}`);
    }
    const cfg = this.config;
    if (cfg.kind === 'adam' || cfg.kind === 'adamw') {
      const b1 = cfg.beta1 ?? 0.9;
      const b2 = cfg.beta2 ?? 0.999;
      const eps = cfg.eps ?? 1e-8;
      const bc1 = 1 - b1 ** step;
      const bc2 = 1 - b2 ** step;
      // PyTorch: p -= lr/bc1 · m / (sqrt(v)/sqrt(bc2) + eps) = lr·sqrt(bc2)/bc1 · m / (sqrt(v) + eps·sqrt(bc2)).
      return { [LR_INPUT]: lr, [STEP_SIZE]: (lr * Math.sqrt(bc2)) / bc1, [EPS_HAT]: eps * Math.sqrt(bc2) };
    }
    return { [LR_INPUT]: lr };
  }

  /**
   * Feeds for the scalar inputs `names` (a step's or a Loop's, in their order) over consecutive
   * steps: one value per step and name. A name this optimizer does not produce is an error,
   * never a silent 0 (a learning rate of 0 would train nothing and say nothing).
   */
  scalarFeeds(names: readonly string[], lrs: readonly number[], firstStep: number): Map<string, Float32Array> {
    const values = lrs.map((lr, j) => this.scalarValues(lr, firstStep + j));
    const out = new Map<string, Float32Array>();
    for (const name of names) {
      if (!this.scalars.includes(name)) {
        throw new WhittleError(
          'INVALID_GRAPH',
          `the training step reads a scalar input "${name}" that the ${this.config.kind} optimizer does not feed (it feeds ${this.scalars.join(', ')}); build the step with the same optimizer`,
        );
      }
      out.set(
        name,
        Float32Array.from(values, (v) => v[name] as number),
      );
    }
    for (const name of this.scalars) {
      if (!names.includes(name)) {
        throw new WhittleError(
          'INVALID_GRAPH',
          `the ${this.config.kind} optimizer needs the scalar input "${name}", which the training step does not read; build the step with the same optimizer`,
        );
      }
    }
    return out;
  }

  /** Emits the update for one parameter; returns [newParam, ...newState] value names. */
  emitUpdate(b: GraphBuilder, dtype: DType, u: UpdateNames): string[] {
    return emitUpdate(b, this.config, dtype, u);
  }
}

export interface UpdateNames {
  param: string;
  grad: string;
  /** Input names of the current state slots, in `slots` order. */
  state: string[];
}

function emitUpdate(b: GraphBuilder, cfg: OptimizerConfig, dtype: DType, u: UpdateNames): string[] {
  const c = (v: number, hint: string): string => b.constant(Tensor.scalar(dtype, v), hint);
  const { param: p } = u;
  let g = u.grad;
  const wd = cfg.weightDecay ?? 0;
  if (wd > 0 && cfg.kind !== 'adamw') g = b.op1('Add', [g, b.op1('Mul', [p, c(wd, 'wd')])]);
  switch (cfg.kind) {
    case 'sgd': {
      const mu = cfg.momentum ?? 0;
      if (mu === 0) return [b.op1('Sub', [p, b.op1('Mul', [g, LR_INPUT])])];
      const v = b.op1('Add', [b.op1('Mul', [u.state[0] as string, c(mu, 'mu')]), g]);
      const dir = cfg.nesterov ? b.op1('Add', [g, b.op1('Mul', [v, c(mu, 'mu')])]) : v;
      return [b.op1('Sub', [p, b.op1('Mul', [dir, LR_INPUT])]), v];
    }
    case 'adam':
    case 'adamw': {
      const b1 = cfg.beta1 ?? 0.9;
      const b2 = cfg.beta2 ?? 0.999;
      const m = b.op1('Add', [b.op1('Mul', [u.state[0] as string, c(b1, 'b1')]), b.op1('Mul', [g, c(1 - b1, 'one_minus_b1')])]);
      const v = b.op1('Add', [b.op1('Mul', [u.state[1] as string, c(b2, 'b2')]), b.op1('Mul', [b.op1('Mul', [g, g]), c(1 - b2, 'one_minus_b2')])]);
      const upd = b.op1('Mul', [b.op1('Div', [m, b.op1('Add', [b.op1('Sqrt', [v]), EPS_HAT])]), STEP_SIZE]);
      const decayed = cfg.kind === 'adamw' && wd > 0 ? b.op1('Sub', [p, b.op1('Mul', [p, b.op1('Mul', [LR_INPUT, c(wd, 'wd')])])]) : p;
      return [b.op1('Sub', [decayed, upd]), m, v];
    }
    case 'rmsprop': {
      const alpha = cfg.alpha ?? 0.99;
      const eps = cfg.eps ?? 1e-8;
      const sq = b.op1('Add', [b.op1('Mul', [u.state[0] as string, c(alpha, 'alpha')]), b.op1('Mul', [b.op1('Mul', [g, g]), c(1 - alpha, 'one_minus_alpha')])]);
      const step = b.op1('Div', [g, b.op1('Add', [b.op1('Sqrt', [sq]), c(eps, 'eps')])]);
      const mu = cfg.momentum ?? 0;
      if (mu === 0) return [b.op1('Sub', [p, b.op1('Mul', [step, LR_INPUT])]), sq];
      const buf = b.op1('Add', [b.op1('Mul', [u.state[1] as string, c(mu, 'mu')]), step]);
      return [b.op1('Sub', [p, b.op1('Mul', [buf, LR_INPUT])]), sq, buf];
    }
  }
}
