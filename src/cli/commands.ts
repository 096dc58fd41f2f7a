import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { statSync } from 'node:fs';
import type { Command } from 'commander';
import { WhittleError } from '../ir/errors.js';
import { encodeModel } from '../ir/onnx.js';
import { modelStats } from '../ir/stats.js';
import type { Signature } from '../ir/stats.js';
import { runtimeShapes } from '../runtime/probe.js';
import { sparseStats } from '../compress/prune/sparse.js';
import { SHAPE_RULES } from '../ops/index.js';
import { subset } from '../data/index.js';
import type { Dataset, Normalization, TensorDataset } from '../data/index.js';
import { chooseNormalization, evaluate } from '../train/evaluate.js';
import type { NormalizationTrial } from '../train/evaluate.js';
import { train } from '../train/trainer.js';
import { trainingDefaults } from '../train/defaults.js';
import { LABEL_SMOOTHING_KEY } from '../train/label-smoothing.js';
import { trainableParameters } from '../autodiff/train-step.js';
import { addImageFlags, addTrainFlags, emit, addSummary, imageOptions, toTrainOptions } from './flags.js';
import type { ImageFlags, TrainFlags } from './flags.js';
import type { Model } from '../ir/graph.js';
import { demoCompression } from './compress.js';
import { createReporter } from './progress.js';
import { isOwnData, loadData, loadModel, NORMALIZE_KEY, resolveNormalization, saveModel, zooShapeFor } from './load.js';
import { logEpochs } from '../train/run-log.js';
import type { RunLog } from '../train/run-log.js';
import { addLogFlag, openCommandLog, resolveLogPath } from './run-log.js';
import { demoReport } from './report.js';
import { holdOutOwnData, holdOutValidation } from './validation.js';
import { withSplit } from '../pipeline/index.js';
import { dependencyGroups } from '../graph/dependency.js';
import { printable, printableLines } from '../ir/text.js';

/** Fine-tuning a model file starts from trained weights: a tenth of the from-scratch rate unless --lr says otherwise. */
export const FINE_TUNE_LR_FACTOR = 0.1;

/** The trainable parameters named by --freeze: exact names or name prefixes, comma-separated. */
function frozenParameters(model: Model, freeze: string | undefined): string[] {
  if (freeze === undefined) return [];
  const params = trainableParameters(model.graph);
  const prefixes = freeze
    .split(',')
    .map((p) => p.trim())
    .filter((p) => p !== '');
  for (const p of prefixes) {
    if (!params.some((q) => q.startsWith(p)))
      throw new WhittleError('BAD_ARGUMENT', `--freeze ${p}: no trainable parameter is named or starts with "${p}" (e.g. ${params.slice(0, 3).join(', ')})`);
  }
  return params.filter((q) => prefixes.some((p) => q.startsWith(p)));
}

/** Validation samples `chooseNormalization` tries each candidate on. */
const NORMALIZE_PROBE_SAMPLES = 2000;

/**
 * The input normalization of a training run: --normalize, else what the model recorded, else for a
 * trained model file (a foreign export records none) the candidate under which it classifies the
 * validation split best, else the model family's default (a new zoo model; `trainingDefaults`).
 */
async function trainNormalization(
  f: TrainFlags,
  model: Model,
  fineTuning: boolean,
  validation: Dataset,
  label: string,
  zooDefault: Normalization,
): Promise<{ normalization: Normalization; normalizeFrom: 'flag' | 'recorded' | 'validation' | 'default'; normalizeTrials: NormalizationTrial[] | null }> {
  if (f.normalize !== undefined || model.metadata[NORMALIZE_KEY] !== undefined)
    return { normalization: resolveNormalization(f.normalize, model), normalizeFrom: f.normalize !== undefined ? 'flag' : 'recorded', normalizeTrials: null };
  if (!fineTuning) return { normalization: zooDefault, normalizeFrom: 'default', normalizeTrials: null };
  const probe = subset(validation, 0, Math.min(NORMALIZE_PROBE_SAMPLES, validation.count));
  const { normalization, trials } = await chooseNormalization(model, probe, { threads: f.threads });
  process.stderr.write(
    `${label}: the model records no input normalization; on ${probe.count} validation samples ${trials
      .map((t) => `${t.normalization} ${(100 * t.accuracy).toFixed(2)}% (loss ${t.loss.toFixed(3)})`)
      .join(', ')}: training with ${normalization}, the lowest loss (--normalize to choose)\n`,
  );
  return { normalization, normalizeFrom: 'validation', normalizeTrials: trials };
}

