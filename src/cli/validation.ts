// --val-split / --split-seed / --val-data: the validation samples every choice is made on, held
// out of the training data (or given explicitly), so that the test split is only evaluated at the
// end. A model file that records its split (metadata `whittle.split`) gets the same split again.
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import type { DataForModelOptions, Dataset, SplitRecord, TensorDataset } from '../data/index.js';
import {
  concatDatasets,
  DEFAULT_VALIDATION_FRACTION,
  datasetFingerprint,
  defaultMnistDir,
  firstSamples,
  isTensorDataset,
  loadLabelledForModel,
  splitByRecord,
  splitValidation,
} from '../data/index.js';
import { WhittleError } from '../ir/errors.js';
import type { Model } from '../ir/graph.js';
import { recordedSplit } from '../pipeline/index.js';
import { loadData, refuseNormalize } from './load.js';

export interface ValidationFlags {
  /** Undefined: the model's recorded split, else DEFAULT_VALIDATION_FRACTION. */
  valSplit?: number;
  /** Undefined: the model's recorded split, else --seed. */
  splitSeed?: number;
  valData?: string;
  data?: string;
  seed: number;
}

/**
 * Which split a command held out, for its JSON: `recorded` (the model's own), `flags` (as the
 * command line said), `default` (a new model: --val-split's default, seeded by --seed),
 * `unrecorded` (a model file without a record: the default split, which may hold its training
 * samples) or `mismatch` (the record is of other data).
 */
export interface SplitInfo {
  source: 'recorded' | 'flags' | 'default' | 'unrecorded' | 'mismatch';
  seed: number | null;
  fraction: number | null;
  valData: string | null;
  /** The samples split: the first `samples` of the training data (all of it unless a recorded split says fewer). */
  samples: number;
  fingerprint: string;
  note: string | null;
}

export interface HeldOut<D extends Dataset | TensorDataset = Dataset> {
  train: D;
  validation: D;
  split: SplitInfo;
  /**
   * What the model this command writes may record, if it trains on `train`: this split when the
   * model is new or was trained on this same split, else undefined (its training samples are no
   * longer those of one split).
   */
  record: SplitRecord | undefined;
}

/** Parses --val-split: a fraction strictly between 0 and 1. */
function fraction(name: string) {
  return (v: string): number => {
    const n = Number(v);
    if (!(n > 0 && n < 1)) throw new WhittleError('BAD_ARGUMENT', `${name} must be a fraction of the training data in (0, 1), e.g. 0.1; got "${v}"`);
    return n;
  };
}

/** Parses --split-seed: an integer ≥ 0. */
function seedFlag(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new WhittleError('BAD_ARGUMENT', `--split-seed must be an integer ≥ 0, got "${v}"`);
  return n;
}

/** Adds --val-split, --split-seed and --val-data to a command (the training flags include them). */
export function addValidationFlags(cmd: Command): Command {
  return cmd
    .option(
      '--val-split <fraction>',
      `fraction of the training data held out for every choice: early stopping, schedules, floors, proposals; the test split is evaluated once, at the end (default: the split the model recorded, else ${DEFAULT_VALIDATION_FRACTION})`,
      fraction('--val-split'),
    )
    .option('--split-seed <n>', 'seed of the validation split (default: the split the model recorded, else --seed)', seedFlag)
    .option('--val-data <dir>', 'validate on every sample of this dataset directory (same formats as --data) instead of holding out --val-split');
}

function describe(r: SplitRecord): string {
  return 'valData' in r ? `--val-data ${r.valData}` : `--val-split ${r.fraction} --split-seed ${r.seed}`;
}

function loadValData(dir: string, train: Dataset, f: ValidationFlags): Dataset {
  if (resolve(dir) === resolve(f.data ?? defaultMnistDir())) {
    throw new WhittleError(
      'BAD_ARGUMENT',
      `--val-data ${dir} is the --data directory, whose test split must stay unseen until the end; pass another directory, or leave --val-data out to hold out --val-split of the training data`,
    );
  }
  const given = loadData(dir, '--val-data');
  if (given.train.shape.join('x') !== train.shape.join('x') || given.train.numClasses !== train.numClasses) {
    throw new WhittleError(
      'BAD_ARGUMENT',
      `--val-data ${dir} holds samples [${given.train.shape.join(', ')}] of ${given.train.numClasses} classes, the training data [${train.shape.join(', ')}] of ${train.numClasses}; pass validation data of the same kind`,
    );
  }
  return concatDatasets(given.train, given.test);
}

function seededSplit<D extends Dataset | TensorDataset>(train: D, valSplit: number, seed: number): { train: D; validation: D } {
  try {
    return splitValidation(train, valSplit, { seed });
  } catch (e) {
    if (e instanceof WhittleError) throw new WhittleError(e.code, `--val-split ${valSplit}: ${e.message}`, { cause: e });
    throw e;
  }
}

/**
 * The training samples to learn from and the validation samples to choose on. With no split flag
 * and a `model` file that records its split, that split (the same validation samples it was
 * trained without); else --val-split of `train` seeded by --split-seed (default --seed), or all of
 * `train` and the samples of --val-data. A note on stderr (and in `split.note`) says when the
 * validation samples may include the model's training samples. `model`: the input model when it
 * comes from a file (a new zoo model has seen nothing); `label` prefixes the note.
 */
