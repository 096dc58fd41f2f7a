// Deep Compression (Han, Mao, Dally 2016) as one library call: magnitude pruning with masked
// fine-tuning, k-means weight sharing, centroid fine-tuning in the graph, then the container.
import type { OptimizerConfig } from '../autodiff/optimizer.js';
import type { Dataset, Normalization, TensorDataset } from '../data/index.js';
import { WhittleError } from '../ir/errors.js';
import type { Model } from '../ir/graph.js';
import { Tensor } from '../ir/tensor.js';
import { evaluate } from '../train/evaluate.js';
import type { ProgressEvent, TrainOptions } from '../train/trainer.js';
import { train } from '../train/trainer.js';
import type { PipelineListener } from './events.js';
import type { SharedWeight } from '../compress/codec/container.js';
import { roundToHalf } from '../ir/half.js';
import { agpPrune, fineTuneMasked, magnitudePrune, prunableLayers } from '../compress/prune/index.js';
import { denseFromShared, kmeansShareWeights, readCodebooks, resolveWeight, sharedTrainingModel, withSharedValues } from '../compress/kmeans/share.js';

/** What to do to one layer's weight. */
export interface LayerPlan {
  /**
   * A layer as pruning names it (`prunableLayers`: a Gemm, Conv or MatMul node; an LSTM/GRU/RNN's
   * `NODE.W` or `NODE.R`; an embedding's Gather node) or a weight initializer name; or a pattern
   * with `*` (any run of characters) over those layer names, so that a model Whittle did not build
   * can be planned without listing its layers (`'*'`: all of them). A named layer takes its own
   * entry; among patterns, the first that matches a layer plans it.
   */
  layer: string;
  /** Fraction of the weights to prune, in [0, 1). */
  sparsity: number;
  /** Index bits: 2^bits shared values. */
  bits: number;
}

export interface FineTune {
  epochs: number;
  lr: number;
}

export interface DeepCompressionOptions {
  layers: readonly LayerPlan[];
  /**
   * 'agp' (default): gradual magnitude pruning during `epochs` of training (the cubic ramp over
   * the first 3/4). 'rounds': prune → fine-tune `epochs` → ..., `rounds` times, sparsity ramping up.
   */
  prune: FineTune & { method?: 'agp' | 'rounds'; rounds?: number };
  /** Fine-tuning of the shared centroids (gradients summed per cluster). */
  centroids: FineTune;
  /**
   * Round the codebooks and the other float parameters (biases) to float16 at the end, so the
   * container stores them in 2 bytes; the reported accuracy includes the rounding.
   */
  halfPrecision?: boolean;
  batchSize: number;
  optimizer: OptimizerConfig;
  normalization: Normalization;
  seed?: number;
  threads?: number;
  /** Training steps per onnxruntime call; default the trainer's (`DEFAULT_STEPS_PER_RUN`). */
  stepsPerRun?: number;
  /**
   * Validation data for the accuracy after each stage: samples held out of the training data
   * (`splitValidation`), so that the test set is evaluated once, on the result. The same kind as
   * the training data: image bytes (MNIST, CIFAR) or the model's own input tensors.
   */
  validation: Dataset | TensorDataset;
  /** Each stage's validation accuracy, and the progress of each fine-tuning run (its stage says which). */
  onEvent?: PipelineListener;
}

export type StageName = 'baseline' | 'pruned' | 'quantized' | 'centroids';
export interface StageEvent {
  stage: StageName;
  /** Accuracy on the validation data. */
  accuracy: number;
  seconds: number;
}

export interface DeepCompressionResult {
  /** The compressed model with dense float32 weights (each shared weight's exact values). */
  model: Model;
  /** The pruned + shared form of each planned weight, keyed by initializer name. */
  shared: Map<string, SharedWeight>;
  /** Initializer name → layer (node) name. */
  layerOf: Map<string, string>;
  stages: StageEvent[];
}

function progress(o: DeepCompressionOptions, stage: string): ((e: ProgressEvent) => void) | undefined {
  const on = o.onEvent;
  return on === undefined ? undefined : (event) => on({ type: 'train', stage, event });
}

function baseTrain(o: DeepCompressionOptions, epochs: number, lr: number): TrainOptions {
  return {
    epochs,
    lr,
    batchSize: o.batchSize,
    optimizer: o.optimizer,
    normalization: o.normalization,
    seed: o.seed,
    threads: o.threads,
    stepsPerRun: o.stepsPerRun,
    schedule: { schedule: { kind: 'cosine' } },
  };
}

function globRegExp(pattern: string): RegExp {
  return new RegExp(
    `^${pattern
      .split('*')
      .map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
      .join('.*')}$`,
  );
}

/**
 * `layers` with every pattern (`*` in the name) replaced by one plan per layer it matches: the
 * layers pruning names (`prunableLayers`: Gemm, Conv and MatMul nodes whose weight is an
 * initializer; an LSTM, GRU or RNN node's `NODE.W` and `NODE.R`; an embedding's Gather), in graph
 * order, each weight once (a weight two layers share is planned by the first). A layer named by
 * its own entry keeps that entry; otherwise the first pattern that matches it plans it. A pattern
 * that matches no layer is an error that lists the model's layers.
 *
 * ```ts
 * expandLayerPlans(model, [{ layer: '*', sparsity: 0.6, bits: 5 }, { layer: 'conv1', sparsity: 0.2, bits: 8 }]);
 * ```
 */