/** A model file starts from trained weights: a tenth of the from-scratch rate unless --lr was given, said on stderr. */
function fineTuneLr<F extends TrainFlags>(f: F, given: (flag: 'lr') => boolean, label: string): F {
  if (given('lr')) return f;
  const lr = Number((f.lr * FINE_TUNE_LR_FACTOR).toPrecision(6));
  process.stderr.write(`${label}: fine-tuning ${f.model} at learning rate ${lr} (a tenth of the from-scratch default; --lr to choose)\n`);
  return { ...f, lr };
}

/**
 * The shared body of `train` and `demo`; `given(flag)`: the flag was on the command line. A new zoo
 * model takes its family's defaults (`trainingDefaults`) for --batch, --lr, --optimizer, --label-smoothing,
 * --lr-schedule and --normalize where they were not given; a model file keeps the general ones, at a tenth of the lr.
 */
async function runTrain(
  f: TrainFlags,
  given: (flag: 'lr' | 'batch' | 'optimizer' | 'labelSmoothing' | 'lrSchedule') => boolean,
  label = 'train',
  onTrained?: (model: Model) => void,
  log?: RunLog,
  announce?: (f: TrainFlags) => void,
): Promise<Record<string, unknown>> {
  if (isOwnData(f.data)) return runTrainOnOwnData(f, given, label, log);
  const data = loadData(f.data);
  const { model, path } = loadModel(f.model, { seed: f.seed, ...zooShapeFor(data.train) });
  const fineTuning = path !== undefined;
  const family = trainingDefaults(fineTuning ? '' : f.model);
  if (!fineTuning)
    f = {
      ...f,
      batch: given('batch') ? f.batch : family.batchSize,
      lr: given('lr') ? f.lr : family.lr,
      optimizer: given('optimizer') ? f.optimizer : family.optimizer,
      labelSmoothing: given('labelSmoothing') ? f.labelSmoothing : family.labelSmoothing,
      lrSchedule: given('lrSchedule') ? f.lrSchedule : family.schedule,
    };
  if (fineTuning) f = fineTuneLr(f, given, label);
  announce?.(f);
  const frozen = frozenParameters(model, f.freeze);
  const trainData = f.samples !== undefined ? subset(data.train, 0, Math.min(f.samples, data.train.count)) : data.train;
  const held = holdOutValidation(trainData, f, { model: fineTuning ? model : undefined, label });
  const { train: trainSet, validation } = held;
  const { normalization, normalizeFrom, normalizeTrials } = await trainNormalization(f, model, fineTuning, validation, label, family.normalization);
  const t0 = performance.now();
  const result = await trainWithCheckpoints(f, label, log, model, trainSet, validation, normalization, frozen);
  const metadata: Record<string, string> = { ...result.model.metadata, [NORMALIZE_KEY]: normalization };
  if (f.labelSmoothing) metadata[LABEL_SMOOTHING_KEY] = String(f.labelSmoothing);
  else delete metadata[LABEL_SMOOTHING_KEY];
  const trained = withSplit({ ...result.model, metadata }, held.record);
  if (result.status !== 'interrupted') onTrained?.(trained);
  let bytes: number | undefined;
  if (f.out !== undefined && result.status !== 'interrupted') bytes = saveModel(trained, f.out, path);
  // The test split, once, on the final model (an interrupted run is not final).
  const test = result.status === 'interrupted' ? undefined : await evaluate(trained, data.test, { normalization, threads: f.threads });
  if (test !== undefined) addSummary(`${label}: test accuracy ${(100 * test.accuracy).toFixed(2)}% (${test.samples} samples), loss ${test.loss.toFixed(4)}\n`);
  return {
    model: f.model,
    ...runJson(f, result, held, t0, bytes, test),
    defaults: family.family,
    fineTuning,
    normalize: normalization,
    normalizeFrom,
    normalizeTrials,
    history: result.history,
  };
}

