// `whittle distill`, `whittle merge` and `whittle grow`: knowledge distillation, neuron merging and
// function-preserving growth. Flags → library calls; progress on stderr, --json on stdout.
import { availableParallelism } from 'node:os';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { Option } from 'commander';
import { distillStudent } from '../compress/distill/index.js';
import { masksFromZeros } from '../compress/prune/index.js';
import type { Hint } from '../compress/distill/index.js';
import { deepen, growWhenStuck, widen } from '../compress/grow/index.js';
import { maxAbsOutputChange, mergeNeurons } from '../compress/merge/index.js';
import type { Dataset, Normalization } from '../data/index.js';
import { subset } from '../data/index.js';
import { WhittleError } from '../ir/errors.js';
import type { Model } from '../ir/graph.js';
import { encodeModel } from '../ir/onnx.js';
import type { Tensor } from '../ir/tensor.js';
import { countParameters } from '../nn/index.js';
import { evaluate } from '../train/evaluate.js';
import { train } from '../train/trainer.js';
import type { TrainFlags } from './flags.js';
import { addTrainFlags, emit, int, num, toTrainOptions } from './flags.js';
import { loadData, loadModel, NORMALIZE_KEY, resolveNormalization, saveModel, zooShapeFor } from './load.js';
import { createReporter } from './progress.js';
import { logEpochs } from '../train/run-log.js';
import { addLogFlag, openCommandLog, resolveLogPath } from './run-log.js';
import { holdOutValidation } from './validation.js';

/** Samples of the test split on which merge and grow measure the change of the outputs. */
const CHANGE_SAMPLES = 1000;

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

async function summary(
  model: Model,
  test: Dataset,
  normalization: Normalization,
  threads: number,
): Promise<{ accuracy: number; errors: number; params: number; bytes: number }> {
  const r = await evaluate(model, test, { normalization, threads });
  return { accuracy: r.accuracy, errors: r.samples - r.correct, params: countParameters(model.graph), bytes: encodeModel(model).length };
}

/** Refuses an --out that is one of the input files (checked before any work is done). */
function checkOut(out: string | undefined, inputs: readonly (string | undefined)[]): void {
  for (const p of inputs)
    if (out !== undefined && p !== undefined && resolve(out) === p)
      throw new WhittleError('BAD_ARGUMENT', `${out} is an input model; Whittle never overwrites its input, choose another output path`);
}

function save(model: Model, out: string | undefined, inputs: readonly (string | undefined)[], normalization: Normalization): number | null {
  if (out === undefined) return null;
  checkOut(out, inputs);
  return saveModel({ ...model, metadata: { ...model.metadata, [NORMALIZE_KEY]: normalization } }, out, undefined);
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
    .option('--keep-zeros', 'a pruned student: hold its zero weights at zero while distilling');
  addLogFlag(addTrainFlags(cmd, { epochs: 10, lr: 0.05, optimizer: 'momentum' })).action(async (f: DistillFlags & { log?: string }) => {
    const log = openCommandLog(resolveLogPath(f.log, f.out), 'distill', f.student);
    try {
      const data = loadData(f.data);
      const { model: teacher, path: teacherPath } = loadModel(f.teacher);
      if (teacherPath === undefined)
        throw new WhittleError('BAD_ARGUMENT', `--teacher ${f.teacher}: pass a trained .onnx file (a zoo name would be an untrained teacher)`);
      const { model: student, path: studentPath } = loadModel(f.student, { seed: f.seed, ...zooShapeFor(data.train) });
      checkOut(f.out, [teacherPath, studentPath]);
      const normalization = resolveNormalization(f.normalize, teacher);
      const trainData = f.samples !== undefined ? subset(data.train, 0, Math.min(f.samples, data.train.count)) : data.train;
      // Settings (temperature, alpha, hints) are compared on valAccuracy; accuracy is the test split's.
      const { train: trainSet, validation } = holdOutValidation(trainData, f);
      const masks = f.keepZeros ? masksFromZeros(student) : new Map<string, Tensor>();
      const options = {
        ...toTrainOptions({ ...f, model: f.student }, normalization, trainSet.count),
        validation,
        onProgress: logEpochs(log, 'distill', createReporter({ label: 'distill' })),
        step: { masked: [...masks.keys()] },
        extraFeeds: new Map([...masks].map(([w, m]) => [`${w}.mask`, m] as const)),
      };
      const t0 = performance.now();
      const result = await distillStudent(teacher, student, trainSet, options, { temperature: f.temperature, alpha: f.alpha, hints: f.hint.map(parseHint) });
      const s = await summary(result.model, data.test, normalization, f.threads);
      const bytes = save(result.model, f.out, [teacherPath, studentPath], normalization);
      const valAccuracy = result.history[result.history.length - 1]?.valAccuracy ?? null;
      const out: Record<string, unknown> = {
        ...s,
        valAccuracy,
        valSamples: validation.count,
        recoveries: result.recoveries,
        bytes: bytes ?? s.bytes,
        teacher: f.teacher,
        student: f.student,
        temperature: f.temperature,
        alpha: f.alpha,
        epochs: result.epochs,
        samplesPerSec: Math.round(result.samplesPerSec),
        seconds: (performance.now() - t0) / 1000,
        out: f.out ?? null,
      };
      process.stderr.write(
        `distill: student ${f.student} test accuracy ${(100 * s.accuracy).toFixed(2)}% (${s.errors} errors), ${s.params.toLocaleString('en-US')} params\n`,
      );
      if (f.baseline) {
        const alone = await train(student, trainSet, { ...options, onProgress: logEpochs(log, 'alone', createReporter({ label: 'alone' })) });
        const b = await summary(alone.model, data.test, normalization, f.threads);
        Object.assign(out, {
          baselineValAccuracy: alone.history[alone.history.length - 1]?.valAccuracy ?? null,
          baselineAccuracy: b.accuracy,
          baselineErrors: b.errors,
          errorRatio: b.errors === 0 ? null : s.errors / b.errors,
        });
        process.stderr.write(`distill: trained alone ${b.errors} errors; distilled ${s.errors} (${((100 * s.errors) / Math.max(1, b.errors)).toFixed(1)}%)\n`);
      }
      log?.write({ type: 'result', result: out });
      emit(Boolean(f.json), out);
    } finally {
      log?.close();
    }
  });
}

