// In-graph optimizer updates: each step's new parameters and optimizer state are outputs of the
// training graph, so the update runs in ORT's kernels instead of a JS loop over the weights.
import { WhittleError } from '../ir/errors.js';
import type { GraphBuilder } from '../ir/graph.js';
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
export function stateSlots(cfg: OptimizerConfig): string[] {
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

/** Scalar inputs fed each step: 'lr' always, plus Adam's bias-corrected terms. */
export function stepScalars(cfg: OptimizerConfig, lr: number, step: number): Record<string, number> {
  if (cfg.kind === 'adam' || cfg.kind === 'adamw') {
    const b1 = cfg.beta1 ?? 0.9;
    const b2 = cfg.beta2 ?? 0.999;
    const eps = cfg.eps ?? 1e-8;
    const bc1 = 1 - b1 ** step;
    const bc2 = 1 - b2 ** step;
    // PyTorch: p -= lr/bc1 · m / (sqrt(v)/sqrt(bc2) + eps) = lr·sqrt(bc2)/bc1 · m / (sqrt(v) + eps·sqrt(bc2)).
    return { lr, 'opt.step_size': (lr * Math.sqrt(bc2)) / bc1, 'opt.eps_hat': eps * Math.sqrt(bc2) };
  }
  return { lr };
}

export interface UpdateNames {
  param: string;
  grad: string;
  /** Input names of the current state slots, in `stateSlots` order. */
  state: string[];
}

/** Emits the update for one parameter; returns [newParam, ...newState] value names. */
export function emitUpdate(b: GraphBuilder, cfg: OptimizerConfig, dtype: DType, u: UpdateNames): string[] {
  const c = (v: number, hint: string): string => b.constant(Tensor.scalar(dtype, v), hint);
  const { param: p } = u;
  let g = u.grad;
  const wd = cfg.weightDecay ?? 0;
  if (wd > 0 && cfg.kind !== 'adamw') g = b.op1('Add', [g, b.op1('Mul', [p, c(wd, 'wd')])]);
  switch (cfg.kind) {
    case 'sgd': {
      const mu = cfg.momentum ?? 0;
      if (mu === 0) return [b.op1('Sub', [p, b.op1('Mul', [g, 'lr'])])];
      const v = b.op1('Add', [b.op1('Mul', [u.state[0] as string, c(mu, 'mu')]), g]);
      const dir = cfg.nesterov ? b.op1('Add', [g, b.op1('Mul', [v, c(mu, 'mu')])]) : v;
      return [b.op1('Sub', [p, b.op1('Mul', [dir, 'lr'])]), v];
    }
    case 'adam':
    case 'adamw': {
      const b1 = cfg.beta1 ?? 0.9;
      const b2 = cfg.beta2 ?? 0.999;
      const m = b.op1('Add', [b.op1('Mul', [u.state[0] as string, c(b1, 'b1')]), b.op1('Mul', [g, c(1 - b1, 'one_minus_b1')])]);
      const v = b.op1('Add', [b.op1('Mul', [u.state[1] as string, c(b2, 'b2')]), b.op1('Mul', [b.op1('Mul', [g, g]), c(1 - b2, 'one_minus_b2')])]);
      const upd = b.op1('Mul', [b.op1('Div', [m, b.op1('Add', [b.op1('Sqrt', [v]), 'opt.eps_hat'])]), 'opt.step_size']);
      const decayed = cfg.kind === 'adamw' && wd > 0 ? b.op1('Sub', [p, b.op1('Mul', [p, b.op1('Mul', ['lr', c(wd, 'wd')])])]) : p;
      return [b.op1('Sub', [decayed, upd]), m, v];
    }
    case 'rmsprop': {
      const alpha = cfg.alpha ?? 0.99;
      const eps = cfg.eps ?? 1e-8;
      const sq = b.op1('Add', [b.op1('Mul', [u.state[0] as string, c(alpha, 'alpha')]), b.op1('Mul', [b.op1('Mul', [g, g]), c(1 - alpha, 'one_minus_alpha')])]);
      const step = b.op1('Div', [g, b.op1('Add', [b.op1('Sqrt', [sq]), c(eps, 'eps')])]);
      const mu = cfg.momentum ?? 0;
      if (mu === 0) return [b.op1('Sub', [p, b.op1('Mul', [step, 'lr'])]), sq];
      const buf = b.op1('Add', [b.op1('Mul', [u.state[1] as string, c(mu, 'mu')]), step]);
      return [b.op1('Sub', [p, b.op1('Mul', [buf, 'lr'])]), sq, buf];
    }
  }
}
