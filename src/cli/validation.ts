// --val-split / --val-data: the validation samples every choice is made on, held out of the
// training data (or given explicitly), so that the test split is only evaluated at the end.
import { resolve } from 'node:path';
import type { Command } from 'commander';
import type { Dataset } from '../data/index.js';
import { concatDatasets, DEFAULT_VALIDATION_FRACTION, defaultMnistDir, splitValidation } from '../data/index.js';
import { WhittleError } from '../ir/errors.js';
import { loadData } from './load.js';

export interface ValidationFlags {
  valSplit: number;
  valData?: string;
  data?: string;
  seed: number;
}

/** Parses --val-split: a fraction strictly between 0 and 1. */
function fraction(name: string) {
  return (v: string): number => {
    const n = Number(v);
    if (!(n > 0 && n < 1)) throw new WhittleError('BAD_ARGUMENT', `${name} must be a fraction of the training data in (0, 1), e.g. 0.1; got "${v}"`);
    return n;
  };
}

/** Adds --val-split and --val-data to a command (the training flags include them). */
export function addValidationFlags(cmd: Command): Command {
  return cmd
    .option(
      '--val-split <fraction>',
      'fraction of the training data held out (seeded by --seed) for every choice: early stopping, schedules, floors, proposals; the test split is evaluated once, at the end',
      fraction('--val-split'),
      DEFAULT_VALIDATION_FRACTION,
    )
    .option('--val-data <dir>', 'validate on every sample of this dataset directory (same formats as --data) instead of holding out --val-split');
}

/**
 * The training samples to learn from and the validation samples to choose on: `train` split by
 * --val-split, or all of `train` and the samples of --val-data.
 */
export function holdOutValidation(train: Dataset, f: ValidationFlags): { train: Dataset; validation: Dataset } {
  if (f.valData === undefined) {
    try {
      return splitValidation(train, f.valSplit, { seed: f.seed });
    } catch (e) {
      if (e instanceof WhittleError) throw new WhittleError(e.code, `--val-split ${f.valSplit}: ${e.message}`, { cause: e });
      throw e;
    }
  }
  if (resolve(f.valData) === resolve(f.data ?? defaultMnistDir())) {
    throw new WhittleError(
      'BAD_ARGUMENT',
      `--val-data ${f.valData} is the --data directory, whose test split must stay unseen until the end; pass another directory, or leave --val-data out to hold out --val-split of the training data`,
    );
  }
  const given = loadData(f.valData);
  if (given.train.shape.join('x') !== train.shape.join('x') || given.train.numClasses !== train.numClasses) {
    throw new WhittleError(
      'BAD_ARGUMENT',
      `--val-data ${f.valData} holds samples [${given.train.shape.join(', ')}] of ${given.train.numClasses} classes, the training data [${train.shape.join(', ')}] of ${train.numClasses}; pass validation data of the same kind`,
    );
  }
  return { train, validation: concatDatasets(given.train, given.test) };
}