/** The JSON keys every training run reports: its test and last validation figures, split, settings, progress and output. */
function runJson(
  f: TrainFlags,
  result: Awaited<ReturnType<typeof train>>,
  held: { train: { count: number }; validation: { count: number }; split: unknown },
  t0: number,
  bytes: number | undefined,
  test: Awaited<ReturnType<typeof evaluate>> | undefined,
): Record<string, unknown> {
  const last = result.history[result.history.length - 1];
  return {
    status: result.status,
    accuracy: test?.accuracy ?? null,
    loss: test?.loss ?? null,
    testSamples: test?.samples ?? null,
    valAccuracy: last?.valAccuracy ?? null,
    valLoss: last?.valLoss ?? null,
    valSamples: held.validation.count,
    trainSamples: held.train.count,
    split: held.split,
    lr: f.lr,
    batch: f.batch,
    optimizer: f.optimizer,
    labelSmoothing: f.labelSmoothing ?? 0,
    lrSchedule: f.lrSchedule,
    recoveries: result.recoveries,
    trainLoss: last?.loss ?? null,
    trainAccuracy: last?.trainAccuracy ?? null,
    epochs: result.epochs,
    samplesPerSec: Math.round(result.samplesPerSec),
    seconds: (performance.now() - t0) / 1000,
    out: f.out ?? null,
    bytes: bytes ?? null,
  };
}

/**
 * The training run of `train` and `demo`: the checkpoint (--checkpoint, else OUT.ckpt) written
 * every epoch and on Ctrl-C, --resume from it, progress on stderr and in the run log; an
 * interrupted run says how to continue and exits 130.
 */
async function trainWithCheckpoints(
  f: TrainFlags,
  label: string,
  log: RunLog | undefined,
  model: Model,
  trainSet: Dataset | TensorDataset,
  validation: Dataset | TensorDataset,
  normalization: Normalization,
  frozen: string[],
): Promise<Awaited<ReturnType<typeof train>>> {
  const checkpointPath = f.checkpoint ?? (f.out !== undefined ? `${f.out}.ckpt` : undefined);
  if (f.resume && checkpointPath === undefined)
    throw new WhittleError('BAD_ARGUMENT', '--resume needs --checkpoint PATH or --out PATH (the checkpoint is PATH.ckpt)');
  let stop = false;
  const onSigint = (): void => {
    if (stop) process.exit(130);
    stop = true;
    process.stderr.write('\nwhittle: interrupted; saving a checkpoint (Ctrl-C again to quit at once)\n');
  };
  process.on('SIGINT', onSigint);
  const reporter = createReporter({ label });
  try {
    const result = await train(model, trainSet, {
      ...toTrainOptions(f, normalization, trainSet.count),
      validation,
      checkpointPath,
      resume: f.resume,
      shouldStop: () => stop,
      onProgress: logEpochs(log, label, reporter),
      ...(frozen.length > 0 ? { step: { frozen } } : {}),
    }).catch((e: unknown) => {
      if (e instanceof WhittleError && e.code === 'NO_GRADIENT')
        throw new WhittleError(e.code, `${e.message} (--freeze takes their names or a common prefix, comma-separated)`, { cause: e });
      if (e instanceof WhittleError && e.code === 'NAN_LOSS')
        throw new WhittleError(
          e.code,
          `${e.message} (--lr, --warmup${f.recover ? '' : '; without --no-recover training goes back and halves the learning rate'})`,
          { cause: e },
        );
      throw e;
    });
    reporter.stop();
    if (result.status === 'interrupted') {
      process.stderr.write(
        `whittle: stopped at epoch ${result.epochs + 1}; checkpoint ${checkpointPath ?? '(none: pass --out or --checkpoint)'}; continue with the same command plus --resume\n`,
      );
      process.exitCode = 130;
    }
    return result;
  } finally {
    process.off('SIGINT', onSigint);
  }
}

