// Assembles a training-step graph from an inference model: loss, gradients, in-graph optimizer
// update. Parameters, optimizer state and BatchNorm running statistics become graph inputs and
// their next values graph outputs, so the host owns every number between steps.
import { WhittleError } from '../ir/errors.js';
import type { Graph, Model, Node } from '../ir/graph.js';
import { attr, GraphBuilder, getInt } from '../ir/graph.js';
import type { DType } from '../ir/tensor.js';
import { Tensor } from '../ir/tensor.js';
import { trainableInitializers } from '../ir/params.js';
import { convTransposeAsMatMul, fuseMomentumIntoGemm, splitLongConvs, splitWideConvs, unfoldSingleChannelConvs } from './fuse.js';
import { addGradients } from './gradients.js';
import { upgradeOpset } from '../ir/opset.js';
import { upgradeToTrainingOpset } from './opset.js';
import type { OptimizerConfig } from './optimizer.js';
import { Optimizer } from './optimizer.js';

export type LossKind = 'cross-entropy' | 'mse';

/** What an extra loss term sees: the training graph being built, before differentiation. */
export interface LossContext {
  graph: Graph;
  b: GraphBuilder;
  /** The model's input, its logits, the labels input, and the trainable parameters. */
  input: string;
  logits: string;
  labels: string;
  params: readonly string[];
  dtype: DType;
  /** Declares an extra graph input fed every run (e.g. a teacher's logits); returns its name. */
  addInput(name: string, dtype: DType, shape: (number | string)[]): string;
}

/** The hooks compression methods use; each is optional and composes with the others. */
export interface StepExtensions {
  /** Rewrites the forward graph before differentiation (e.g. fake quantization); keep parameter names. */
  forwardRewrite?: (graph: Graph) => void;
  /** Adds scalar loss terms (regularizers, distillation); returns their value names. */
  extraLoss?: (ctx: LossContext) => string[];
  /** Weight of the built-in loss (cross-entropy or MSE); default 1. */
  baseLossWeight?: number;
  /**
   * Parameters held under a 0/1 mask fed each run as `${param}.mask`: after every update
   * p ← update(p) · mask, so pruned weights stay exactly zero and never come back.
   */
  masked?: readonly string[];
  /** Initializers to keep fixed. */
  frozen?: readonly string[];
}

export interface TrainStepOptions extends StepExtensions {
  /** The optimizer, or its config. */
  optimizer: Optimizer | OptimizerConfig;
  loss?: LossKind;
  /** Fold optimizer arithmetic into the gradient kernels where exact (default true; false: one op per update term). */
  fuse?: boolean;
  /**
   * The intra-op threads the step will run with (default 1). With 2 or more (and `fuse`), Convs
   * with more filters than output positions are split into filter groups (splitWideConvs), which
   * onnxruntime threads over the batch, and ConvTransposes (Conv input gradients) become one
   * batched MatMul and a Col2Im (convTransposeAsMatMul; the graph goes to opset 18); at 1 thread
   * both measured slower.
   */
  threads?: number;
  /**
   * Convs on a single-channel model input as a product over the input's unfold
   * (unfoldSingleChannelConvs; needs `fuse`). Default off: ~0.1 ms per LeNet-5 step at 2 threads
   * (kernel time, loaded machine, not yet confirmed in wall time), slower at 1 thread, and it
   * changes float rounding enough to move a short chaotic run (the MobileNetV2 e2e test's
   * 50-step accuracy 38% → 21%, gradients equal to 1e-6 relative).
   */
  unfoldInputConvs?: boolean;
  /**
   * Clip the gradient to this global L2 norm (over every trainable parameter together) before
   * the update, as PyTorch's `clip_grad_norm_`: g · min(1, clipNorm / ‖g‖). Undefined: no clipping.
   */
  clipNorm?: number;
}

/** An input fed unchanged to every run, set by the caller (masks, teacher outputs). */
export interface ExtraInput {
  name: string;
  dtype: DType;
  shape: (number | string)[];
}

/** A value fed each step whose next value the step returns. */
export interface Carried {
  input: string;
  output: string;
  dims: number[];
  dtype: DType;
  /** Where the initial value comes from: a model initializer, or zeros (optimizer state). */
  init: { kind: 'initializer'; name: string } | { kind: 'zeros' };
}

export interface TrainStep {
  model: Model;
  /** Names of the trainable parameters (initializers of the source model). */
  params: string[];
  carried: Carried[];
  input: string;
  labels: string;
  loss: string;
  /** Number of correct argmax predictions in the batch (cross-entropy only). */
  correct: string | undefined;
  /** The optimizer whose update the step holds: it names and feeds the state and the scalars. */
  optimizer: Optimizer;
  /** Per-step scalar inputs (learning rate and optimizer terms): `optimizer.scalars`. */
  scalars: string[];
  /** Inputs the caller feeds besides batch, scalars and carried state (masks: `${param}.mask`). */
  extra: ExtraInput[];
}

