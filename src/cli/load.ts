// Resolving --model and --data into library objects, with the errors a user can act on.
import { existsSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Dataset, Normalization } from '../data/index.js';
import { CIFAR10_TEST_FILE, detectDataSource, feedInputs, loadCifar10, loadIdxDataset, parseNormalization } from '../data/index.js';
import { WhittleError } from '../ir/errors.js';
import type { Model } from '../ir/graph.js';
import { saveModel as saveModelFile } from '../ir/io.js';
import { loadModel as loadModelFromFile } from '../load.js';
import { createModel, ZOO_NAMES } from '../nn/index.js';

import { NORMALIZE_KEY } from '../pipeline/index.js';

export { NORMALIZE_KEY };

/** A zoo name (e.g. 'lenet-5', 'mlp:784-100-10') or a path to an .onnx file. */
export function loadModel(
  spec: string,
  options: {
    seed?: number;
    inChannels?: number;
    inputSize?: number;
    onProblems?: (problems: WhittleError[]) => void;
    asShipped?: boolean;
    shareWeights?: boolean;
  } = {},
): { model: Model; path: string | undefined } {
  const base = spec.split(':')[0] ?? '';
  if ((ZOO_NAMES as readonly string[]).includes(base) && !existsSync(spec)) {
    return { model: createModel(spec, options), path: undefined };
  }
  if (!existsSync(spec)) {
    throw new WhittleError('BAD_ARGUMENT', `--model ${spec}: no such file, and not a zoo model (${ZOO_NAMES.join(', ')})`);
  }
  if (statSync(spec).isDirectory()) throw new WhittleError('BAD_ARGUMENT', `--model ${spec} is a directory; pass an .onnx file`);
  // The library's loader: external data, sparse initializers densified, validated, folded.
  // asShipped (info, eval, bench): DequantizeLinear of int8 weights stays, as onnxruntime runs the file.
  // shareWeights (inference commands): a weight named twice stays one tensor; training and pruning get copies.
  const shareWeights = options.shareWeights ?? options.asShipped;
  return { model: loadModelFromFile(spec, { onProblems: options.onProblems, asShipped: options.asShipped, shareWeights }), path: resolve(spec) };
}

/**
 * The dataset in `dir`: CIFAR-10 binary batches when it holds them, else MNIST-format IDX files;
 * the bundled MNIST when `dir` is undefined.
 */
export function loadData(dir: string | undefined, flag = '--data'): { train: Dataset; test: Dataset } {
  if (dir !== undefined && [dir, join(dir, 'cifar-10-batches-bin')].some((d) => existsSync(join(d, CIFAR10_TEST_FILE)))) return loadCifar10(dir);
  refuseOwnData(dir, flag);
  return loadIdxDataset(dir);
}

/**
 * For commands that train on MNIST-format IDX or CIFAR-10 directories only: the user's own samples
 * are a valid --data elsewhere, so say which commands take them, rather than list the MNIST files
 * the path lacks.
 */
export function refuseOwnData(dir: string | undefined, flag = '--data'): void {
  const kind = ownDataKind(dir);
  if (dir !== undefined && kind !== undefined)
    throw new WhittleError(
      'BAD_ARGUMENT',
      `${flag} ${dir} holds your own samples (${OWN_KINDS[kind] ?? kind}); ${flag === '--data' ? 'this command reads' : `with MNIST/CIFAR training data, ${flag} is read as`} MNIST-format IDX or CIFAR-10 directories. Your own samples work with train, prune, distill, merge, grow, sensitivity, compress and optimize (model files; labelled, with --test-data for the test figure; optimize also unlabelled), quantize (ptq and kmeans; qat, binary and ternary with labels and --eval-data), eval, bench and export --web`,
    );
}

const OWN_KINDS: Record<string, string> = {
  npy: 'a .npy file',
  npz: 'an .npz archive',
  jsonl: 'a JSONL file',
  'npy-dir': 'a folder of .npy files',
  images: 'an image folder',
};

