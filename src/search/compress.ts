// One candidate applied to a model with the library's transforms: thin channels (structured
// width), gradual magnitude pruning during a fine-tune, k-means sharing with a centroid fine-tune,
// float16 rounding, int8 QDQ; then the bytes of the file the real writer produces.
import type { Dataset, Normalization, TensorDataset } from '../data/index.js';
import { encodeContainer } from '../compress/codec/index.js';
import type { SharedWeight } from '../compress/codec/index.js';
import { denseFromShared, kmeansShareWeights, readCodebooks, resolveWeight, sharedTrainingModel, withSharedValues } from '../compress/kmeans/index.js';
import { agpPrune, dependencyGroups, fineTuneMasked, magnitudePrune, masksFromZeros, pruneChannels } from '../compress/prune/index.js';
import { sparsifyVariational, variationalKL, variationalModel } from '../compress/regularize/index.js';
import { distillationStep } from '../compress/distill/index.js';
import type { StepExtensions } from '../autodiff/train-step.js';
import { quantizeStatic } from '../compress/quantize/index.js';
import { roundToHalf } from '../ir/half.js';
import type { Model } from '../ir/graph.js';
import { encodeModel } from '../ir/onnx.js';
import { Tensor } from '../ir/tensor.js';
import type { TrainOptions } from '../train/trainer.js';
import { inputBatch } from '../train/evaluate.js';
import { train } from '../train/trainer.js';
import { gridShareWeights } from './grid.js';
import type { Candidate, GridFormat } from './types.js';
import { isGridFormat, kmeansBits } from './types.js';
import type { ChannelRoundTo } from '../compress/prune/index.js';

/** Adam's step size for sparse variational dropout (the paper's 1e-3). */
export const VARIATIONAL_LR = 1e-3;

/**
 * The global gradient norm the candidate's SGD fine-tunes clip to (not the centroid or variational
 * phases). A PyTorch ResNet-20 export (BatchNorms folded) with four layers thinned, 500 samples, one
 * epoch at 0.01: 44% validation → 11% unclipped (mean loss 6.3), 87% clipped at 1, 91% at 5;
 * LeNet-5 (conv2 and fc1 at half width) is the same to the last digit with or without.
 */
export const FINE_TUNE_CLIP_NORM = 5;

/** SGD step size of the centroid fine-tune after k-means sharing (each centroid gets its members' summed gradient). */
export const CENTROID_LR = 1e-3;

export interface CompressSettings {
  /** Epochs of the fine-tune during which sparsity ramps up (or plain fine-tune after thinning). */
  epochs: number;
  batchSize: number;
  normalization: Normalization;
  seed: number;
  /** ORT threads while training (1: bit-for-bit reproducible). */
  threads: number;
  /** Epochs of centroid fine-tuning after k-means sharing (default 1 when epochs > 0). */
  centroidEpochs?: number;
  /** Learning rate of the centroid fine-tune (default CENTROID_LR). */
  centroidLr?: number;
  /**
   * Variational mode: the KL term's weight per sample, 1 / (samples of the whole training side),
   * so that a trial on a subset and the final fine-tune optimize the same objective.
   */
  klWeight?: number;
  /**
   * Distil from this model (the uncompressed input) in every fine-tune of the candidate: Hinton's
   * soft targets (`distill`, default T = 4, weight 0.7) beside the labels' cross-entropy.
   */
  teacher?: Model | readonly Model[];
  /**
   * The input normalization each teacher was trained with (one for all, or one per teacher;
   * default: `normalization`, the student's): each teacher is fed the training batch in its own.
   */
  teacherNormalization?: Normalization | readonly Normalization[];
  /** Soft-target temperature and weight of the teacher's term (default T = 4, α = 0.7). */
  distill?: { temperature: number; alpha: number };
  /**
   * Thinned layers keep a multiple of this many channels, rounding up (pruneChannels' roundTo,
   * 'auto' included; default 1): 8 keeps x86 convolutions on onnxruntime's fast blocked kernels.
   */
  roundTo?: ChannelRoundTo;
  /** Gradient-norm clip of the candidate's SGD fine-tunes (default FINE_TUNE_CLIP_NORM). */
  clipNorm?: number;
  /** Augmentation in every fine-tune: training images shifted by up to this many pixels (default 0: none). */
  shift?: number;
  onProgress?: TrainOptions['onProgress'];
  /** Called with the model after each stage (sparsified and fine-tuned; weights shared; centroids tuned), e.g. to measure what each costs. */
  onStage?: (stage: CompressStage, model: Model) => void | Promise<void>;
}

/** The stages `compressCandidate` reports: the sparse float model, right after weight sharing, after the centroid fine-tune. */
export type CompressStage = 'sparse' | 'shared' | 'tuned';