/**
 * Scales every gradient by min(1, `clipNorm` / ‖g‖), ‖g‖ the L2 norm over all of them together
 * (written as clipNorm / max(‖g‖, clipNorm)): a step's size is bounded whatever its loss did.
 */
function clipGradients(b: GraphBuilder, grads: Map<string, string>, params: readonly string[], clipNorm: number, dtype: DType): void {
  if (!(clipNorm > 0) || !Number.isFinite(clipNorm)) throw new WhittleError('BAD_ARGUMENT', `clipNorm must be a finite number > 0, got ${clipNorm}`);
  const squares = params.map((p) => {
    const gp = grads.get(p) as string;
    return b.op1('ReduceSum', [b.op1('Mul', [gp, gp])], { keepdims: attr.int(0) });
  });
  const total = squares.length === 1 ? (squares[0] as string) : b.op1('Sum', squares);
  const limit = b.constant(Tensor.scalar(dtype, clipNorm), 'clip_norm');
  const scale = b.op1('Div', [limit, b.op1('Max', [b.op1('Sqrt', [total]), limit])]);
  for (const p of params) grads.set(p, b.op1('Mul', [grads.get(p) as string, scale]));
}

export function maskName(param: string): string {
  return `${param}.mask`;
}

/** Float initializers that are weights: what the optimizer updates (float32/float64, non-scalar, not BatchNorm statistics). */
export function trainableParameters(graph: Graph, frozen: readonly string[] = []): string[] {
  return trainableInitializers(graph, frozen);
}

/**
 * Builds the training step for `model` (an inference graph with one input and logits as its
 * first output).
 *
 * ```ts
 * const step = buildTrainStep(createModel('lenet-300-100'), { optimizer: { kind: 'sgd', momentum: 0.9 } });
 * ```
 */
