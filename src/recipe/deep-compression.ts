// Deep Compression recipes: YAML (or JSON) files parsed with `yaml` and validated with `zod`,
// so a typo is an error that names the field, not a silently ignored setting.
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { optimizerFromName } from '../autodiff/optimizer.js';
import type { Normalization } from '../data/index.js';
import { WhittleError } from '../ir/errors.js';
import type { ContainerOptions } from '../pipeline/index.js';
import { DEFAULT_STEPS_PER_RUN } from '../train/trainer.js';

const fineTune = z.strictObject({
  epochs: z.number().int().min(0),
  lr: z.number().positive(),
});

export const deepCompressionRecipeSchema = z.strictObject({
  /** Zoo name or .onnx path (relative to the working directory). */
  model: z.string().min(1),
  data: z.string().optional(),
  normalize: z.string().optional(),
  seed: z.number().int().min(0).default(0),
  threads: z.number().int().min(1).optional(),
  batch: z.number().int().min(1).default(64),
  optimizer: z.enum(['sgd', 'momentum', 'nesterov', 'adam', 'adamw', 'rmsprop']).default('momentum'),
  /**
   * Training steps per onnxruntime call; default the trainer's (DEFAULT_STEPS_PER_RUN, 64). Masked
   * and centroid fine-tuning give the same weights at any value; AGP pruning prunes at the end of a
   * call, so its cadence (every tenth of an epoch, rounded up to a whole call) depends on it.
   */
  stepsPerRun: z.number().int().min(1).default(DEFAULT_STEPS_PER_RUN),
  /** Train on the first N training samples only (quick runs, tests). */
  samples: z.number().int().min(1).optional(),
  layers: z.array(z.strictObject({ layer: z.string().min(1), sparsity: z.number().min(0).lt(1), bits: z.number().int().min(1).max(12) })).min(1),
  prune: fineTune.extend({ method: z.enum(['agp', 'rounds']).default('agp'), rounds: z.number().int().min(1).default(1) }),
  centroids: fineTune,
  /** gapBits: relative-index width ('auto': the smallest coding); half: store codebooks and biases as float16. */
  encode: z
    .strictObject({ gapBits: z.union([z.literal('auto'), z.number().int().min(1).max(8)]).default('auto'), half: z.boolean().default(false) })
    .default({ gapBits: 'auto', half: false }),
});

export type DeepCompressionRecipe = z.infer<typeof deepCompressionRecipeSchema>;

/** Validates a parsed recipe object; errors name the field and what it must be. */
export function parseDeepCompressionRecipe(value: unknown, source = 'recipe'): DeepCompressionRecipe {
  const r = deepCompressionRecipeSchema.safeParse(value);
  if (!r.success) {
    const issues = r.error.issues.map((i) => `${i.path.length > 0 ? i.path.join('.') : '(top level)'}: ${i.message}`).join('; ');
    throw new WhittleError('BAD_ARGUMENT', `${source} is not a valid Deep Compression recipe: ${issues}`);
  }
  return r.data;
}

/**
 * Reads and validates a recipe file.
 *
 * ```ts
 * const recipe = loadDeepCompressionRecipe('recipes/deep-compression-lenet-300-100.yaml');
 * ```
 */
export function loadDeepCompressionRecipe(path: string): DeepCompressionRecipe {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new WhittleError('BAD_ARGUMENT', `recipe ${path}: cannot read it (${(e as Error).message})`, { cause: e });
  }
  let value: unknown;
  try {
    value = parseYaml(text);
  } catch (e) {
    throw new WhittleError('BAD_ARGUMENT', `recipe ${path} is not valid YAML: ${(e as Error).message}`, { cause: e });
  }
  return parseDeepCompressionRecipe(value, path);
}

/**
 * The pipeline call a recipe stands for: `compressToContainer(model, data, containerOptions(...))`.
 * The model, the data and the normalization are the caller's (a recipe names them; the caller loads them).
 *
 * ```ts
 * const run = await compressToContainer(model, data, containerOptions(recipe, { out: 'dc', normalization: 'x/255' }));
 * ```
 */
export function containerOptions(
  recipe: Omit<DeepCompressionRecipe, 'model'>,
  o: { out: string; normalization: Normalization; threads?: number },
): ContainerOptions {
  return {
    layers: recipe.layers,
    prune: recipe.prune,
    centroids: recipe.centroids,
    halfPrecision: recipe.encode.half,
    gapBits: recipe.encode.gapBits,
    batchSize: recipe.batch,
    optimizer: optimizerFromName(recipe.optimizer),
    normalization: o.normalization,
    seed: recipe.seed,
    threads: o.threads ?? recipe.threads,
    stepsPerRun: recipe.stepsPerRun,
    out: o.out,
  };
}

/**
 * The settings of recipes/deep-compression-*.yaml, by zoo name, for `whittle demo`; the paper's
 * per-layer kept fractions (Deep Compression, Tables 2–3), tuned to this trainer.
 */
export const DEEP_COMPRESSION_PRESETS: Readonly<Record<string, Omit<DeepCompressionRecipe, 'model'>>> = {
  'lenet-300-100': parseDeepCompressionRecipe({
    model: 'lenet-300-100',
    layers: [
      { layer: 'fc1', sparsity: 0.95, bits: 5 },
      { layer: 'fc2', sparsity: 0.87, bits: 5 },
      { layer: 'fc3', sparsity: 0.5, bits: 6 },
    ],
    prune: { method: 'rounds', rounds: 3, epochs: 6, lr: 0.05 },
    centroids: { epochs: 2, lr: 0.001 },
    encode: { half: true },
  }),
  'lenet-5': parseDeepCompressionRecipe({
    model: 'lenet-5',
    layers: [
      { layer: 'conv1', sparsity: 0.34, bits: 6 },
      { layer: 'conv2', sparsity: 0.88, bits: 6 },
      { layer: 'fc1', sparsity: 0.94, bits: 5 },
      { layer: 'fc2', sparsity: 0.82, bits: 5 },
    ],
    // As measured (recipes/deep-compression-lenet-5.yaml): AGP's pruning cadence depends on it.
    stepsPerRun: 16,
    prune: { method: 'agp', epochs: 4, lr: 0.01 },
    centroids: { epochs: 2, lr: 0.001 },
    encode: { half: true },
  }),
};