interface MergeFlags {
  model: string;
  layer: string;
  count?: number;
  ratio?: number;
  criterion: 'weight' | 'activation';
  similarity: 'cosine' | 'l2';
  calibrationSamples: number;
  fineTune: number;
  lr: number;
  data?: string;
  normalize?: string;
  threads: number;
  seed: number;
  out?: string;
  json?: boolean;
}

function registerMerge(program: Command): void {
  program
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
    .option('--fine-tune <epochs>', 'fine-tune the merged model for this many epochs', int('--fine-tune', 0), 0)
    .option('--lr <x>', 'fine-tuning learning rate (momentum SGD, cosine schedule, batch 64)', num('--lr'), 0.01)
    .option('--data <dir>', 'MNIST-format IDX or CIFAR-10 binary directory (default: the bundled MNIST)')
    .option('--normalize <how>', 'input normalization (default: what the model recorded, else x/255)')
    .option('--threads <n>', 'ONNX Runtime threads', int('--threads', 1), availableParallelism())
    .option('--seed <n>', 'seed for fine-tuning', int('--seed', 0), 0)
    .option('--out <file.onnx>', 'where to write the merged model')
    .option('--json', 'print one JSON object on stdout')
    .action(async (f: MergeFlags) => {
      const data = loadData(f.data);
      const { model, path } = loadModel(f.model, zooShapeFor(data.test));
      checkOut(f.out, [path]);
      const normalization = resolveNormalization(f.normalize, model);
      const r = await mergeNeurons(model, {
        layer: f.layer,
        count: f.count,
        ratio: f.ratio,
        criterion: f.criterion,
        similarity: f.similarity,
        calibration: { data: data.train, normalization, samples: f.calibrationSamples, threads: f.threads },
      });
      const before = await summary(model, data.test, normalization, f.threads);
      const after = await summary(r.model, data.test, normalization, f.threads);
      const change = await maxAbsOutputChange(model, r.model, data.test, { normalization, limit: CHANGE_SAMPLES, threads: f.threads });
      let final = r.model;
      let tuned: Awaited<ReturnType<typeof summary>> | undefined;
      if (f.fineTune > 0) {
        const t = await train(r.model, data.train, {
          epochs: f.fineTune,
          batchSize: 64,
          lr: f.lr,
          optimizer: { kind: 'sgd', momentum: 0.9 },
          schedule: { schedule: { kind: 'cosine', minLr: 0 } },
          normalization,
          seed: f.seed,
          threads: f.threads,
          onProgress: createReporter({ label: 'fine-tune' }),
        });
        final = t.model;
        tuned = await summary(final, data.test, normalization, f.threads);
      }
      const bytes = save(final, f.out, [path], normalization);
      const acc = tuned ?? after;
      process.stderr.write(
        `merge ${f.layer}: ${r.widthBefore} → ${r.widthAfter} units; accuracy ${(100 * before.accuracy).toFixed(2)}% → ${(100 * after.accuracy).toFixed(2)}%${tuned ? ` → ${(100 * tuned.accuracy).toFixed(2)}% after ${f.fineTune} epoch(s) of fine-tuning` : ''}; max |Δoutput| ${change.toExponential(2)}\n`,
      );
      emit(Boolean(f.json), {
        model: f.model,
        layer: f.layer,
        criterion: f.criterion,
        widthBefore: r.widthBefore,
        widthAfter: r.widthAfter,
        accuracy: acc.accuracy,
        errors: acc.errors,
        accuracyBeforeMerge: before.accuracy,
        accuracyAfterMerge: after.accuracy,
        accuracyAfterFineTune: tuned?.accuracy ?? null,
        params: acc.params,
        paramsBefore: before.params,
        bytes: bytes ?? acc.bytes,
        maxAbsOutputChange: change,
        out: f.out ?? null,
      });
    });
}