/**
 * What kind of the user's own samples --data names (.npy, .npz, JSONL, a folder of .npy or
 * images); undefined for an MNIST/CIFAR directory, a missing path or one Whittle cannot read
 * (the MNIST loader then says what it lacks).
 */
function ownDataKind(data: string | undefined): string | undefined {
  if (data === undefined || !existsSync(data)) return undefined;
  let kind: string;
  try {
    kind = detectDataSource(data);
  } catch {
    return undefined;
  }
  return kind === 'idx' || kind === 'cifar' ? undefined : kind;
}

/**
 * The flags a command checks before reading the user's own --data: --test-data only with own
 * samples (an MNIST/CIFAR directory brings its own test split); with them, a model file (`path`;
 * zoo models are built for MNIST/CIFAR), --test-data when `test` names what it is for, and no
 * --normalize (own samples are fed as read). Returns whether --data is the user's own samples.
 */
export function checkOwnDataFlags(f: { data?: string; testData?: string; normalize?: string }, path: string | undefined, o: { test?: string } = {}): boolean {
  if (!isOwnData(f.data)) {
    if (f.testData !== undefined)
      throw new WhittleError('BAD_ARGUMENT', '--test-data goes with your own --data samples; an MNIST/CIFAR directory brings its own test split');
    return false;
  }
  if (path === undefined) throw new WhittleError('BAD_ARGUMENT', `--data ${f.data} holds your own samples: pass the model file they fit (--model model.onnx)`);
  if (o.test !== undefined && f.testData === undefined)
    throw new WhittleError('BAD_ARGUMENT', `--data ${f.data} holds your own samples; pass --test-data with ${o.test}`);
  if (f.testData !== undefined && !existsSync(f.testData)) throw new WhittleError('IO', `--test-data ${f.testData} does not exist; pass your test samples`);
  refuseNormalize(f.normalize, f.data as string);
  return true;
}

/** Own samples are fed as read: --normalize, which converts MNIST/CIFAR bytes, is an error there. */
export function refuseNormalize(normalize: string | undefined, data: string): void {
  if (normalize !== undefined)
    throw new WhittleError('BAD_ARGUMENT', `--normalize applies to MNIST/CIFAR bytes; ${data} is fed as read (image folders: --mean and --std)`);
}

/** Whether --data names the user's own samples (.npy/.npz/JSONL, an image folder) rather than an MNIST/CIFAR directory. */
export function isOwnData(data: string | undefined): boolean {
  return ownDataKind(data) !== undefined;
}

/** Zoo models are built for the data's sample shape ([C, S, S]); files are taken as they are. */
export function zooShapeFor(data: Dataset): { inChannels?: number; inputSize?: number } {
  const [c, h, w] = data.shape;
  return c !== undefined && h !== undefined && h === w ? { inChannels: c, inputSize: h } : {};
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

/**
 * Whether `whittle quantize` and `whittle eval` take the MNIST/CIFAR path: IDX/CIFAR --data, a zoo model, or no
 * --data and a model whose one float32 input takes 784 values per sample. `model` loads the model
 * when the answer needs it; a caller that loads it anyway passes its own (memoized) loader.
 */
export function usesImageDataset(f: { model: string; data?: string }, model: () => Model = () => loadModel(f.model).model): boolean {
  if (f.data !== undefined) return !existsSync(f.data) || ['idx', 'cifar'].includes(detectDataSource(f.data));
  if ((ZOO_NAMES as readonly string[]).includes(f.model.split(':')[0] ?? '') && !existsSync(f.model)) return true;
  const inputs = feedInputs(model());
  const per = inputs[0]?.shape.slice(1) ?? [];
  return (
    inputs.length === 1 &&
    inputs[0]?.dtype === 'float32' &&
    per.every((d) => typeof d === 'number') &&
    per.reduce<number>((a, d) => a * (d as number), 1) === 784
  );
}
