// `whittle distill`, `whittle merge` and `whittle grow`: knowledge distillation, neuron merging and
// function-preserving growth. Flags → library calls; progress on stderr, --json on stdout.
import { availableParallelism } from 'node:os';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { Option } from 'commander';
import type { Hint } from '../compress/distill/index.js';
import type { Dataset, Normalization, TensorDataset } from '../data/index.js';
import { loadLabelledForModel, subset } from '../data/index.js';
import { WhittleError } from '../ir/errors.js';
import type { Model } from '../ir/graph.js';
import { encodeModel } from '../ir/onnx.js';
import { trainableParameters } from '../autodiff/train-step.js';
import { distillModel, growModel, mergeModel, withNormalization, withSplit } from '../pipeline/index.js';
import type { ImageFlags, TrainFlags } from './flags.js';
import { addImageFlags, addTrainFlags, emit, addSummary, imageOptions, int, num, toTrainOptions } from './flags.js';
import { checkOwnDataFlags, isOwnData, loadData, loadModel, NORMALIZE_KEY, resolveNormalization, saveModel, zooShapeFor } from './load.js';
import { pipelineReporter } from './progress.js';
import { addLogFlag, openCommandLog, resolveLogPath } from './run-log.js';
import type { HeldOut } from './validation.js';
import { holdOutOwnData, holdOutValidation } from './validation.js';
import { LABEL_SMOOTHING_KEY } from '../train/label-smoothing.js';

/** Trainable parameter elements, whatever the initializers are called (imported files name them onnx::Conv_203). */
function countParameters(graph: Model['graph']): number {
  return trainableParameters(graph).reduce((n, k) => n + (graph.initializers.get(k)?.size ?? 0), 0);
}

const collect = (v: string, acc: string[]): string[] => [...acc, v];

/** 'fc1=600' → ['fc1', 600]. */
function parseAssignment(flag: string, v: string): [string, number] {
  const m = /^([^=]+)=(\d+)$/.exec(v);
  if (m === null) throw new WhittleError('BAD_ARGUMENT', `${flag} wants LAYER=WIDTH, e.g. fc1=600; got "${v}"`);
  return [m[1] as string, Number(m[2])];
}

function parseHint(v: string): Hint {
  const i = v.lastIndexOf(':');
  if (i <= 0 || i === v.length - 1) throw new WhittleError('BAD_ARGUMENT', `--hint wants teacherTensor:studentTensor, e.g. --hint fc1:relu1; got "${v}"`);
  return { teacher: v.slice(0, i), student: v.slice(i + 1) };
}

function save(model: Model, out: string | undefined, inputs: readonly (string | undefined)[], normalization: Normalization | undefined): number | null {
  if (out === undefined) return null;
  // The command guard refused an --out that is an input before any work; saveModel refuses it again at write time.
  const clash = inputs.find((p) => p !== undefined && resolve(p) === resolve(out));
  return saveModel(normalization !== undefined ? withNormalization(model, normalization) : model, out, clash);
}

interface DistillFlags extends Omit<TrainFlags, 'model'> {
  teacher: string;
  student: string;
  temperature: number;
  alpha: number;
  hint: string[];
  baseline?: boolean;
  keepZeros?: boolean;
}

/** What a distillation run needs, from MNIST/CIFAR bytes or from the user's own samples. */
interface DistillData {
  teacher: Model;
  teacherPath: string;
  student: Model;
  studentPath: string | undefined;
  held: HeldOut<Dataset | TensorDataset>;
  test: Dataset | TensorDataset;
  /** The student's byte normalization; undefined for own samples, fed as read. */
  normalization: Normalization | undefined;
  /** The teacher's, when it recorded one (each batch converted for it). */
  teacherNormalization: Normalization | undefined;
}

