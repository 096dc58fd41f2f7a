// Sparsity-inducing regularizers added to the training objective as λ·R(W) (the training step's
// `extraLoss` hook): L1 on weights, and group lasso on whole neurons / filters. Both use the
// smooth forms √(w² + ε) so their gradients exist at 0; ε = 1e-8 changes nothing measurable.
import type { LossContext, StepExtensions } from '../../autodiff/train-step.js';
import { WhittleError } from '../../ir/errors.js';
import type { Graph } from '../../ir/graph.js';
import { attr } from '../../ir/graph.js';
import { Tensor } from '../../ir/tensor.js';
import { isLinearLayer, prunableLayers } from '../prune/layers.js';

const EPS = 1e-8;

function checkLambda(lambda: number): void {
  if (!(Number.isFinite(lambda) && lambda >= 0)) throw new WhittleError('BAD_ARGUMENT', `the regularization strength λ must be ≥ 0, got ${lambda}`);
}

/** Weights regularized by default: every layer's weight (Gemm/MatMul/Conv; LSTM/GRU/RNN W and R; embedding tables). */
function defaultWeights(graph: Graph): string[] {
  return prunableLayers(graph).map((l) => l.weight);
}

/**
 * λ·Σ|w| over the given weights (default: every layer's weight), for the training step.
 *
 * ```ts
 * await train(model, data, { ...opts, step: l1Regularizer(model.graph, 1e-5) });
 * ```
 */
export function l1Regularizer(graph: Graph, lambda: number, weights = defaultWeights(graph)): StepExtensions {
  checkLambda(lambda);
  return {
    extraLoss: (ctx: LossContext) => {
      const { b, dtype } = ctx;
      const eps = b.constant(Tensor.scalar(dtype, EPS), 'l1_eps');
      const terms = weights.map((w) => b.op1('ReduceSum', [b.op1('Sqrt', [b.op1('Add', [b.op1('Mul', [w, w]), eps])])], { keepdims: attr.int(0) }));
      return [b.op1('Mul', [terms.length === 1 ? (terms[0] as string) : b.op1('Sum', terms), b.constant(Tensor.scalar(dtype, lambda), 'l1_lambda')])];
    },
  };
}

/**
 * λ·Σ_g √|g| · ‖w_g‖₂ where each group g is one output neuron / filter of a layer (its row of
 * the weight), scaled by √(group size) as Yuan & Lin and Wen et al. do.
 *
 * ```ts
 * await train(model, data, { ...opts, step: groupLassoRegularizer(model.graph, 1e-4) });
 * ```
 */
export function groupLassoRegularizer(graph: Graph, lambda: number, layers?: readonly string[]): StepExtensions {
  checkLambda(lambda);
  // Groups are output channels: Gemm, MatMul and Conv weights (a recurrent weight's rows are gates).
  const chosen = prunableLayers(graph).filter((l) => isLinearLayer(l) && (layers === undefined || layers.includes(l.name)));
  if (chosen.length === 0)
    throw new WhittleError(
      'BAD_ARGUMENT',
      `group lasso has no Gemm, MatMul or Conv layer to act on${layers !== undefined ? ` among ${layers.join(', ') || '(none given)'}` : ''} (a recurrent node's hidden units are not regularized by it); prune those by magnitude instead`,
    );
  return {
    extraLoss: (ctx: LossContext) => {
      const { b, dtype } = ctx;
      const eps = b.constant(Tensor.scalar(dtype, EPS), 'gl_eps');
      const terms = chosen.map((l) => {
        // Output channels sit on axis 0 except for a Gemm without transB and MatMul ([in, out]).
        const node = graph.nodes.find((n) => n.name === l.name);
        const outAxis = l.opType === 'MatMul' || (l.opType === 'Gemm' && node !== undefined && (node.attributes['transB']?.value ?? 0) === 0) ? 1 : 0;
        const axes = l.dims.map((_, i) => i).filter((i) => i !== outAxis);
        const groupSize = axes.reduce((a, i) => a * (l.dims[i] as number), 1);
        const sq = b.op1('ReduceSum', [b.op1('Mul', [l.weight, l.weight]), b.constant(Tensor.int64(axes), 'gl_axes')], { keepdims: attr.int(0) });
        const norms = b.op1('Sqrt', [b.op1('Add', [sq, eps])]);
        return b.op1('Mul', [b.op1('ReduceSum', [norms], { keepdims: attr.int(0) }), b.constant(Tensor.scalar(dtype, Math.sqrt(groupSize)), 'gl_scale')]);
      });
      return [b.op1('Mul', [terms.length === 1 ? (terms[0] as string) : b.op1('Sum', terms), b.constant(Tensor.scalar(dtype, lambda), 'gl_lambda')])];
    },
  };
}
export {
  KL_K1,
  KL_K2,
  KL_K3,
  type SparsifyOptions,
  type SparsifyResult,
  type VariationalLayer,
  type VariationalModel,
  type VariationalOptions,
  klApproximation,
  logAlpha,
  logSigma2Name,
  sparsifyVariational,
  variationalKL,
  variationalModel,
} from './variational.js';
