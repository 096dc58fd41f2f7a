// Resolving --model and --data into library objects, with the errors a user can act on.
import { existsSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Dataset, Normalization } from '../data/index.js';
import { loadIdxDataset, parseNormalization } from '../data/index.js';
import { WhittleError } from '../ir/errors.js';
import { foldConstants } from '../ir/fold.js';
import type { Model } from '../ir/graph.js';
import { loadModelFile, saveModel as saveModelFile } from '../ir/io.js';
import { createModel, ZOO_NAMES } from '../nn/index.js';
import { SHAPE_RULES } from '../ops/index.js';

export const NORMALIZE_KEY = 'whittle.normalize';

/** A zoo name (e.g. 'lenet-5', 'mlp:784-100-10') or a path to an .onnx file. */
export function loadModel(spec: string, options: { seed?: number; inChannels?: number; inputSize?: number } = {}): { model: Model; path: string | undefined } {
  const base = spec.split(':')[0] ?? '';
  if ((ZOO_NAMES as readonly string[]).includes(base) && !existsSync(spec)) {
    return { model: createModel(spec, options), path: undefined };
  }
  if (!existsSync(spec)) {
    throw new WhittleError('BAD_ARGUMENT', `--model ${spec}: no such file, and not a zoo model (${ZOO_NAMES.join(', ')})`);
  }
  if (statSync(spec).isDirectory()) throw new WhittleError('BAD_ARGUMENT', `--model ${spec} is a directory; pass an .onnx file`);
  const model = loadModelFile(spec);
  return { model: { ...model, graph: foldConstants(model.graph, SHAPE_RULES) }, path: resolve(spec) };
}

/** The MNIST-format dataset in `dir`, or the bundled MNIST when `dir` is undefined. */
export function loadData(dir: string | undefined): { train: Dataset; test: Dataset } {
  return loadIdxDataset(dir);
}

/** --normalize if given, else what the model recorded, else x/255. */
export function resolveNormalization(flag: string | undefined, model: Model): Normalization {
  if (flag !== undefined) return parseNormalization(flag);
  const recorded = model.metadata[NORMALIZE_KEY];
  return recorded !== undefined ? parseNormalization(recorded) : 'x/255';
}

/** Writes a model atomically, refusing to overwrite the input file. */
export function saveModel(model: Model, out: string, inputPath: string | undefined): number {
  return saveModelFile(model, out, { notOver: inputPath });
}