export interface CompressedCandidate {
  /** The runnable model (dense float32 values of shared weights, or the int8 QDQ graph). */
  model: Model;
  /** The shared form of the k-means layers, keyed by weight name (empty: no container). */
  shared: Map<string, SharedWeight>;
  /** 'container' when any layer is k-means shared or float16, else 'onnx'. */
  form: 'container' | 'onnx';
  /** The file the writer produces for this form. */
  file: Uint8Array;
}

/** Layers whose output channels can be thinned (the producers that name a prunable group). */
export function thinnableLayers(model: Model): Set<string> {
  return new Set(
    dependencyGroups(model.graph)
      .filter((g) => g.prunable)
      .map((g) => g.name),
  );
}

/** Two sets of training-step extensions in one: both losses (base weights multiplied), both mask lists. */
function combineSteps(a: StepExtensions | undefined, b: StepExtensions | undefined): StepExtensions | undefined {
  if (a === undefined || b === undefined) return a ?? b;
  return {
    ...a,
    ...b,
    baseLossWeight: (a.baseLossWeight ?? 1) * (b.baseLossWeight ?? 1),
    extraLoss: (ctx) => [...(a.extraLoss?.(ctx) ?? []), ...(b.extraLoss?.(ctx) ?? [])],
    forwardRewrite: (g) => {
      a.forwardRewrite?.(g);
      b.forwardRewrite?.(g);
    },
    masked: [...new Set([...(a.masked ?? []), ...(b.masked ?? [])])],
    frozen: [...new Set([...(a.frozen ?? []), ...(b.frozen ?? [])])],
  };
}

/** The teacher's soft-target loss for training `student`, when the settings name a teacher. */
function teacherStep(s: CompressSettings, student: Model): StepExtensions | undefined {
  if (s.teacher === undefined) return undefined;
  const normalization = s.teacherNormalization === undefined ? {} : { normalization: { student: s.normalization, teacher: s.teacherNormalization } };
  return distillationStep(s.teacher, student, { ...(s.distill ?? {}), ...normalization });
}

function trainOptions(s: CompressSettings, epochs: number, lr: number, student?: Model, clip = false): TrainOptions {
  const step = student === undefined ? undefined : teacherStep(s, student);
  return {
    ...(step !== undefined ? { step } : {}),
    epochs,
    lr,
    batchSize: s.batchSize,
    optimizer: { kind: 'sgd', momentum: 0.9 },
    normalization: s.normalization,
    seed: s.seed,
    threads: s.threads,
    schedule: { schedule: { kind: 'cosine' } },
    ...(clip ? { clipNorm: s.clipNorm ?? FINE_TUNE_CLIP_NORM } : {}),
    ...(s.shift !== undefined && s.shift > 0 ? { shift: s.shift } : {}),
    onProgress: s.onProgress,
  };
}

/**
 * Applies `c` to `model`, fine-tuning on `data`, and encodes the result.
 *
 * ```ts
 * const r = await compressCandidate(model, { layers: { fc1: { width: 1, sparsity: 0.95, format: 'k5' } }, lr: 0.01 }, train, settings);
 * r.file.length; // bytes of the Deep Compression container
 * ```
 */
