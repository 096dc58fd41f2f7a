// Label smoothing (Szegedy et al., arXiv 1512.00567 §7): cross-entropy against (1 − ε)·one-hot +
// ε/C instead of the one-hot label, as PyTorch's `CrossEntropyLoss(label_smoothing=ε)`. Written
// as a training-step extension: (1 − ε)·CE plus ε·mean over classes of −log softmax, which is the
// same loss, so every hook (masks, distillation, regularizers) composes with it.
import type { LossContext, StepExtensions } from '../autodiff/train-step.js';
import { WhittleError } from '../ir/errors.js';
import { attr } from '../ir/graph.js';
import { Tensor } from '../ir/tensor.js';

/**
 * Model metadata naming the label smoothing a model was trained with (absent: none). A smoothed
 * teacher's flatter soft targets teach a student less (Müller et al., arXiv 1906.02629).
 */
export const LABEL_SMOOTHING_KEY = 'whittle.labelSmoothing';

/** Checks a label-smoothing ε: 0 ≤ ε < 1 (0: off). */
export function checkLabelSmoothing(epsilon: number): void {
  if (!(epsilon >= 0 && epsilon < 1)) throw new WhittleError('BAD_ARGUMENT', `label smoothing must be in [0, 1), got ${epsilon}; 0.1 is usual`);
}

/**
 * `base` with label smoothing ε added to its cross-entropy: the base loss weighted by (1 − ε) and
 * ε·mean(−log softmax(logits)) as one more loss term, both times `base`'s base-loss weight (ε = 0
 * returns `base` unchanged).
 *
 * ```ts
 * await train(model, data, { ...options, step: withLabelSmoothing(options.step, 0.1) });
 * ```
 */
export function withLabelSmoothing(base: StepExtensions | undefined, epsilon: number): StepExtensions | undefined {
  checkLabelSmoothing(epsilon);
  if (epsilon === 0) return base;
  // A weighted base loss (distillation's 1 − α) weighs its smoothed form as a whole.
  const weight = base?.baseLossWeight ?? 1;
  return {
    ...base,
    baseLossWeight: weight * (1 - epsilon),
    extraLoss: (ctx: LossContext) => {
      const { b, dtype } = ctx;
      // Mean over the batch and the classes of log p; × −ε.
      const meanLogP = b.op1('ReduceMean', [b.op1('LogSoftmax', [ctx.logits], { axis: attr.int(-1) })], { keepdims: attr.int(0) });
      const term = b.op('Mul', [meanLogP, b.constant(Tensor.scalar(dtype, -epsilon * weight), 'label_smoothing')], {}, ['label_smoothing_loss'])[0] as string;
      return [...(base?.extraLoss?.(ctx) ?? []), term];
    },
  };
}