function loadTeacher(f: DistillFlags): { teacher: Model; teacherPath: string } {
  const { model: teacher, path: teacherPath } = loadModel(f.teacher);
  if (teacherPath === undefined)
    throw new WhittleError('BAD_ARGUMENT', `--teacher ${f.teacher}: pass a trained .onnx file (a zoo name would be an untrained teacher)`);
  const smoothed = teacher.metadata[LABEL_SMOOTHING_KEY];
  if (smoothed !== undefined && Number(smoothed) > 0)
    process.stderr.write(
      `distill: the teacher was trained with label smoothing ${smoothed}, whose flatter soft targets teach a student less (a 784-30-10 student of a 1-epoch LeNet-300-100: 79.5% test, 84.6% from the same teacher trained without); train teachers with --label-smoothing 0\n`,
    );
  return { teacher, teacherPath };
}

function distillMnistData(f: DistillFlags): DistillData {
  const data = loadData(f.data);
  const { teacher, teacherPath } = loadTeacher(f);
  const { model: student, path: studentPath } = loadModel(f.student, { seed: f.seed, ...zooShapeFor(data.train) });
  const normalization = resolveNormalization(f.normalize, teacher);
  const trainData = f.samples !== undefined ? subset(data.train, 0, Math.min(f.samples, data.train.count)) : data.train;
  // Settings (temperature, alpha, hints) are compared on valAccuracy; accuracy is the test split's.
  // The teacher's recorded split: the student then chooses on samples the teacher never trained on.
  const held = holdOutValidation(trainData, f, { model: teacher, label: 'distill' });
  // The teacher is fed the inputs it recorded training on, whatever --normalize the student takes.
  const teacherNormalization = teacher.metadata[NORMALIZE_KEY] !== undefined ? resolveNormalization(undefined, teacher) : normalization;
  return { teacher, teacherPath, student, studentPath, held, test: data.test, normalization, teacherNormalization };
}

/**
 * The user's own labelled samples (.npy, .npz, JSONL, an image folder), read as the teacher takes
 * them and fed as read to both models; validation held out of --data, the test figure from
 * --test-data. A zoo student is built for the samples' [C, S, S] shape.
 */
function distillOwnData(f: DistillFlags & ImageFlags & { testData?: string }): DistillData {
  const data = f.data as string;
  const { teacher, teacherPath } = loadTeacher(f);
  if (f.testData === undefined)
    throw new WhittleError(
      'BAD_ARGUMENT',
      `distilling on ${data} reports the student's accuracy on labelled test samples: pass --test-data (samples of the same kind, never trained or chosen on)`,
    );
  const { all, held, read } = holdOutOwnData(teacher, f, imageOptions(f), { label: 'distill', why: 'distillation here' });
  const [c, h, w] = all.inputs.find((t) => t.shared !== true)?.shape ?? [];
  const shape = c !== undefined && h !== undefined && h === w ? { inChannels: c, inputSize: h } : {};
  const { model: student, path: studentPath } = loadModel(f.student, { seed: f.seed, ...shape });
  return { teacher, teacherPath, student, studentPath, held, test: read(f.testData), normalization: undefined, teacherNormalization: undefined };
}