export function holdOutValidation<D extends Dataset | TensorDataset = Dataset>(
  train: D,
  f: ValidationFlags,
  o: { model?: Model; label?: string; loadValidation?: (path: string) => D } = {},
): HeldOut<D> {
  const valDataOfPath = (dir: string): D => {
    if (!isTensorDataset(train)) return loadValData(dir, train, f) as D;
    if (o.loadValidation === undefined) throw new WhittleError('BAD_ARGUMENT', `--val-data ${dir}: this command reads no validation data of this kind`);
    if (resolve(dir) === resolve(f.data ?? ''))
      throw new WhittleError('BAD_ARGUMENT', `--val-data ${dir} is the --data itself; pass other samples, or leave --val-data out to hold out --val-split`);
    return o.loadValidation(dir);
  };
  const label = o.label ?? 'whittle';
  const recorded = o.model !== undefined ? recordedSplit(o.model) : undefined;
  const explicit = f.valSplit !== undefined || f.splitSeed !== undefined || f.valData !== undefined;
  const fingerprint = datasetFingerprint(train);
  const info = (source: SplitInfo['source'], seed: number | null, frac: number | null, valData: string | null, note: string | null): SplitInfo => {
    if (note !== null) process.stderr.write(`${label}: ${note}\n`);
    // A recorded split may be of the first samples only: it names those.
    const of = source === 'recorded' && recorded !== undefined ? recorded : { samples: train.count, fingerprint };
    return { source, seed, fraction: frac, valData, samples: of.samples, fingerprint: of.fingerprint, note };
  };
  if (!explicit && recorded !== undefined) {
    if ('valData' in recorded) {
      if (existsSync(recorded.valData) && recorded.samples === train.count && recorded.fingerprint === fingerprint) {
        const validation = valDataOfPath(recorded.valData);
        return { train, validation, split: info('recorded', null, null, recorded.valData, null), record: recorded };
      }
    } else {
      const again = splitByRecord(train, recorded);
      if (again !== undefined) return { ...again, split: info('recorded', recorded.seed, recorded.fraction, null, null), record: recorded };
    }
  }
  const seed = f.splitSeed ?? f.seed;
  const held = f.valData !== undefined ? { train, validation: valDataOfPath(f.valData) } : seededSplit(train, f.valSplit ?? DEFAULT_VALIDATION_FRACTION, seed);
  const mine: SplitRecord =
    f.valData !== undefined
      ? { valData: resolve(f.valData), samples: train.count, fingerprint }
      : { seed, fraction: f.valSplit ?? DEFAULT_VALIDATION_FRACTION, samples: train.count, fingerprint };
  const fractionOf = 'valData' in mine ? null : mine.fraction;
  const seedOf = 'valData' in mine ? null : mine.seed;
  const valDataOf = 'valData' in mine ? mine.valData : null;
  if (o.model === undefined) return { ...held, split: info(explicit ? 'flags' : 'default', seedOf, fractionOf, valDataOf, null), record: mine };
  const same = recorded !== undefined && JSON.stringify(recorded) === JSON.stringify(mine);
  if (explicit) {
    const note =
      recorded === undefined || same
        ? null
        : `the split given (${describe(mine)}) is not the one the model recorded (${describe(recorded)}); its validation samples may include the model's training samples`;
    return { ...held, split: info('flags', seedOf, fractionOf, valDataOf, note), record: same ? recorded : undefined };
  }
  if (recorded !== undefined)
    return {
      ...held,
      split: info(
        'mismatch',
        seedOf,
        fractionOf,
        valDataOf,
        `the model records a split (${describe(recorded)}) of other training data than this; holding out ${describe(mine)}, which may include the model's training samples`,
      ),
      record: undefined,
    };
  return {
    ...held,
    split: info(
      'unrecorded',
      seedOf,
      fractionOf,
      valDataOf,
      `the model records no training split; holding out ${describe(mine)}, which may include samples it was trained on (pass the split it was trained with)`,
    ),
    record: undefined,
  };
}

/**
 * The user's own labelled --data (.npy, .npz, JSONL, an image folder) read as `model` takes it and
 * fed as read (--normalize, which converts MNIST/CIFAR bytes, is refused), its first --samples,
 * and the validation split held out of it; `read` loads --val-data, --test-data or --eval-data
 * the same way. `why` names what needs the labels.
 */
export function holdOutOwnData(
  model: Model,
  f: ValidationFlags & { samples?: number; normalize?: string },
  options: DataForModelOptions,
  o: { label: string; why: string },
): { all: TensorDataset; held: HeldOut<TensorDataset>; read: (path: string) => TensorDataset } {
  const data = f.data as string;
  refuseNormalize(f.normalize, data);
  const read = (path: string): TensorDataset => loadLabelledForModel(model, path, options, o.why);
  const all = read(data);
  const train = f.samples !== undefined ? firstSamples(all, f.samples) : all;
  return { all, held: holdOutValidation(train, f, { model, label: o.label, loadValidation: read }), read };
}
