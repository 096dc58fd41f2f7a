// `--data PATH` for any model: the source is picked by what the path is, then fitted to the model.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { basename, extname, join } from 'node:path';
import { WhittleError } from '../ir/errors.js';
import type { Model, ValueInfo } from '../ir/graph.js';
import type { Normalization } from './batches.js';
import { bindArrays, feedInputs } from './bind.js';
import { CIFAR10_TEST_FILE, loadCifar10 } from './cifar.js';
import type { ImageOptions } from './image-folder.js';
import { IMAGE_EXTENSIONS, readImageFolder } from './image-folder.js';
import { readJsonl } from './jsonl.js';
import { IDX_DATASET_FILES, loadIdxDataset } from './mnist.js';
import type { NpyArray } from './npy.js';
import { readNpy } from './npy.js';
import { readNpz } from './npz.js';
import type { TensorDataset } from './tensor-dataset.js';
import { labelsFromArray, tensorDatasetFromImages } from './tensor-dataset.js';

/** The kinds of data `--data` takes. */
export type DataSourceKind = 'npy' | 'npz' | 'npy-dir' | 'jsonl' | 'images' | 'idx' | 'cifar';

const FORMS =
  'a .npy or .npz file, a directory of .npy files, a JSONL file, a folder of PNG/JPEG images (class sub-folders), an MNIST-format IDX directory or CIFAR-10 binaries';

/**
 * What kind of data a path holds, by its name and contents.
 *
 * ```ts
 * detectDataSource('calib.npz'); // 'npz'
 * ```
 */
export function detectDataSource(path: string): DataSourceKind {
  if (!existsSync(path)) throw new WhittleError('DATA_NOT_FOUND', `data ${path}: no such file or directory; pass ${FORMS}`);
  if (statSync(path).isFile()) {
    const ext = extname(path).toLowerCase();
    if (ext === '.npy') return 'npy';
    if (ext === '.npz') return 'npz';
    if (ext === '.jsonl' || ext === '.ndjson') return 'jsonl';
    throw new WhittleError('BAD_ARGUMENT', `data ${path}: a file must end in .npy, .npz or .jsonl; pass ${FORMS}`);
  }
  const names = readdirSync(path);
  if ([path, join(path, 'cifar-10-batches-bin')].some((d) => existsSync(join(d, CIFAR10_TEST_FILE)))) return 'cifar';
  if (names.some((n) => Object.values(IDX_DATASET_FILES).some((f) => n === f || n === `${f}.gz`))) return 'idx';
  if (names.some((n) => n.endsWith('.npy'))) return 'npy-dir';
  const isImage = (n: string): boolean => IMAGE_EXTENSIONS.includes(extname(n).toLowerCase());
  if (names.some(isImage)) return 'images';
  for (const n of names) {
    const sub = join(path, n);
    if (statSync(sub).isDirectory() && readdirSync(sub).some(isImage)) return 'images';
  }
  throw new WhittleError('BAD_DATA', `data ${path} holds nothing Whittle reads; pass ${FORMS}`);
}

/** Options of `loadDataForModel`. */
export interface DataForModelOptions extends Omit<ImageOptions, 'layout'> {
  /** IDX/CIFAR: which split (default 'test'). */
  split?: 'train' | 'test';
  /** IDX/CIFAR: how pixel bytes become floats (default 'x/255'). */
  normalization?: Normalization;
}

// The layout, channels and size an image input takes: NCHW when axis 1 holds 1 or 3 channels (or
// nothing says otherwise), NHWC when axis 3 does.
function imageOptionsFor(info: ValueInfo, options: DataForModelOptions): ImageOptions {
  const s = info.shape;
  if (s.length !== 4)
    throw new WhittleError(
      'SHAPE_MISMATCH',
      `input "${info.name}" expects [${s.join(', ')}]; an image folder feeds a 4-D image input ([N, C, H, W] or [N, H, W, C])`,
    );
  const isC = (d: unknown): boolean => d === 1 || d === 3;
  const layout = !isC(s[1]) && isC(s[3]) ? 'NHWC' : 'NCHW';
  const [c, h, w] = layout === 'NCHW' ? [s[1], s[2], s[3]] : [s[3], s[1], s[2]];
  const channels = options.channels ?? (c === 1 ? 'gray' : 'rgb');
  if (typeof c === 'number' && c !== (channels === 'gray' ? 1 : 3)) {
    throw new WhittleError(
      'SHAPE_MISMATCH',
      `input "${info.name}" expects [${s.join(', ')}] (${c} channel${c === 1 ? '' : 's'}, ${layout}), but options.channels '${channels}' gives ${channels === 'gray' ? 1 : 3}; pass options.channels '${c === 1 ? 'gray' : 'rgb'}'`,
    );
  }
  const size = options.size ?? (typeof h === 'number' && typeof w === 'number' ? ([h, w] as const) : undefined);
  return { ...options, channels, layout, ...(size !== undefined ? { size } : {}) };
}

