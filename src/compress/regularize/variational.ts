// Sparse variational dropout (Molchanov, Ashukha & Vetrov 2017) as a training mode: every chosen
// layer's weight w gets a learned log σ² (additive reparameterization, log α = log σ² − log w²);
// the forward pass samples the layer's pre-activation by the local reparameterization trick
// (mean op(x, w), variance op(x², σ²)), the objective adds the KL approximation of the paper, and
// at the end weights with log α above a threshold (3) are set to zero.
import type { StepExtensions } from '../../autodiff/train-step.js';
import { WhittleError } from '../../ir/errors.js';
import type { Attribute, Graph, Model, Node } from '../../ir/graph.js';
import { attr, GraphBuilder } from '../../ir/graph.js';
import { inferShapes } from '../../ir/shape.js';
import { Tensor } from '../../ir/tensor.js';
import { SHAPE_RULES } from '../../ops/index.js';
import { isLinearLayer, prunableLayers } from '../prune/layers.js';

/** The constants of the paper's KL approximation: −KL ≈ k1·σ(k2 + k3·log α) − ½·log(1 + 1/α) − k1. */
export const KL_K1 = 0.63576;
export const KL_K2 = 1.8732;
export const KL_K3 = 1.48695;
/** log α is clipped to ±8 inside the KL (as in the paper's code): beyond it the weight is noise either way. */
const LOG_ALPHA_CLIP = 8;
const EPS = 1e-8;

export interface VariationalOptions {
  /** Layers (node names) made variational; default every Gemm/MatMul/Conv layer. */
  layers?: readonly string[];
  /** Starting log α of every weight (log σ² = log w² + this); default −4 (σ ≈ 0.14·|w|). */
  initLogAlpha?: number;
  /** Seed of the in-graph Gaussian noise (RandomNormalLike), so a run repeats. */
  seed?: number;
}

export interface VariationalLayer {
  /** Node name, its weight, and the log σ² parameter added beside it. */
  name: string;
  weight: string;
  logSigma2: string;
}

export interface VariationalModel {
  /** The training form: the source graph with noise on each chosen layer and log σ² parameters. */
  model: Model;
  /** The inference model it came from (its graph is what `sparsifyVariational` returns). */
  source: Model;
  layers: VariationalLayer[];
}

export function logSigma2Name(weight: string): string {
  return `${weight}.log_sigma2`;
}

/** log α = log σ² − log(w² + ε), element by element (the paper's additive reparameterization). */
export function logAlpha(weight: Float32Array, logSigma2: Float32Array): Float32Array {
  return weight.map((w, i) => (logSigma2[i] as number) - Math.log(w * w + EPS));
}

/** The paper's approximation of KL(q(w) ‖ log-uniform prior) for one weight, from its log α (clipped to ±8). */
export function klApproximation(la: number): number {
  const c = Math.max(-LOG_ALPHA_CLIP, Math.min(LOG_ALPHA_CLIP, la));
  const sigmoid = 1 / (1 + Math.exp(-(KL_K2 + KL_K3 * c)));
  return KL_K1 - KL_K1 * sigmoid + 0.5 * Math.log1p(Math.exp(-c));
}

/**
 * The training form of `model` for sparse variational dropout.
 *
 * ```ts
 * const vm = variationalModel(model, { seed: 1 });
 * const res = await train(vm.model, data, { ...opts, optimizer: { kind: 'adam' }, step: variationalKL(vm, 1 / data.count) });
 * const sparse = sparsifyVariational(res.model, vm).model;
 * ```
 */