function registerDistill(program: Command): void {
  const cmd = program
    .command('distill')
    .description('train a small student from a teacher model (Hinton knowledge distillation, optional hint layers)')
    .requiredOption('--teacher <file.onnx>', 'trained teacher model')
    .requiredOption('--student <zoo|file.onnx>', 'student: zoo name (e.g. mlp:784-100-10) or .onnx file')
    .option('--temperature <T>', 'softmax temperature', num('--temperature'), 4)
    .option('--alpha <a>', 'weight of the soft-target loss (labels get 1 − alpha)', num('--alpha'), 0.7)
    .option('--hint <teacher:student>', 'also match a student tensor to a teacher tensor through a learned adapter (repeatable)', collect, [])
    .option('--baseline', 'also train the student alone (same seed, epochs, optimizer) and report both error counts')
    .option('--keep-zeros', 'a pruned student: hold its zero weights at zero while distilling')
    .option('--test-data <path>', "with your own labelled --data (.npy, .npz, JSONL, an image folder): samples of the same kind for the student's test figure");
  addLogFlag(addImageFlags(addTrainFlags(cmd, { epochs: 10, lr: 0.05, optimizer: 'momentum' }))).action(async (f: DistillFlags & { log?: string }) => {
    const log = openCommandLog(resolveLogPath(f.log, f.out), 'distill', f.student);
    try {
      const { teacher, teacherPath, student, studentPath, held, test, normalization, teacherNormalization } = isOwnData(f.data)
        ? distillOwnData(f)
        : distillMnistData(f);
      const { train: trainSet, validation } = held;
      const t0 = performance.now();
      const events = pipelineReporter('distill', log);
      const r = await distillModel(
        teacher,
        student,
        { train: trainSet, validation, test },
        {
          train: toTrainOptions({ ...f, model: f.student }, normalization ?? 'none', trainSet.count),
          temperature: f.temperature,
          alpha: f.alpha,
          hints: f.hint.map(parseHint),
          keepZeros: f.keepZeros,
          baseline: f.baseline,
          ...(teacherNormalization !== undefined ? { teacherNormalization } : {}),
          onEvent: events,
        },
      );
      events.stop();
      const params = countParameters(r.model.graph);
      const bytes = save(withSplit(r.model, held.record), f.out, [teacherPath, studentPath], normalization) ?? encodeModel(r.model).length;
      const out: Record<string, unknown> = {
        accuracy: r.accuracy,
        errors: r.errors,
        params,
        bytes,
        valAccuracy: r.valAccuracy ?? null,
        valSamples: validation.count,
        split: held.split,
        recoveries: r.training.recoveries,
        teacher: f.teacher,
        student: f.student,
        temperature: f.temperature,
        alpha: f.alpha,
        epochs: r.training.epochs,
        samplesPerSec: Math.round(r.training.samplesPerSec),
        seconds: (performance.now() - t0) / 1000,
        out: f.out ?? null,
      };
      addSummary(
        `distill: student ${f.student} test accuracy ${(100 * r.accuracy).toFixed(2)}% (${r.errors} errors), ${params.toLocaleString('en-US')} params\n`,
      );
      const b = r.baseline;
      if (b !== undefined) {
        Object.assign(out, {
          baselineValAccuracy: b.valAccuracy ?? null,
          baselineAccuracy: b.accuracy,
          baselineErrors: b.errors,
          errorRatio: b.errors === 0 ? null : r.errors / b.errors,
        });
        addSummary(`distill: trained alone ${b.errors} errors; distilled ${r.errors} (${((100 * r.errors) / Math.max(1, b.errors)).toFixed(1)}%)\n`);
      }
      log?.write({ type: 'result', result: out });
      emit(Boolean(f.json), out);
    } finally {
      log?.close();
    }
  });
}

interface MergeFlags extends ImageFlags {
  model: string;
  testData?: string;
  layer: string;
  count?: number;
  ratio?: number;
  criterion: 'weight' | 'activation';
  similarity: 'cosine' | 'l2';
  calibrationSamples: number;
  fineTuneEpochs: number;
  lr: number;
  data?: string;
  normalize?: string;
  threads: number;
  seed: number;
  out?: string;
  json?: boolean;
}

/**
 * The model and samples `merge` works on: an MNIST/CIFAR directory (the model's recorded
 * normalization), or a model file with the user's own labelled --data and --test-data, fed as read.
 */
function mergeInputs(f: MergeFlags): {
  model: Model;
  path: string | undefined;
  data: { train: Dataset | TensorDataset; test: Dataset | TensorDataset };
  normalization: Normalization;
} {
  if (!isOwnData(f.data)) {
    checkOwnDataFlags(f, undefined);
    const data = loadData(f.data);
    const { model, path } = loadModel(f.model, zooShapeFor(data.test));
    return { model, path, data, normalization: resolveNormalization(f.normalize, model) };
  }
  const { model, path } = loadModel(f.model);
  checkOwnDataFlags(f, path, { test: 'labelled test samples for the accuracy figures' });
  const read = (p: string): TensorDataset => loadLabelledForModel(model, p, imageOptions(f), 'merging (its accuracy figures and fine-tune)');
  return { model, path, data: { train: read(f.data as string), test: read(f.testData as string) }, normalization: 'none' };
}