function npyDirectory(dir: string): { arrays: Map<string, NpyArray>; labels: NpyArray | undefined } {
  const arrays = new Map<string, NpyArray>();
  let labels: NpyArray | undefined;
  for (const f of readdirSync(dir)
    .filter((n) => n.endsWith('.npy'))
    .sort()) {
    const a = readNpy(join(dir, f));
    if (f === 'labels.npy') labels = a;
    else arrays.set(basename(f, '.npy'), a);
  }
  return { arrays, labels };
}

/**
 * Loads `path` as samples for `model`, picking the source by what the path is (see
 * `detectDataSource`) and fitting it to the model's inputs: names, dtypes, shapes (dynamic
 * dimensions from the data). Labels come from `labels.npy` beside the inputs, an .npz `labels`
 * key, JSONL `label` fields, image class folders or the IDX/CIFAR labels.
 *
 * ```ts
 * const ds = loadDataForModel(model, 'calib.npz');
 * const imgs = loadDataForModel(model, 'val/', { size: [224, 224], mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] });
 * ```
 */
export function loadDataForModel(model: Model, path: string, options: DataForModelOptions = {}): TensorDataset {
  const kind = detectDataSource(path);
  const inputs = feedInputs(model);
  const labelsOf = (a: NpyArray | undefined, where: string): Int32Array | undefined => (a === undefined ? undefined : labelsFromArray(a, where));
  switch (kind) {
    case 'npy': {
      const besides = join(path, '..', 'labels.npy');
      const labels = basename(path) !== 'labels.npy' && existsSync(besides) ? labelsOf(readNpy(besides), besides) : undefined;
      return bindArrays(model, new Map([[basename(path, '.npy'), readNpy(path)]]), { source: path, labels });
    }
    case 'npz': {
      const arrays = readNpz(path);
      const labels = labelsOf(arrays.get('labels'), `${path}[labels]`);
      arrays.delete('labels');
      return bindArrays(model, arrays, { source: path, labels });
    }
    case 'npy-dir': {
      const { arrays, labels } = npyDirectory(path);
      return bindArrays(model, arrays, { source: path, labels: labelsOf(labels, join(path, 'labels.npy')) });
    }
    case 'jsonl': {
      const { arrays, labels } = readJsonl(path);
      return bindArrays(model, arrays, { source: path, labels });
    }
    case 'images': {
      const info = inputs[0];
      if (inputs.length !== 1 || info === undefined)
        throw new WhittleError(
          'BAD_DATA',
          `data ${path}: an image folder feeds a model with one input; this model takes ${inputs.map((i) => `"${i.name}"`).join(', ')}: use .npz or JSONL with one array per input`,
        );
      const { array, labels, classes } = readImageFolder(path, imageOptionsFor(info, options));
      return bindArrays(model, new Map([[info.name, array]]), { source: path, labels, ...(classes !== undefined ? { classes } : {}) });
    }
    case 'idx':
    case 'cifar': {
      const splits = kind === 'cifar' ? loadCifar10(path) : loadIdxDataset(path);
      const images = splits[options.split ?? 'test'];
      const info = inputs[0];
      if (inputs.length !== 1 || info === undefined)
        throw new WhittleError(
          'BAD_DATA',
          `data ${path}: image datasets feed a model with one input; this model takes ${inputs.map((i) => `"${i.name}"`).join(', ')}`,
        );
      const per = info.shape.slice(1);
      const shape = per.every((d): d is number => typeof d === 'number') ? per : undefined;
      const ds = tensorDatasetFromImages(images, {
        name: info.name,
        normalization: options.normalization ?? 'x/255',
        ...(shape !== undefined ? { shape } : {}),
        source: path,
      });
      const t = ds.inputs[0] as (typeof ds.inputs)[number];
      return bindArrays(model, new Map([[info.name, { dtype: t.dtype, dims: [ds.count, ...t.shape], data: t.data }]]), { source: path, labels: ds.labels });
    }
  }
}

/**
 * `loadDataForModel` for work that needs labels (training, a search, quantization-aware training):
 * refused, with where labels go, when the samples have none. `why` names that work.
 *
 * ```ts
 * const train = loadLabelledForModel(model, 'train/', { size: [40, 40] }, 'training');
 * ```
 */
export function loadLabelledForModel(model: Model, path: string, options: DataForModelOptions, why: string): TensorDataset {
  const ds = loadDataForModel(model, path, options);
  if (ds.labels === undefined)
    throw new WhittleError(
      'BAD_DATA',
      `${path} has no labels; ${why} needs one class label per sample (an .npz "labels" array, labels.npy beside the inputs, a JSONL "label" field, or class sub-folders)`,
    );
  return ds;
}