export function expandLayerPlans(model: Model, layers: readonly LayerPlan[]): LayerPlan[] {
  const patterns = layers.filter((p) => p.layer.includes('*'));
  if (patterns.length === 0) return [...layers];
  const candidates = prunableLayers(model.graph);
  const named = layers.filter((p) => !p.layer.includes('*'));
  const taken = new Set(named.map((p) => resolveWeight(model, p.layer).weight));
  const matched = patterns.map((p) => ({ plan: p, re: globRegExp(p.layer), used: false }));
  const expanded: LayerPlan[] = [];
  for (const l of candidates) {
    const hit = matched.find((m) => m.re.test(l.name));
    if (hit === undefined) continue;
    hit.used = true;
    if (!taken.has(l.weight)) expanded.push({ ...hit.plan, layer: l.name });
    taken.add(l.weight);
  }
  const unused = matched.find((m) => !m.used);
  if (unused !== undefined)
    throw new WhittleError(
      'BAD_ARGUMENT',
      `layer pattern "${unused.plan.layer}" matches no layer with a weight initializer (Gemm, Conv, MatMul; LSTM/GRU/RNN as NODE.W and NODE.R; embedding Gathers); layers of this model: ${candidates.map((l) => l.name).join(', ') || '(none)'}`,
    );
  return [...named, ...expanded];
}

/**
 * Prune → fine-tune → k-means share → fine-tune centroids. Encode the result with
 * `encodeContainer(result.model, result.shared)`.
 *
 * ```ts
 * const { train, validation } = splitValidation(mnist.train, 0.1);
 * const r = await deepCompress(model, train, { layers: [{ layer: 'fc1', sparsity: 0.92, bits: 6 }], validation, ... });
 * ```
 */
export async function deepCompress(model: Model, data: Dataset | TensorDataset, o: DeepCompressionOptions): Promise<DeepCompressionResult> {
  const rounds = o.prune.rounds ?? 1;
  if (!(Number.isInteger(rounds) && rounds >= 1)) throw new WhittleError('BAD_ARGUMENT', `prune rounds must be an integer ≥ 1, got ${rounds}`);
  const plan = expandLayerPlans(model, o.layers).map((p) => ({ ...p, ...resolveWeight(model, p.layer) }));
  const layerOf = new Map(plan.map((p) => [p.weight, p.layer]));
  const stages: StageEvent[] = [];
  let t0 = performance.now();
  const stage = async (name: StageName, m: Model): Promise<void> => {
    const { accuracy } = await evaluate(m, o.validation, { normalization: o.normalization, threads: o.threads });
    const e = { stage: name, accuracy, seconds: (performance.now() - t0) / 1000 };
    stages.push(e);
    o.onEvent?.({ type: 'stage', ...e });
    t0 = performance.now();
  };
  await stage('baseline', model);

  // Magnitude pruning (src/compress/prune), fine-tuned under masks so pruned weights stay zero.
  let current = model;
  const perLayer = Object.fromEntries(plan.map((p) => [p.weight, p.sparsity]));
  const method = o.prune.method ?? 'agp';
  if (method === 'agp' && o.prune.epochs > 0) {
    current = (await agpPrune(current, data, { perLayer }, { ...baseTrain(o, o.prune.epochs, o.prune.lr), onProgress: progress(o, 'prune') })).model;
  } else {
    for (let r = 1; r <= rounds; r++) {
      // The sparsity ramps cubically to its target: fast early, gentle late.
      const frac = method === 'agp' ? 1 : 1 - (1 - r / rounds) ** 3;
      const { model: pruned, masks } = magnitudePrune(current, { perLayer: Object.fromEntries(plan.map((p) => [p.weight, p.sparsity * frac])) });
      current = pruned;
      if (o.prune.epochs > 0)
        current = (await fineTuneMasked(current, masks, data, { ...baseTrain(o, o.prune.epochs, o.prune.lr), onProgress: progress(o, `prune ${r}/${rounds}`) }))
          .model;
    }
  }
  await stage('pruned', current);

  const { model: quantized, shared } = kmeansShareWeights(current, new Map(plan.map((p) => [p.weight, p.bits])));
  await stage('quantized', quantized);
  let finalModel = quantized;
  let finalShared = shared;
  if (o.centroids.epochs > 0) {
    const res = await train(sharedTrainingModel(quantized, shared), data, {
      ...baseTrain(o, o.centroids.epochs, o.centroids.lr),
      onProgress: progress(o, 'centroids'),
    });
    finalShared = readCodebooks(res.model, shared);
    finalModel = denseFromShared(res.model, quantized, shared);
  }
  if (o.halfPrecision) {
    finalShared = new Map([...finalShared].map(([k, w]) => [k, { ...w, codebook: roundToHalf(w.codebook) }]));
    const g = finalModel.graph.clone();
    for (const [k, t] of g.initializers)
      if (t.dtype === 'float32' && t.dims.length > 0 && !finalShared.has(k))
        g.initializers.set(k, new Tensor('float32', t.dims, roundToHalf(t.data as Float32Array)));
    finalModel = withSharedValues({ ...finalModel, graph: g }, finalShared);
  }
  await stage('centroids', finalModel);
  return { model: finalModel, shared: finalShared, layerOf, stages };
}