function registerMerge(program: Command): void {
  const cmd = program
    .command('merge')
    .description('merge similar neurons (Dense) or filters (Conv) of a layer into one and thin the layer and the next')
    .requiredOption('--model <file.onnx>', 'model to shrink')
    .requiredOption('--layer <name>', 'layer whose neurons or filters merge, e.g. fc1 or conv2')
    .option('--count <k>', 'neurons/filters to remove', int('--count', 1))
    .option('--ratio <r>', 'fraction of the neurons/filters to remove', num('--ratio'))
    .addOption(
      new Option('--criterion <how>', 'pair neurons by incoming weights or by activations on training samples')
        .choices(['weight', 'activation'])
        .default('weight'),
    )
    .addOption(new Option('--similarity <how>', 'weight criterion: cosine (scaled copies merge) or l2').choices(['cosine', 'l2']).default('cosine'))
    .option('--calibration-samples <n>', 'training samples for the activation criterion', int('--calibration-samples', 2), 2000)
    .option('--fine-tune-epochs <n>', 'fine-tune the merged model for this many epochs', int('--fine-tune-epochs', 0), 0)
    .option('--lr <x>', 'fine-tuning learning rate (momentum SGD, cosine schedule, batch 64)', num('--lr'), 0.01)
    .option(
      '--data <path>',
      'MNIST-format IDX or CIFAR-10 binary directory (default: the bundled MNIST), or your own labelled samples (.npz, .npy + labels.npy, JSONL, image class folders; with --test-data): calibration and fine-tuning read them',
    )
    .option('--test-data <path>', 'with your own --data: the labelled samples the accuracy before and after is measured on')
    .option('--normalize <how>', 'input normalization (default: what the model recorded, else x/255)')
    .option('--threads <n>', 'ONNX Runtime threads', int('--threads', 1), availableParallelism())
    .option('--seed <n>', 'seed for fine-tuning', int('--seed', 0), 0)
    .option('--out <file.onnx>', 'where to write the merged model')
    .option('--json', 'print one JSON object on stdout');
  addLogFlag(addImageFlags(cmd)).action(async (f: MergeFlags & { log?: string }) => {
    const { model, path, data, normalization } = mergeInputs(f);
    const log = openCommandLog(resolveLogPath(f.log, f.out), 'merge', f.model);
    try {
      const t0 = performance.now();
      const events = pipelineReporter('merge', log);
      const r = await mergeModel(model, data, {
        layer: f.layer,
        count: f.count,
        ratio: f.ratio,
        criterion: f.criterion,
        similarity: f.similarity,
        calibrationSamples: f.calibrationSamples,
        fineTuneEpochs: f.fineTuneEpochs,
        train: {
          batchSize: 64,
          lr: f.lr,
          optimizer: { kind: 'sgd', momentum: 0.9 },
          normalization,
          seed: f.seed,
          threads: f.threads,
        },
        onEvent: events,
      });
      events.stop();
      // The stages' test accuracies, as `whittle report` charts them (merge measures them all at the end).
      const seconds = (performance.now() - t0) / 1000;
      log?.write({ type: 'stage', stage: 'before', accuracy: r.accuracyBefore, seconds: 0 });
      log?.write({ type: 'stage', stage: 'merged', accuracy: r.accuracyMerged, seconds });
      if (r.accuracyFineTuned !== undefined) log?.write({ type: 'stage', stage: 'fine-tuned', accuracy: r.accuracyFineTuned, seconds });
      // Fine-tuning here trains on every training sample: no split holds out anything the model has not seen.
      const recorded = isOwnData(f.data) ? undefined : normalization;
      const bytes = save(f.fineTuneEpochs > 0 ? withSplit(r.model, undefined) : r.model, f.out, [path], recorded) ?? encodeModel(r.model).length;
      const accuracy = r.accuracyFineTuned ?? r.accuracyMerged;
      const change = r.maxAbsOutputChange;
      addSummary(
        `merge ${f.layer}: ${r.widthBefore} → ${r.widthAfter} units; accuracy ${(100 * r.accuracyBefore).toFixed(2)}% → ${(100 * r.accuracyMerged).toFixed(2)}%${r.accuracyFineTuned !== undefined ? ` → ${(100 * r.accuracyFineTuned).toFixed(2)}% after ${f.fineTuneEpochs} epoch(s) of fine-tuning` : ''}; max |Δoutput| ${change.toExponential(2)}\n`,
      );
      const result = {
        model: f.model,
        layer: f.layer,
        criterion: f.criterion,
        widthBefore: r.widthBefore,
        widthAfter: r.widthAfter,
        accuracy,
        errors: Math.round((1 - accuracy) * data.test.count),
        accuracyBeforeMerge: r.accuracyBefore,
        accuracyAfterMerge: r.accuracyMerged,
        accuracyAfterFineTune: r.accuracyFineTuned ?? null,
        params: countParameters(r.model.graph),
        paramsBefore: countParameters(model.graph),
        bytes,
        maxAbsOutputChange: change,
        out: f.out ?? null,
      };
      log?.write({ type: 'result', result });
      emit(Boolean(f.json), result);
    } finally {
      log?.close();
    }
  });
}