interface GrowFlags extends TrainFlags {
  widen: string[];
  deepenAfter?: string;
  noise: number;
  init?: 'replicate' | 'random';
  whenStuck?: boolean;
  growSteps: number;
  checksPerEpoch: number;
  growBy?: number;
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
    );
  addLogFlag(addTrainFlags(cmd, { epochs: 15, lr: 0.05, optimizer: 'momentum' })).action(async (f: GrowFlags & { log?: string }) => {
    const widths = f.widen.map((v) => parseAssignment('--widen', v));
    if (widths.length === 0 && f.deepenAfter === undefined)
      throw new WhittleError('BAD_ARGUMENT', 'say how to grow: --widen LAYER=WIDTH and/or --deepen-after LAYER');
    const data = loadData(f.data);
    const { model, path } = loadModel(f.model, { seed: f.seed, ...zooShapeFor(data.train) });
    checkOut(f.out, [path]);
    const normalization = resolveNormalization(f.normalize, model);
    let grown = model;
    const out: Record<string, unknown> = { model: f.model };
    if (f.whenStuck) {
      if (widths.length === 0) throw new WhittleError('BAD_ARGUMENT', '--when-stuck needs the target widths as --widen LAYER=WIDTH');
      const trainData = f.samples !== undefined ? subset(data.train, 0, Math.min(f.samples, data.train.count)) : data.train;
      const split = holdOutValidation(trainData, f);
      const log = openCommandLog(resolveLogPath(f.log, f.out), 'grow', f.model);
      const r = await growWhenStuck(
        model,
        split.train,
        { ...toTrainOptions(f, normalization, split.train.count), onProgress: logEpochs(log, 'grow', createReporter({ label: 'grow' })) },
        {
          targets: Object.fromEntries(widths),
          validation: split.validation,
          steps: f.growSteps,
          checksPerEpoch: f.checksPerEpoch,
          deadline: f.growBy,
          noise: f.noise || undefined,
          init: f.init,
        },
      );
      grown = r.model;
      log?.write({ type: 'result', result: { model: f.model, events: r.events } });
      log?.close();
      for (const e of r.events)
        process.stderr.write(
          `grow: at epoch ${e.epoch.toFixed(2)} (${e.reason}) → ${Object.entries(e.widths)
            .map(([l, w]) => `${l}=${w}`)
            .join(', ')}\n`,
        );
      Object.assign(out, { events: r.events, history: r.history });
    } else {
      for (const [layer, width] of widths) grown = widen(grown, { layer, width, noise: f.noise, init: f.init, seed: f.seed });
      if (f.deepenAfter !== undefined) grown = deepen(grown, { after: f.deepenAfter });
      out['maxAbsOutputChange'] = await maxAbsOutputChange(model, grown, data.test, { normalization, limit: CHANGE_SAMPLES, threads: f.threads });
    }
    const s = await summary(grown, data.test, normalization, f.threads);
    const bytes = save(grown, f.out, [path], normalization);
    process.stderr.write(
      `grow: ${countParameters(model.graph).toLocaleString('en-US')} → ${s.params.toLocaleString('en-US')} params, accuracy ${(100 * s.accuracy).toFixed(2)}%${out['maxAbsOutputChange'] !== undefined ? `, max |Δoutput| ${Number(out['maxAbsOutputChange']).toExponential(2)}` : ''}\n`,
    );
    emit(Boolean(f.json), {
      ...out,
      accuracy: s.accuracy,
      errors: s.errors,
      params: s.params,
      paramsBefore: countParameters(model.graph),
      bytes: bytes ?? s.bytes,
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