export function buildTrainStep(source: Model, options: TrainStepOptions): TrainStep {
  // Older opsets are rewritten to the one the gradient rules and the optimizer emit.
  const model = upgradeToTrainingOpset(source);
  const src = model.graph;
  if (src.inputs.length !== 1) {
    throw new WhittleError(
      'BAD_ARGUMENT',
      `training needs a model with exactly one input, this one has ${src.inputs.length} (${src.inputs.map((i) => i.name).join(', ')})`,
    );
  }
  const out = src.outputs[0];
  if (out === undefined) throw new WhittleError('INVALID_GRAPH', 'the model has no output to train');
  const g = src.clone();
  g.name = `${src.name}_train`;
  const input = (src.inputs[0] as { name: string }).name;
  const b = new GraphBuilder(g, 'train');
  const params = trainableParameters(src, options.frozen);
  if (params.length === 0) throw new WhittleError('BAD_ARGUMENT', 'the model has no trainable parameters (float initializers)');
  const carried: Carried[] = [];
  const promote = (name: string): void => {
    const t = g.initializers.get(name) as Tensor;
    g.initializers.delete(name);
    g.inputs.push({ name, dtype: t.dtype, shape: [...t.dims] });
  };

  // Training-mode forms: BatchNorm uses batch statistics and returns updated running stats;
  // Dropout drops.
  for (const n of g.nodes) {
    if (n.opType === 'BatchNormalization') {
      n.attributes['training_mode'] = attr.int(1);
      const stats: string[] = [];
      for (const slot of [3, 4]) {
        const name = n.inputs[slot] as string;
        const t = g.initializers.get(name);
        if (t === undefined) throw new WhittleError('BAD_ARGUMENT', `BatchNormalization "${n.name}": running statistic "${name}" is not an initializer`);
        promote(name);
        const next = b.fresh(`${name}.next`);
        stats.push(next);
        carried.push({ input: name, output: next, dims: [...t.dims], dtype: t.dtype, init: { kind: 'initializer', name } });
      }
      n.outputs = [n.outputs[0] as string, ...stats];
    } else if (n.opType === 'Dropout') {
      const ratio = n.inputs[1] || b.constant(Tensor.scalar('float32', 0.5), 'ratio');
      n.inputs = [n.inputs[0] as string, ratio, b.constant(Tensor.fromArray('bool', [], [1]), 'training')];
      if (n.outputs.length < 2 || !n.outputs[1]) n.outputs = [n.outputs[0] as string, b.fresh(`${n.name}.mask`)];
    }
  }
  for (const p of params) promote(p);
  options.forwardRewrite?.(g);

  const labels = 'labels';
  let loss: string;
  let correct: string | undefined;
  const kind = options.loss ?? 'cross-entropy';
  if (kind === 'cross-entropy') {
    g.inputs.push({ name: labels, dtype: 'int64', shape: ['N'] });
    loss = b.op('SoftmaxCrossEntropyLoss', [out.name, labels], { reduction: attr.string('mean') }, ['loss'])[0] as string;
  } else {
    g.inputs.push({ name: labels, dtype: out.dtype, shape: [...out.shape] });
    const d = b.op1('Sub', [out.name, labels]);
    loss = b.op('ReduceMean', [b.op1('Mul', [d, d])], { keepdims: attr.int(0) }, ['loss'])[0] as string;
  }

  const extra: ExtraInput[] = [];
  const addInput = (name: string, dtype: DType, shape: (number | string)[]): string => {
    g.inputs.push({ name, dtype, shape: [...shape] });
    extra.push({ name, dtype, shape: [...shape] });
    return name;
  };
  const weight = options.baseLossWeight ?? 1;
  const terms = options.extraLoss?.({ graph: g, b, input, logits: out.name, labels, params, dtype: out.dtype, addInput }) ?? [];
  let objective = loss;
  if (weight !== 1 || terms.length > 0) {
    const base = weight === 1 ? loss : b.op1('Mul', [loss, b.constant(Tensor.scalar(out.dtype, weight), 'base_loss_weight')]);
    objective = terms.length === 0 ? base : (b.op('Sum', [base, ...terms], {}, ['objective'])[0] as string);
  }
  if (options.fuse !== false && options.unfoldInputConvs === true) unfoldSingleChannelConvs(g, input);
  const grads = addGradients(g, objective, params);
  if (options.clipNorm !== undefined) clipGradients(b, grads, params, options.clipNorm, out.dtype);

  const optimizer = options.optimizer instanceof Optimizer ? options.optimizer : new Optimizer(options.optimizer);
  const dtype = out.dtype;
  optimizer.declareScalars(g, dtype);
  const masked = new Set(options.masked ?? []);
  for (const m of masked) {
    if (!params.includes(m)) throw new WhittleError('BAD_ARGUMENT', `cannot mask "${m}": it is not a trainable parameter (${params.join(', ')})`);
  }
  const ub = new GraphBuilder(g, 'opt');
  for (const p of params) {
    const pt = model.graph.initializers.get(p) as Tensor;
    const state = optimizer.stateInputs(p);
    for (const name of state) g.inputs.push({ name, dtype: pt.dtype, shape: [...pt.dims] });
    const [updated, ...nextState] = optimizer.emitUpdate(ub, pt.dtype, { param: p, grad: grads.get(p) as string, state });
    let next = updated as string;
    if (masked.has(p)) next = ub.op1('Mul', [next, addInput(maskName(p), pt.dtype, [...pt.dims])]);
    carried.push({ input: p, output: next, dims: [...pt.dims], dtype: pt.dtype, init: { kind: 'initializer', name: p } });
    state.forEach((s, i) => carried.push({ input: s, output: nextState[i] as string, dims: [...pt.dims], dtype: pt.dtype, init: { kind: 'zeros' } }));
  }

  if (kind === 'cross-entropy') {
    const pred = b.op1('ArgMax', [out.name], { axis: attr.int(1), keepdims: attr.int(0) });
    correct = b.op('ReduceSum', [b.op1('Cast', [b.op1('Equal', [pred, labels])], { to: attr.int(1) })], { keepdims: attr.int(0) }, ['correct'])[0] as string;
  }

  // The reported loss is the objective actually minimized (base loss plus extra terms).
  g.outputs = [{ name: objective, dtype, shape: [] }];
  if (correct !== undefined) g.outputs.push({ name: correct, dtype: 'float32', shape: [] });
  for (const c of carried) g.outputs.push({ name: c.output, dtype: c.dtype, shape: c.dims });
  let stepModel: Model = { ...model, graph: g, metadata: { ...model.metadata } };
  if (options.fuse !== false) {
    fuseMomentumIntoGemm(g, options.threads ?? 1);
    if ((options.threads ?? 1) > 1) {
      splitWideConvs(g);
      splitLongConvs(g);
      if (convTransposeAsMatMul(g) > 0) stepModel = upgradeOpset(stepModel, 18);
    }
  }
  return {
    model: stepModel,
    params,
    carried,
    input,
    labels,
    loss: objective,
    correct,
    optimizer,
    scalars: [...optimizer.scalars],
    extra,
  };
}

/** True when a BatchNormalization node is in training form. */
export function isTrainingBatchNorm(n: Node): boolean {
  return n.opType === 'BatchNormalization' && getInt(n, 'training_mode', 0) === 1;
}