/**
 * `train --model FILE --data OWN`: fine-tunes a model file on the user's labelled samples (an .npz
 * with a `labels` array, .npy files beside a labels.npy, JSONL with `label`, an image folder with
 * class sub-folders), read as the model takes them (image folders: --image-size, --mean, --std),
 * so no --normalize applies. Validation is held out of them as for MNIST; the test figure comes
 * from --test-data, evaluated once at the end, and is null without it.
 */
async function runTrainOnOwnData(
  f: TrainFlags & ImageFlags & { testData?: string },
  given: (flag: 'lr' | 'batch' | 'optimizer' | 'labelSmoothing' | 'lrSchedule') => boolean,
  label: string,
  log: RunLog | undefined,
): Promise<Record<string, unknown>> {
  const data = f.data as string;
  const { model, path } = loadModel(f.model);
  if (path === undefined)
    throw new WhittleError(
      'BAD_ARGUMENT',
      `--data ${data} holds your own samples: fine-tune a model file on them (--model model.onnx); zoo models train on MNIST-format or CIFAR-10 directories`,
    );
  const { held, read } = holdOutOwnData(model, f, imageOptions(f), { label, why: 'training' });
  f = fineTuneLr(f, given, label);
  const test = f.testData !== undefined ? read(f.testData) : undefined;
  const frozen = frozenParameters(model, f.freeze);
  const t0 = performance.now();
  const result = await trainWithCheckpoints(f, label, log, model, held.train, held.validation, 'none', frozen);
  const metadata: Record<string, string> = { ...result.model.metadata };
  if (f.labelSmoothing) metadata[LABEL_SMOOTHING_KEY] = String(f.labelSmoothing);
  const trained = withSplit({ ...result.model, metadata }, held.record);
  const last = result.history[result.history.length - 1];
  const bytes = f.out !== undefined && result.status !== 'interrupted' ? saveModel(trained, f.out, path) : undefined;
  const scored =
    test !== undefined && result.status !== 'interrupted' ? await evaluate(trained, test, { normalization: 'none', threads: f.threads }) : undefined;
  addSummary(
    scored !== undefined
      ? `${label}: test accuracy ${(100 * scored.accuracy).toFixed(2)}% (${scored.samples} samples of ${f.testData}), loss ${scored.loss.toFixed(4)}\n`
      : `${label}: validation accuracy ${last?.valAccuracy !== undefined ? `${(100 * last.valAccuracy).toFixed(2)}%` : 'n/a'} (${held.validation.count} held-out samples); no --test-data, so no test figure\n`,
  );
  return {
    model: f.model,
    data,
    testData: f.testData ?? null,
    ...runJson(f, result, held, t0, bytes, scored),
    fineTuning: true,
    normalize: null,
    normalizeFrom: 'data',
    history: result.history,
  };
}