export function variationalModel(model: Model, o: VariationalOptions = {}): VariationalModel {
  const linear = prunableLayers(model.graph).filter(isLinearLayer);
  const chosen = linear.filter((l) => o.layers === undefined || o.layers.includes(l.name));
  if (o.layers !== undefined) {
    const missing = o.layers.filter((n) => !chosen.some((l) => l.name === n));
    if (missing.length > 0)
      throw new WhittleError(
        'BAD_ARGUMENT',
        `variational dropout: no Gemm/MatMul/Conv layer named ${missing.join(', ')} (layers: ${linear.map((l) => l.name).join(', ')})`,
      );
  }
  if (chosen.length === 0) throw new WhittleError('BAD_ARGUMENT', 'variational dropout needs at least one Gemm/MatMul/Conv layer with an initializer weight');
  const init = o.initLogAlpha ?? -4;
  const g = model.graph.clone();
  const shapes = inferShapes(g, SHAPE_RULES);
  const b = new GraphBuilder(g, 'vd');
  const layers: VariationalLayer[] = [];
  chosen.forEach((l, k) => {
    const index = g.nodes.findIndex((n) => n.name === l.name);
    const node = g.nodes[index] as Node;
    const w = g.initializers.get(l.weight) as Tensor;
    const logSigma2 = logSigma2Name(l.weight);
    g.initializers.set(
      logSigma2,
      new Tensor(
        'float32',
        [...w.dims],
        (w.data as Float32Array).map((v) => Math.log(v * v + EPS) + init),
      ),
    );
    layers.push({ name: l.name, weight: l.weight, logSigma2 });
    const out = node.outputs[0] as string;
    const mean = b.fresh(`${out}.mean`);
    node.outputs = [mean, ...node.outputs.slice(1)];
    const before = g.nodes.length;
    const x = node.inputs[0] as string;
    const x2 = b.op1('Mul', [x, x]);
    const s2 = b.op1('Exp', [logSigma2]);
    let variance: string;
    if (node.opType === 'Gemm') {
      const alpha = (node.attributes['alpha']?.value as number | undefined) ?? 1;
      const attrs: Record<string, Attribute> = { ...node.attributes, alpha: attr.float(alpha * alpha) };
      delete attrs['beta'];
      variance = b.op1('Gemm', [x2, s2], attrs);
    } else if (node.opType === 'Conv') {
      variance = b.op1('Conv', [x2, s2], { ...node.attributes });
    } else if (node.opType === 'MatMul') {
      variance =
        node.inputs[1] === l.weight ? b.op1('MatMul', [x2, s2]) : b.op1('MatMul', [s2, b.op1('Mul', [node.inputs[1] as string, node.inputs[1] as string])]);
    } else {
      throw new WhittleError('BAD_ARGUMENT', `variational dropout: ${node.opType} "${node.name}" is not a Gemm, MatMul or Conv layer`);
    }
    const sd = b.op1('Sqrt', [b.op1('Add', [variance, b.constant(Tensor.scalar('float32', EPS), 'vd_eps')])]);
    // The noise's shape comes through Shape (an integer tensor), so the noise depends on no parameter and needs no gradient.
    const zeros = b.op1('ConstantOfShape', [b.op1('Shape', [mean])]);
    const noise = b.op1('RandomNormalLike', [zeros], { dtype: attr.int(1), seed: attr.float((o.seed ?? 0) * 1009 + k + 1) });
    const ts = shapes.get(out);
    if (ts !== undefined) g.valueInfo.set(noise, { name: noise, dtype: 'float32', shape: [...ts.shape] });
    b.op('Add', [mean, b.op1('Mul', [sd, noise])], {}, [out]);
    const added = g.nodes.splice(before);
    g.nodes.splice(index + 1, 0, ...added);
  });
  return { model: { ...model, graph: g }, source: model, layers };
}

/**
 * The KL term for the training step: `weight`·Σ KL(log α) over every variational weight. With
 * `weight` = 1 / (training samples) the objective is the paper's negative ELBO per sample.
 *
 * ```ts
 * const step = variationalKL(vm, 1 / 54000);
 * ```
 */