export async function compressCandidate(model: Model, c: Candidate, data: Dataset | TensorDataset, s: CompressSettings): Promise<CompressedCandidate> {
  let current = model;
  const entries = Object.entries(c.layers);
  const narrow = Object.fromEntries(entries.filter(([, p]) => p.width < 1).map(([l, p]) => [l, 1 - p.width]));
  if (Object.keys(narrow).length > 0) current = (await pruneChannels(current, { perLayer: narrow, roundTo: s.roundTo ?? 1 })).model;

  const sparse = Object.fromEntries(entries.filter(([, p]) => p.sparsity > 0).map(([l, p]) => [resolveWeight(current, l).weight, p.sparsity]));
  if (c.mode === 'variational' && s.epochs > 0) {
    // Exact: every layer's sparsity is a cap too, a dense one's included (0: variational dropout drops none of it).
    const caps = c.exact === true ? Object.fromEntries(entries.map(([l, p]) => [resolveWeight(current, l).weight, p.sparsity])) : undefined;
    current = await variationalSparsify(current, sparse, caps, data, s, c.lr);
  } else if (Object.keys(sparse).length > 0) {
    current =
      s.epochs > 0
        ? (await agpPrune(current, data, { perLayer: sparse }, trainOptions(s, s.epochs, c.lr, current, true))).model
        : magnitudePrune(current, { perLayer: sparse }).model;
  } else if (s.epochs > 0 && Object.keys(narrow).length > 0) {
    current = (await train(current, data, trainOptions(s, s.epochs, c.lr, current, true))).model;
  }

  await s.onStage?.('sparse', current);

  const bits = new Map<string, number>();
  for (const [l, p] of entries) {
    const b = kmeansBits(p.format);
    if (b !== undefined) bits.set(resolveWeight(current, l).weight, b);
  }
  const grid = new Map<string, GridFormat>();
  for (const [l, p] of entries) if (isGridFormat(p.format)) grid.set(resolveWeight(current, l).weight, p.format);
  const halfLayers = entries.filter(([, p]) => p.format === 'fp16').map(([l]) => resolveWeight(current, l).weight);
  if (bits.size > 0 || grid.size > 0 || halfLayers.length > 0) {
    let shared = new Map<string, SharedWeight>();
    if (bits.size > 0) {
      const q = kmeansShareWeights(current, bits);
      current = q.model;
      shared = q.shared;
    }
    if (grid.size > 0) {
      const q = gridShareWeights(current, grid);
      current = q.model;
      shared = new Map([...shared, ...q.shared]);
    }
    // int4 keeps its uniform grid; k-means codebooks and the ternary ±a are fine-tuned.
    const tuned = new Map([...shared].filter(([k]) => grid.get(k) !== 'int4'));
    const centroidEpochs = s.centroidEpochs ?? (s.epochs > 0 ? 1 : 0);
    await s.onStage?.('shared', withSharedValues(current, shared));
    if (centroidEpochs > 0 && tuned.size > 0) {
      const student = sharedTrainingModel(current, tuned);
      const res = await train(student, data, trainOptions(s, centroidEpochs, s.centroidLr ?? CENTROID_LR, student));
      const codebooks = readCodebooks(res.model, tuned);
      current = denseFromShared(res.model, current, tuned);
      shared = new Map([...shared].map(([k, w]) => [k, codebooks.get(k) ?? w]));
    }
    // The container stores float16 when that is exact: codebooks, biases and float16 layers are
    // rounded (Deep Compression's `half`), and the accuracy measured includes the rounding.
    shared = new Map([...shared].map(([k, w]) => [k, { ...w, codebook: roundToHalf(w.codebook) }]));
    const g = current.graph.clone();
    for (const [k, t] of g.initializers)
      if (t.dtype === 'float32' && t.dims.length > 0 && !shared.has(k) && !isFloatKept(k, c, current))
        g.initializers.set(k, new Tensor('float32', t.dims, roundToHalf(t.data as Float32Array)));
    current = withSharedValues({ ...current, graph: g }, shared);
    await s.onStage?.('tuned', current);
    return { model: current, shared, form: 'container', file: encodeContainer(current, shared, { gapBits: 'auto' }).bytes };
  }

  const int8 = entries.filter(([, p]) => p.format === 'int8').map(([l]) => l);
  if (int8.length > 0) {
    const keepFloat = entries.filter(([, p]) => p.format !== 'int8').map(([l]) => l);
    const samples = inputBatch(current, data, Math.min(256, data.count), s.normalization);
    current = (await quantizeStatic(current, { samples, keepFloat, threads: s.threads })).model;
  }
  return { model: current, shared: new Map(), form: 'onnx', file: encodeModel(current) };
}

/**
 * Sparse variational dropout for `epochs` (Adam), weights with log α > 3 zeroed; a layer whose
 * requested sparsity is higher is magnitude-pruned on to it (one whose learned sparsity is above
 * its cap keeps its lowest-log-α weights back to the cap); then a masked fine-tune at `lr`.
 */
async function variationalSparsify(
  model: Model,
  floor: Record<string, number>,
  caps: Record<string, number> | undefined,
  data: Dataset | TensorDataset,
  s: CompressSettings,
  lr: number,
): Promise<Model> {
  const vm = variationalModel(model, { seed: s.seed });
  const res = await train(vm.model, data, {
    ...trainOptions(s, s.epochs, VARIATIONAL_LR),
    optimizer: { kind: 'adam' },
    step: combineSteps(variationalKL(vm, s.klWeight ?? 1 / data.count), teacherStep(s, vm.model)),
  });
  const learned = sparsifyVariational(res.model, vm, caps !== undefined ? { maxSparsity: caps } : {});
  const more = Object.fromEntries(Object.entries(floor).filter(([w, f]) => f > (learned.sparsity[w] ?? 0)));
  const pruned = Object.keys(more).length > 0 ? magnitudePrune(learned.model, { perLayer: more }).model : learned.model;
  return (await fineTuneMasked(pruned, masksFromZeros(pruned), data, trainOptions(s, Math.max(1, Math.ceil(s.epochs / 2)), lr, pruned, true))).model;
}

/** A weight of a layer the candidate keeps in float32 (not rounded to float16 in the container). */
function isFloatKept(weight: string, c: Candidate, model: Model): boolean {
  for (const [l, p] of Object.entries(c.layers)) if (p.format === 'float' && resolveWeight(model, l).weight === weight) return true;
  return false;
}