interface GrowFlags extends TrainFlags, ImageFlags {
  testData?: string;
  widen: string[];
  deepenAfter?: string;
  noise: number;
  init?: 'replicate' | 'random';
  whenStuck?: boolean;
  growSteps: number;
  checksPerEpoch: number;
  growBy?: number;
}

/**
 * What `grow` reads: an MNIST/CIFAR directory (a zoo model built for it), or a model file with the
 * user's own labelled --data (validation held out of it for --when-stuck) and --test-data, fed
 * as read.
 */
function growInputs(f: GrowFlags): {
  model: Model;
  path: string | undefined;
  test: Dataset | TensorDataset;
  held: HeldOut<Dataset | TensorDataset> | undefined;
  normalization: Normalization;
} {
  if (!isOwnData(f.data)) {
    checkOwnDataFlags(f, undefined);
    const data = loadData(f.data);
    const { model, path } = loadModel(f.model, { seed: f.seed, ...zooShapeFor(data.train) });
    const trainData = f.samples !== undefined ? subset(data.train, 0, Math.min(f.samples, data.train.count)) : data.train;
    const held = f.whenStuck ? holdOutValidation(trainData, f, { model: path !== undefined ? model : undefined, label: 'grow' }) : undefined;
    return { model, path, test: data.test, held, normalization: resolveNormalization(f.normalize, model) };
  }
  const { model, path } = loadModel(f.model);
  checkOwnDataFlags(f, path, { test: 'labelled test samples for the accuracy' });
  const options = imageOptions(f);
  if (!f.whenStuck) {
    return { model, path, test: loadLabelledForModel(model, f.testData as string, options, 'the accuracy figure'), held: undefined, normalization: 'none' };
  }
  const { held, read } = holdOutOwnData(model, f, options, { label: 'grow', why: 'growing while training' });
  return { model, path, test: read(f.testData as string), held, normalization: 'none' };
}