export function variationalKL(vm: VariationalModel, weight: number): StepExtensions {
  if (!(Number.isFinite(weight) && weight >= 0)) throw new WhittleError('BAD_ARGUMENT', `the KL weight must be ≥ 0, got ${weight}`);
  return {
    extraLoss: ({ b, dtype }) => {
      const c = (v: number, hint: string): string => b.constant(Tensor.scalar(dtype, v), hint);
      const terms = vm.layers.map((l) => {
        const w2 = b.op1('Add', [b.op1('Mul', [l.weight, l.weight]), c(EPS, 'vd_eps')]);
        const la = b.op1('Clip', [b.op1('Sub', [l.logSigma2, b.op1('Log', [w2])]), c(-LOG_ALPHA_CLIP, 'vd_min'), c(LOG_ALPHA_CLIP, 'vd_max')]);
        const sig = b.op1('Sigmoid', [b.op1('Add', [c(KL_K2, 'vd_k2'), b.op1('Mul', [c(KL_K3, 'vd_k3'), la])])]);
        const soft = b.op1('Softplus', [b.op1('Neg', [la])]);
        // KL = k1 − k1·σ(k2 + k3·log α) + ½·softplus(−log α)
        const kl = b.op1('Add', [b.op1('Sub', [c(KL_K1, 'vd_k1'), b.op1('Mul', [c(KL_K1, 'vd_k1'), sig])]), b.op1('Mul', [c(0.5, 'vd_half'), soft])]);
        return b.op1('ReduceSum', [kl], { keepdims: attr.int(0) });
      });
      const total = terms.length === 1 ? (terms[0] as string) : b.op1('Sum', terms);
      return [b.op1('Mul', [total, c(weight, 'vd_kl_weight')])];
    },
  };
}

export interface SparsifyResult {
  /** The source graph with the trained weights, those whose log α exceeds the threshold zeroed. */
  model: Model;
  /** Fraction of each variational weight set to zero, by weight name. */
  sparsity: Record<string, number>;
}

/** Options of `sparsifyVariational`. */
export interface SparsifyOptions {
  /** Weights with log α above this are dropped (default 3: the paper's, dropout rate above 95%). */
  threshold?: number;
  /**
   * Per weight name, the most of it that may be zeroed: where log α drops more, the dropped
   * weights with the lowest log α are kept until the fraction is met (a budget that has room).
   */
  maxSparsity?: Readonly<Record<string, number>>;
}

/**
 * Back to the inference graph: trained values copied in, weights with log α > `threshold` (the
 * paper's 3, i.e. dropout rate above 95%) set to exactly zero, at most `maxSparsity` of a weight.
 *
 * ```ts
 * const { model, sparsity } = sparsifyVariational(res.model, vm, { maxSparsity: { 'fc1.weight': 0.9 } });
 * ```
 */
export function sparsifyVariational(trained: Model, vm: VariationalModel, o: SparsifyOptions = {}): SparsifyResult {
  const threshold = o.threshold ?? 3;
  const g: Graph = vm.source.graph.clone();
  for (const k of [...g.initializers.keys()]) {
    const t = trained.graph.initializers.get(k);
    if (t !== undefined) g.initializers.set(k, t);
  }
  const sparsity: Record<string, number> = {};
  for (const l of vm.layers) {
    const w = g.initializers.get(l.weight) as Tensor;
    const s2 = trained.graph.initializers.get(l.logSigma2);
    if (s2 === undefined)
      throw new WhittleError('BAD_ARGUMENT', `the trained model has no "${l.logSigma2}"; pass the model that training returned for this variational model`);
    const la = logAlpha(w.data as Float32Array, s2.data as Float32Array);
    const data = Float32Array.from(w.data as Float32Array);
    const cap = o.maxSparsity?.[l.weight];
    // Dropped weights with the lowest log α come back first, up to the cap's count of nonzeros.
    let keepAbove = threshold;
    if (cap !== undefined) {
      const live = la.filter((_, i) => data[i] !== 0).sort();
      const keep = Math.min(live.length, Math.ceil((1 - cap) * data.length));
      if (keep > 0 && (live[keep - 1] as number) > threshold) keepAbove = live[keep - 1] as number;
    }
    let zeros = 0;
    la.forEach((a, i) => {
      if (a > keepAbove || data[i] === 0) {
        data[i] = 0;
        zeros++;
      }
    });
    g.initializers.set(l.weight, new Tensor('float32', [...w.dims], data));
    sparsity[l.weight] = zeros / data.length;
  }
  return { model: { ...vm.source, graph: g }, sparsity };
}
