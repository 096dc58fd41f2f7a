// Flags shared by the commands: number parsing with clear errors, the --json contract, and the
// training flags every command that trains (train, demo, prune, distill, ...) accepts.
import { availableParallelism } from 'node:os';
import type { Command } from 'commander';
import { Option } from 'commander';
import { optimizerFromName, OPTIMIZER_NAMES } from '../autodiff/optimizer.js';
import type { DataForModelOptions, Normalization } from '../data/index.js';
import { WhittleError } from '../ir/errors.js';
import { scheduleFromName, SCHEDULE_NAMES } from '../train/schedule.js';
import type { TrainOptions } from '../train/trainer.js';
import { DEFAULT_STEPS_PER_RUN } from '../train/trainer.js';
import { addValidationFlags } from './validation.js';

export function int(name: string, min: number) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min) throw new WhittleError('BAD_ARGUMENT', `${name} must be an integer ≥ ${min}, got "${v}"`);
    return n;
  };
}

export function num(name: string) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isFinite(n)) throw new WhittleError('BAD_ARGUMENT', `${name} must be a number, got "${v}"`);
    return n;
  };
}

/** The human summary of a command's result, written to stdout by `emit` unless --json. */
let summary: string[] = [];

/** Adds text to the command's human summary (its result, as opposed to progress on stderr). */
export function addSummary(text: string): void {
  summary.push(text);
}

/**
 * A command's result on stdout: exactly one JSON object with --json (the human summary then goes
 * to stderr with the progress), else the human summary collected with `addSummary`.
 */
export function emit(json: boolean, obj: Record<string, unknown>): void {
  const text = summary.join('');
  summary = [];
  if (json) {
    process.stderr.write(text);
    process.stdout.write(`${JSON.stringify(obj)}\n`);
  } else process.stdout.write(text);
}

export interface TrainFlags {
  model: string;
  /** `train` only: parameter names or prefixes to keep fixed. */
  freeze?: string;
  data?: string;
  epochs: number;
  batch: number;
  optimizer: string;
  lr: number;
  weightDecay?: number;
  /** Undefined: none, or the model family's (`train`). */
  labelSmoothing?: number;
  lrSchedule: string;
  /** Undefined: the default warm-up (see defaultWarmupSteps). */
  warmup?: number;
  seed: number;
  threads: number;
  out?: string;
  checkpoint?: string;
  resume?: boolean;
  normalize?: string;
  patience?: number;
  samples?: number;
  stepsPerRun: number;
  valSplit?: number;
  splitSeed?: number;
  valData?: string;
  /** false with --no-recover. */
  recover: boolean;
  json?: boolean;
}

/** Linear warm-up steps by default: LeNet-5 at lr 0.05 diverged at step 51 of some seeds without. */
export const DEFAULT_WARMUP_STEPS = 100;

/** The default warm-up of a run of `totalSteps`: 100 steps, but at most a tenth of a short run. */
export function defaultWarmupSteps(totalSteps: number): number {
  return Math.min(DEFAULT_WARMUP_STEPS, Math.floor(totalSteps / 10));
}

/** Adds the training flags (--data, --epochs, --batch, --optimizer, --lr, ...) to a command. */
export function addTrainFlags(cmd: Command, defaults: { epochs: number; lr: number; optimizer: string; model?: string }): Command {
  return addValidationFlags(cmd)
    .option('--data <dir>', 'MNIST-format IDX or CIFAR-10 binary directory (default: the bundled MNIST)')
    .option('--epochs <n>', 'epochs', int('--epochs', 1), defaults.epochs)
    .option('--batch <n>', 'mini-batch size', int('--batch', 1), 64)
    .addOption(new Option('--optimizer <name>', 'optimizer').choices([...OPTIMIZER_NAMES]).default(defaults.optimizer))
    .option('--lr <x>', 'learning rate', num('--lr'), defaults.lr)
    .option('--weight-decay <x>', 'L2 weight decay (default 0; decoupled for adamw, whose default is 0.01)', num('--weight-decay'))
    .option('--label-smoothing <x>', 'label smoothing ε of the cross-entropy, 0 to <1 (default 0)', num('--label-smoothing'))
    .addOption(
      new Option('--lr-schedule <name>', "learning-rate schedule after the warm-up (a new zoo model: its family's, linear for MLPs)")
        .choices([...SCHEDULE_NAMES])
        .default('cosine'),
    )
    .option('--warmup <steps>', `linear warm-up steps (0: none; default ${DEFAULT_WARMUP_STEPS}, at most a tenth of the run)`, int('--warmup', 0))
    .option('--seed <n>', 'seed for weights and shuffling', int('--seed', 0), 0)
    .option('--threads <n>', 'ONNX Runtime threads (default: all cores)', int('--threads', 1), availableParallelism())
    .option('--out <file.onnx>', 'where to write the trained model')
    .option('--checkpoint <path>', 'checkpoint file (default: OUT.ckpt)')
    .option('--resume', 'continue from the checkpoint')
    .option('--normalize <how>', 'input normalization: x/255 | mnist-mean-std | none (default: what the model recorded, else x/255)')
    .option('--patience <epochs>', 'early stopping: stop after this many epochs without a better validation loss', int('--patience', 0))
    .option('--samples <n>', 'train on the first N training samples only (quick runs)', int('--samples', 1))
    .option(
      '--steps-per-run <k>',
      'training steps per onnxruntime call (an ONNX Loop; same result, less overhead)',
      int('--steps-per-run', 1),
      DEFAULT_STEPS_PER_RUN,
    )
    .option(
      '--no-recover',
      'stop with NAN_LOSS on a non-finite loss or a collapse of the training accuracy, instead of going back, halving the learning rate and continuing',
    )
    .option('--json', 'print one JSON object on stdout');
}

