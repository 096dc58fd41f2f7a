// The search's vocabulary: a candidate is one policy per layer plus the fine-tune to spend; a
// trial is a candidate fine-tuned briefly and measured on the validation split.
import type { DataForModelOptions, Normalization } from '../data/index.js';
import type { ChannelRoundTo } from '../compress/prune/index.js';

/**
 * How one layer's weights are stored: float32 (kept float), float16, int8 (QDQ, integer kernels in
 * onnxruntime), k-means shared among 2^b values (Deep Compression's container), int4 (a uniform
 * symmetric 16-level grid, one scale per layer) or ternary (0 and ±a: pruned positions plus one bit).
 */
export type WeightFormat = 'float' | 'fp16' | 'int8' | 'int4' | 'ternary' | 'k2' | 'k3' | 'k4' | 'k5' | 'k6' | 'k7' | 'k8';

export const KMEANS_FORMATS: readonly WeightFormat[] = ['k2', 'k3', 'k4', 'k5', 'k6', 'k7', 'k8'];

/** Index bits of a k-means format; undefined for float and int8. */
export function kmeansBits(f: WeightFormat): number | undefined {
  return f.startsWith('k') ? Number(f.slice(1)) : undefined;
}

/** The formats stored on a fixed grid in the container (not k-means): int4 and ternary. */
export type GridFormat = 'int4' | 'ternary';

export function isGridFormat(f: WeightFormat): f is GridFormat {
  return f === 'int4' || f === 'ternary';
}

/** Index bits per kept weight of any container-shared format (k-means, int4, ternary); undefined for float, fp16 and int8. */
export function sharedBits(f: WeightFormat): number | undefined {
  return f === 'int4' ? 4 : f === 'ternary' ? 1 : kmeansBits(f);
}

/**
 * How a trial sparsifies: 'magnitude' (gradual magnitude pruning to each layer's sparsity) or
 * 'variational' (sparse variational dropout learns the sparsity; each layer's sparsity is then a floor).
 */
export type SparsityMode = 'magnitude' | 'variational';

/** What the search decides for one layer. */
export interface LayerPolicy {
  /** Fraction of the layer's output channels (neurons/filters) kept, thinned away physically; 1: all. */
  width: number;
  /** Fraction of the remaining weights pruned to zero (unstructured, stored sparse). */
  sparsity: number;
  format: WeightFormat;
}

export interface Candidate {
  /** Per layer (node name). */
  layers: Record<string, LayerPolicy>;
  /** The learning rate of the trial's fine-tune. */
  lr: number;
  /** Absent: 'magnitude'. */
  mode?: SparsityMode;
  /**
   * Variational mode: each layer's sparsity is also a cap (the budget fill: the learned sparsity
   * may not drop weights the budget has room for). Magnitude sparsities are always exact.
   */
  exact?: true;
}

export type Target = 'size' | 'latency' | 'flops';
export type RuntimeName = 'node' | 'web';

/**
 * The user's own labelled samples (.npy, .npz, JSONL or an image folder with class sub-folders)
 * a search reads instead of a dataset directory, fed to the model as read.
 */
export interface OwnDataRef {
  /** The training samples; the validation split is held out of them. */
  train: string;
  /** The test samples: the final model (and the input) are scored on them once. */
  test: string;
  /** How image folders are read (size, channels, mean, std); plain JSON. */
  options: DataForModelOptions;
  /**
   * 'model': the samples carry no labels; the input model's top-1 predictions are their labels, so
   * every accuracy of the search is top-1 agreement with the input. Absent: the samples' own labels.
   */
  labels?: 'model';
}

/**
 * Where a worker finds the data: a dataset directory (the bundled MNIST when absent) or the
 * user's own samples (`own`), split as the coordinator did.
 */
export interface DataRef {
  dir?: string;
  own?: OwnDataRef;
  /** Fraction held out for validation, seeded by `splitSeed`. */
  valSplit: number;
  splitSeed: number;
  /** Training samples a trial fine-tunes on (the first of the training side of the split). */
  trainSamples: number;
  /** Validation samples a trial is measured on. */
  valSamples: number;
}

/** Everything a worker needs to run one trial; plain JSON. */
export interface TrialTask {
  /** Whittle's version: a worker on another version refuses the task. */
  version: string;
  /** Stable identity of the trial (candidate + settings), the journal's key. */
  key: string;
  /** The input model: a file path (local pool) or a key the queue stores the bytes under. */
  model: { path: string } | { blob: string };
  data: DataRef;
  target: Target;
  candidate: Candidate;
  normalization: Normalization;
  epochs: number;
  batchSize: number;
  seed: number;
  /** Thinned layers keep a multiple of this many channels (absent: 1). */
  roundTo?: ChannelRoundTo;
}

export interface TrialResult {
  key: string;
  valAccuracy: number;
  /** Bytes of the file the real writer produces (container for k-means formats, else ONNX). */
  bytes: number;
  flops: number;
  params: number;
  nonzeroParams: number;
  seconds: number;
}

/** A finished trial as the search keeps it. */
export interface Trial {
  index: number;
  /** 'greedy' | 'evolution' | 'seed'. */
  origin: string;
  candidate: Candidate;
  result: TrialResult;
  /** Measured on the target runtime (latency table), ms per batch. */
  latencyMs: number;
}