function registerGrow(program: Command): void {
  const cmd = program
    .command('grow')
    .description('grow a model without changing its function (Net2WiderNet / Net2DeeperNet), or train and grow when stuck')
    .requiredOption('--model <zoo|file.onnx>', 'model to grow')
    .option('--widen <layer=width>', 'widen a Dense layer to this many neurons, or a Conv to this many filters (repeatable)', collect, [])
    .option('--deepen-after <layer>', 'insert an identity Dense (or 3×3 Conv) layer after this one')
    .option('--noise <x>', 'replicated units: zero-sum noise on the split outgoing weights (breaks symmetry; output unchanged)', num('--noise'), 0)
    .addOption(
      new Option(
        '--init <how>',
        'new units: replicate existing ones (Net2WiderNet; default for --widen) or random with zero outgoing weights (default with --when-stuck)',
      ).choices(['replicate', 'random']),
    )
    .option('--when-stuck', 'train with the training flags; widen toward the --widen widths whenever validation accuracy plateaus')
    .option('--grow-steps <n>', 'with --when-stuck: growth events to reach the widths', int('--grow-steps', 1), 3)
    .option('--checks-per-epoch <n>', 'with --when-stuck: validation checks per epoch (growth can follow any check)', int('--checks-per-epoch', 1), 1)
    .option(
      '--grow-by <epoch>',
      'with --when-stuck: every growth event has happened by this epoch (default: half the epochs); plateaus are detected on --val-split',
      num('--grow-by'),
    )
    .option('--test-data <path>', 'with your own labelled --data (.npy, .npz, JSONL, an image folder): samples of the same kind for the accuracy');
  addLogFlag(addImageFlags(addTrainFlags(cmd, { epochs: 15, lr: 0.05, optimizer: 'momentum' }))).action(async (f: GrowFlags & { log?: string }) => {
    const widths = f.widen.map((v) => parseAssignment('--widen', v));
    if (widths.length === 0 && f.deepenAfter === undefined)
      throw new WhittleError('BAD_ARGUMENT', 'say how to grow: --widen LAYER=WIDTH and/or --deepen-after LAYER');
    const { model, path, test, held, normalization } = growInputs(f);
    const split = held !== undefined ? { train: held.train, validation: held.validation } : undefined;
    const log = f.whenStuck ? openCommandLog(resolveLogPath(f.log, f.out), 'grow', f.model) : undefined;
    const events = pipelineReporter('grow', log);
    const r = await growModel(
      model,
      { ...split, test },
      {
        widen: Object.fromEntries(widths),
        deepenAfter: f.deepenAfter,
        noise: f.noise,
        init: f.init,
        seed: f.seed,
        whenStuck:
          split !== undefined
            ? { train: toTrainOptions(f, normalization, split.train.count), steps: f.growSteps, checksPerEpoch: f.checksPerEpoch, deadline: f.growBy }
            : undefined,
        normalization,
        threads: f.threads,
        onEvent: events,
      },
    ).finally(() => events.stop());
    if (r.events !== undefined) {
      log?.write({ type: 'result', result: { model: f.model, events: r.events } });
      for (const e of r.events)
        addSummary(
          `grow: at epoch ${e.epoch.toFixed(2)} (${e.reason}) → ${Object.entries(e.widths)
            .map(([l, w]) => `${l}=${w}`)
            .join(', ')}\n`,
        );
    }
    log?.close();
    const params = countParameters(r.model.graph);
    const recorded = isOwnData(f.data) ? undefined : normalization;
    const bytes = save(held !== undefined ? withSplit(r.model, held.record) : r.model, f.out, [path], recorded) ?? encodeModel(r.model).length;
    addSummary(
      `grow: ${countParameters(model.graph).toLocaleString('en-US')} → ${params.toLocaleString('en-US')} params, accuracy ${(100 * r.accuracy).toFixed(2)}%${r.maxAbsOutputChange !== undefined ? `, max |Δoutput| ${r.maxAbsOutputChange.toExponential(2)}` : ''}\n`,
    );
    emit(Boolean(f.json), {
      model: f.model,
      ...(r.events !== undefined ? { events: r.events, history: r.history } : { maxAbsOutputChange: r.maxAbsOutputChange }),
      accuracy: r.accuracy,
      errors: r.errors,
      params,
      paramsBefore: countParameters(model.graph),
      bytes,
      split: held?.split ?? null,
      out: f.out ?? null,
    });
  });
}

/** Registers `distill`, `merge` and `grow`. */
export function registerDistillCommands(program: Command): void {
  registerDistill(program);
  registerMerge(program);
  registerGrow(program);
}