export function registerCommands(program: Command): void {
  const trainCmd = addTrainFlags(
    program
      .command('train')
      .description(
        "train a zoo model or fine-tune an .onnx model on MNIST-format data, or fine-tune an .onnx model on your own labelled --data (.npz, .npy + labels.npy, JSONL, an image folder with class sub-folders; --test-data for the test figure) (a zoo model takes its family's defaults for --batch, --optimizer, --lr, --lr-schedule, --normalize and --label-smoothing: MLPs batch 32, nesterov, lr 0.03, linear, mnist-mean-std)",
      )
      .requiredOption('--model <zoo|file.onnx>', 'zoo name (lenet-300-100, lenet-5, resnet-cifar, lstm, mobilenet-v2[:width], mlp:784-100-10) or .onnx file'),
    {
      epochs: 10,
      lr: 0.05,
      optimizer: 'momentum',
    },
  );
  trainCmd.option('--freeze <names>', 'parameters to keep fixed: names or name prefixes, comma-separated (e.g. the layers before an op without a gradient)');
  trainCmd.option(
    '--test-data <path>',
    'with your own --data (.npz, .npy, JSONL, an image folder): labelled samples of the same kind, evaluated once at the end for the test figure',
  );
  addImageFlags(trainCmd);
  const dataFlag = trainCmd.options.find((o) => o.long === '--data');
  if (dataFlag !== undefined)
    dataFlag.description =
      'MNIST-format IDX or CIFAR-10 binary directory (default: the bundled MNIST), or, to fine-tune a model file, your own labelled samples: an .npz with "labels", .npy files beside a labels.npy, JSONL with "label", an image folder with class sub-folders';
  addLogFlag(trainCmd).action(async (f: TrainFlags & { log?: string }, cmd: Command) => {
    const log = openCommandLog(resolveLogPath(f.log, f.out), 'train', f.model, { append: f.resume });
    try {
      const r = await runTrain(f, (flag) => cmd.getOptionValueSource(flag) === 'cli', 'train', undefined, log);
      log?.write({ type: 'result', result: r });
      emit(Boolean(f.json), r);
    } finally {
      log?.close();
    }
  });

  program
    .command('info')
    .description('parameters, nonzeros, bytes, FLOPs and op counts of a model')
    .requiredOption('--model <file.onnx>', 'model file (or a zoo name)')
    .option('--json', 'print one JSON object on stdout')
    .action(async (f: { model: string; json?: boolean }) => {
      // Validated as every command does; what the others would refuse is listed, not thrown.
      let problems: WhittleError[] = [];
      const { model, path } = loadModel(f.model, { onProblems: (p) => (problems = p), asShipped: true });
      for (const p of problems) process.stderr.write(`info: other commands refuse this model: [${p.code}] ${printable(p.message)}\n`);
      // Ops without a shape rule: onnxruntime tells their shapes, so FLOPs after them count too.
      // (Not for a model onnxruntime would refuse: its shapes come from the rules alone.)
      const s = modelStats(model, SHAPE_RULES, problems.length > 0 ? {} : { known: await runtimeShapes(model, SHAPE_RULES) });
      const sparse = sparseStats(model);
      const bytes = path !== undefined ? statSync(path).size : encodeModel(model).length;
      const ops = Object.entries(s.ops)
        .sort((a, b) => b[1] - a[1])
        .map(([k, v]) => `${k}×${v}`)
        .join(' ');
      const sig = (v: Signature): string => (v.type !== undefined ? `${v.name} ${v.type}` : `${v.name} ${v.dtype}[${v.shape.join(',')}]`);
      const unknown = s.unknownShapeNodes > 0 ? ` (${s.unknownShapeNodes} node(s) of unknown shape not counted)` : '';
      const shown = s.flopAssumptions.slice(0, 4).map((a) => `\n    ${a}`);
      const bodies =
        s.flopAssumptions.length > 0
          ? `\n  FLOPs of If/Loop/Scan bodies assume:${shown.join('')}${s.flopAssumptions.length > shown.length ? `\n    … ${s.flopAssumptions.length - shown.length} more (--json: flopAssumptions)` : ''}`
          : '';
      // Structured pruning's view: which channel groups can go, and what blocks the others.
      const groups = dependencyGroups(model.graph);
      const prunable = groups.filter((g) => g.prunable);
      const byUnit = (['channel', 'head', 'hidden'] as const).map((u) => [u, prunable.filter((g) => g.unit === u).length] as const).filter(([, n]) => n > 0);
      const blocked = groups.filter((g) => !g.prunable && g.producers.length > 0).map((g) => `    ${g.name}: ${g.reason ?? 'not prunable'}`);
      addSummary(
        printableLines(
          `${f.model}: ${s.params.toLocaleString('en-US')} params (${s.nonzeroParams.toLocaleString('en-US')} nonzero), ${bytes.toLocaleString('en-US')} bytes (weights ${sparse.denseBytes.toLocaleString('en-US')} dense, ${sparse.sparseBytes.toLocaleString('en-US')} sparse), ${(s.flops / 1e6).toFixed(2)} MFLOPs/sample${unknown}${bodies}\n  inputs: ${s.inputs.map(sig).join(', ')}\n  outputs: ${s.outputs.map(sig).join(', ')}\n  opsets: ${model.opsetImports.map((o) => `${o.domain || 'ai.onnx'} ${o.version}`).join(', ')}\n  ops: ${ops}\n  channel groups: ${prunable.length} prunable of ${groups.length}${byUnit.length > 0 ? ` (${byUnit.map(([u, n]) => `${n} ${u}`).join(', ')})` : ''}${blocked.length > 0 ? `; blocked:\n${blocked.join('\n')}` : ''}`,
        ) + '\n',
      );
      emit(Boolean(f.json), {
        model: f.model,
        params: s.params,
        nonzeroParams: s.nonzeroParams,
        bytes,
        parameterBytes: s.parameterBytes,
        denseBytes: sparse.denseBytes,
        sparseBytes: sparse.sparseBytes,
        flops: s.flops,
        macs: s.macs,
        unknownShapeNodes: s.unknownShapeNodes,
        flopAssumptions: s.flopAssumptions,
        ops: s.ops,
        opsets: model.opsetImports,
        inputs: s.inputs,
        outputs: s.outputs,
        metadata: model.metadata,
        channelGroups: groups.map((g) => ({ name: g.name, unit: g.unit, channels: g.channels, prunable: g.prunable, reason: g.reason ?? null })),
        problems: problems.map((p) => ({ code: p.code, message: p.message })),
      });
    });

  const demoCmd = addTrainFlags(
    program.command('demo').description('the main job on the bundled MNIST: train LeNet-300-100, report test accuracy, then Deep-Compress it (Table 1)'),
    { epochs: 10, lr: 0.05, optimizer: 'momentum' },
  )
    .option('--model <zoo|file.onnx>', 'model', 'lenet-300-100')
    .option('--no-compress', 'skip the Deep Compression part (prune → k-means → Huffman, Table 1)')
    .option('--compress-out <dir>', 'where the demo writes model.wtl and model.onnx (default: OUT.dc, else a temporary directory)')
    .option('--report <file.html>', 'the HTML report of the run (default: OUT.report.html, else in a temporary directory)');
  addLogFlag(demoCmd).action(async (f: TrainFlags & { compress: boolean; compressOut?: string; report?: string; log?: string }, cmd: Command) => {
    const announce = (g: TrainFlags): void => {
      process.stderr.write(
        `whittle demo: training ${g.model} on MNIST for ${g.epochs} epoch(s), batch ${g.batch}, ${g.optimizer} lr ${g.lr}, ${g.threads} thread(s)\n`,
      );
    };
    // The demo always keeps a log, so that it can end with a report.
    const scratch = join(tmpdir(), `whittle-demo-${process.pid}`);
    const log = openCommandLog(resolveLogPath(f.log, f.out) ?? join(scratch, 'log.jsonl'), 'demo', f.model);
    try {
      let trained: Model | undefined;
      const r = await runTrain(
        f,
        (flag) => cmd.getOptionValueSource(flag) === 'cli',
        'demo',
        (m) => (trained = m),
        log,
        announce,
      );
      addSummary(
        `whittle demo: test accuracy ${(100 * Number(r['accuracy'])).toFixed(2)}% after ${String(r['epochs'])} epoch(s), ${String(r['samplesPerSec'])} samples/s${f.out ? `; model written to ${f.out}` : ''}\n`,
      );
      let container: string | undefined;
      if (f.compress && trained !== undefined) {
        const out = f.compressOut ?? (f.out !== undefined ? `${f.out}.dc` : scratch);
        const c = await demoCompression(trained, {
          data: f.data,
          normalization: r['normalize'] as Normalization,
          threads: f.threads,
          out,
          seed: f.seed,
          samples: f.samples,
          log,
        });
        if (c !== undefined) {
          r['compression'] = c;
          container = String(c['container']);
        }
      }
      log?.write({ type: 'result', result: r });
      log?.close();
      const report = f.report ?? (f.out !== undefined ? `${f.out}.report.html` : join(scratch, 'report.html'));
      r['report'] = demoReport(log?.path, report, container ?? f.out);
      addSummary(`whittle demo: report ${report}\n`);
      emit(Boolean(f.json), r);
    } finally {
      log?.close();
    }
  });
}