/**
 * The trainer options the training flags ask for (data, validation, checkpoints and callbacks
 * are the caller's); `trainCount`, the number of training samples, sizes the default warm-up.
 */
export function toTrainOptions(
  f: TrainFlags,
  normalization: Normalization,
  trainCount: number,
): Pick<
  TrainOptions,
  | 'epochs'
  | 'batchSize'
  | 'lr'
  | 'optimizer'
  | 'schedule'
  | 'normalization'
  | 'seed'
  | 'threads'
  | 'earlyStoppingPatience'
  | 'stepsPerRun'
  | 'recover'
  | 'labelSmoothing'
> {
  return {
    epochs: f.epochs,
    batchSize: f.batch,
    lr: f.lr,
    optimizer: optimizerFromName(f.optimizer, f.weightDecay),
    schedule: {
      schedule: scheduleFromName(f.lrSchedule, f.epochs),
      warmupSteps: f.warmup ?? defaultWarmupSteps(f.epochs * Math.floor(trainCount / Math.min(f.batch, trainCount))),
    },
    normalization,
    seed: f.seed,
    threads: f.threads,
    earlyStoppingPatience: f.patience,
    stepsPerRun: f.stepsPerRun,
    recover: f.recover,
    labelSmoothing: f.labelSmoothing ?? 0,
  };
}

/** A parser of comma-separated numbers (exactly `count` of them when given) for flag `flag`. */
export function numbers(flag: string, count?: number) {
  return (v: string): number[] => {
    const xs = v.split(',').map((s) => Number(s.trim()));
    if (xs.some((x) => !Number.isFinite(x)) || (count !== undefined && xs.length !== count)) {
      throw new WhittleError('BAD_ARGUMENT', `${flag} takes ${count ?? 'one or more'} comma-separated number${count === 1 ? '' : 's'}, got "${v}"`);
    }
    return xs;
  };
}

/** The flags of an image-folder --data: `--image-size`, `--channels`, `--mean`, `--std`. */
export interface ImageFlags {
  imageSize?: [number, number];
  channels?: 'rgb' | 'bgr' | 'gray';
  mean?: number[];
  std?: number[];
}

/** Adds the image-folder flags to `command`. */
export function addImageFlags(command: Command): Command {
  return command
    .option(
      '--image-size <H,W>',
      "image folders: resize to H×W (bilinear; default: the model's input size)",
      (v: string) => numbers('--image-size', 2)(v) as [number, number],
    )
    .addOption(new Option('--channels <order>', 'image folders: channel order (default: gray for 1-channel inputs, else rgb)').choices(['rgb', 'bgr', 'gray']))
    .option('--mean <m>', 'image folders: per-channel mean on the 0..1 scale, e.g. 0.485,0.456,0.406', numbers('--mean'))
    .option('--std <s>', 'image folders: per-channel std on the 0..1 scale, e.g. 0.229,0.224,0.225', numbers('--std'));
}

/** The image-folder flags as `loadDataForModel`'s options. */
export function imageOptions(f: ImageFlags): DataForModelOptions {
  return {
    ...(f.imageSize ? { size: f.imageSize } : {}),
    ...(f.channels ? { channels: f.channels } : {}),
    ...(f.mean ? { mean: f.mean } : {}),
    ...(f.std ? { std: f.std } : {}),
  };
}
