// `whittle prune` and `whittle sensitivity`: parse flags, call src/compress/prune, report.
import { availableParallelism } from 'node:os';
import type { Command } from 'commander';
import { Option } from 'commander';
import { optimizerFromName, OPTIMIZER_NAMES } from '../autodiff/optimizer.js';
import type { Dataset, Normalization, TensorDataset } from '../data/index.js';
import { firstSamples, loadDataForModel, subset } from '../data/index.js';
import { WhittleError } from '../ir/errors.js';
import { writeFileAtomic } from '../ir/io.js';
import { encodeSparseOnnx } from '../compress/prune/sparse-onnx.js';
import type { Model } from '../ir/graph.js';
import { checkSparsity } from '../compress/prune/layers.js';
import { pruneReport } from '../compress/prune/report.js';
import { proposeForTarget, proposeSparsities, sensitivity } from '../compress/prune/sensitivity.js';
import type { ChannelRounding } from '../compress/prune/structured.js';
import { CHANNEL_ROUNDINGS } from '../compress/prune/structured.js';
import { checkPruneOptions, PRUNE_GRANULARITIES, PRUNE_METHODS, PRUNE_SCHEDULES, pruneModel, pruneWithoutData, withSplit } from '../pipeline/index.js';
import type { PruneGranularity, PruneMethod, PruneSchedule, TrainSettings } from '../pipeline/index.js';
import { compareModels } from '../train/compare.js';
import { evaluate } from '../train/evaluate.js';
import { runnableRandomData } from '../train/random-inputs.js';
import { DEFAULT_STEPS_PER_RUN } from '../train/trainer.js';
import { scheduleFromName, SCHEDULE_NAMES } from '../train/schedule.js';
import { addImageFlags, emit, addSummary, imageOptions, int, num } from './flags.js';
import type { ImageFlags } from './flags.js';
import { pipelineReporter } from './progress.js';
import { formatTable } from './table.js';
import { agreementJson, describeAgreement } from './eval.js';
import { checkOwnDataFlags, isOwnData, loadData, loadModel, NORMALIZE_KEY, resolveNormalization, saveModel, usesImageDataset, zooShapeFor } from './load.js';
import type { RunLog } from '../train/run-log.js';
import { addLogFlag, openCommandLog, resolveLogPath } from './run-log.js';
import type { HeldOut } from './validation.js';
import { addValidationFlags, holdOutOwnData, holdOutValidation } from './validation.js';

interface PruneFlags extends ImageFlags {
  model: string;
  data?: string;
  method: PruneMethod;
  granularity?: PruneGranularity;
  sparsity?: number;
  perLayer?: string;
  roundTo?: number;
  rounding?: ChannelRounding;
  scope: 'layer' | 'global';
  schedule: PruneSchedule;
  fineTuneEpochs: number;
  recoverEpochs: number;
  steps: number;
  floor?: number;
  lambda: number;
  calibrationSamples: number;
  batch: number;
  optimizer: string;
  lr: number;
  weightDecay?: number;
  lrSchedule: string;
  seed: number;
  threads: number;
  samples?: number;
  /** Own --data with training: the labelled samples the accuracy before and after is measured on. */
  testData?: string;
  evalLimit?: number;
  stepsPerRun: number;
  normalize?: string;
  out?: string;
  sparse?: boolean;
  flops?: number;
  valSplit?: number;
  splitSeed?: number;
  valData?: string;
  json?: boolean;
}

/** Parses 'fc1=0.92,fc2=0.91' into { fc1: 0.92, fc2: 0.91 }. */
export function parsePerLayer(spec: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const part of spec
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)) {
    const eq = part.lastIndexOf('=');
    const name = part.slice(0, eq).trim();
    const value = Number(part.slice(eq + 1));
    if (eq <= 0 || !Number.isFinite(value))
      throw new WhittleError('BAD_ARGUMENT', `--per-layer: write LAYER=SPARSITY pairs joined by commas, e.g. "fc1=0.92,fc2=0.91"; got "${part}"`);
    out[name] = checkSparsity(value, `--per-layer ${name}`);
  }
  return out;
}

function sparsityFlag(name: string) {
  return (v: string): number => checkSparsity(num(name)(v), name);
}

/** The trainer settings of every fine-tuning run: the training flags. */
function trainSettings(f: PruneFlags, normalization: Normalization): TrainSettings {
  return {
    batchSize: f.batch,
    lr: f.lr,
    optimizer: optimizerFromName(f.optimizer, f.weightDecay),
    schedule: (epochs) => ({ schedule: scheduleFromName(f.lrSchedule, epochs) }),
    normalization,
    seed: f.seed,
    threads: f.threads,
    stepsPerRun: f.stepsPerRun,
  };
}

async function runPrune(f: PruneFlags, log?: RunLog): Promise<Record<string, unknown>> {
  const t0 = performance.now();
  const perLayer = f.perLayer !== undefined ? parsePerLayer(f.perLayer) : undefined;
  const options = {
    method: f.method,
    granularity: f.granularity,
    sparsity: f.sparsity,
    perLayer,
    roundTo: f.roundTo,
    rounding: f.rounding,
    flops: f.flops,
    scope: f.scope,
    schedule: f.schedule,
    fineTuneEpochs: f.fineTuneEpochs,
    recoverEpochs: f.recoverEpochs,
    steps: f.steps,
    accuracyFloor: f.floor,
    lambda: f.lambda,
    calibrationSamples: f.calibrationSamples,
  };
  // Every combination is checked before the data is read or anything trains.
  checkPruneOptions(options);
  // A model file read to tell which kind of data it takes is not read again.
  let file: ReturnType<typeof loadModel> | undefined;
  if (!usesImageDataset(f, () => (file ??= loadModel(f.model)).model)) {
    const any = file ?? loadModel(f.model);
    return f.data !== undefined && trainingFlags(f).length > 0 ? pruneOwnData(f, any, options, log, t0) : pruneAnyModel(f, any, perLayer, t0);
  }
  const data = loadData(f.data);
  const { model, path } = file ?? loadModel(f.model, { seed: f.seed, ...zooShapeFor(data.train) });
  const normalization = resolveNormalization(f.normalize, model);
  // Fine-tuning and calibration on the training side; the iterative floor and schedules on the validation side.
  const held = holdOutValidation(f.samples !== undefined ? subset(data.train, 0, Math.min(f.samples, data.train.count)) : data.train, f, {
    model: path !== undefined ? model : undefined,
    label: 'prune',
  });
  const { train: trainSet, validation } = held;
  const test = f.evalLimit !== undefined ? subset(data.test, 0, Math.min(f.evalLimit, data.test.count)) : data.test;
  const r = await pruneOnData(f, model, { train: trainSet, validation, test }, options, normalization, log);
  const result: Model = withSplit({ ...r.model, metadata: { ...r.model.metadata, [NORMALIZE_KEY]: normalization } }, held.record);
  return prunedSummary(f, model, path, r, result, held.split, t0);
}

/** The flags that make prune train or probe on labelled samples, as the user wrote them. */
function trainingFlags(f: PruneFlags): string[] {
  return [
    f.method !== 'magnitude' && `--method ${f.method}`,
    f.schedule !== 'oneshot' && `--schedule ${f.schedule}`,
    f.fineTuneEpochs > 0 && `--fine-tune-epochs ${f.fineTuneEpochs}`,
    f.floor !== undefined && '--floor',
  ].filter((x): x is string => typeof x === 'string');
}

/** The options runPrune checked, as pruneModel takes them (without its train settings). */
type PruneRunOptions = Omit<Parameters<typeof pruneModel>[2], 'train' | 'onEvent'>;

/** pruneModel with the command's progress: the accuracy before, every stage's events. */
async function pruneOnData(
  f: PruneFlags,
  model: Model,
  data: Parameters<typeof pruneModel>[1],
  options: PruneRunOptions,
  normalization: Normalization,
  log: RunLog | undefined,
): Promise<Awaited<ReturnType<typeof pruneModel>>> {
  const events = pipelineReporter('prune', log);
  const r = await pruneModel(model, data, {
    ...options,
    train: trainSettings(f, normalization),
    onEvent: (e) => {
      if (e.type === 'stage' && e.stage === 'before') process.stderr.write(`prune ${f.model}: accuracy before ${(100 * e.accuracy).toFixed(2)}%\n`);
      events(e);
    },
  });
  events.stop();
  return r;
}

/**
 * `prune --model FILE --data OWN` with training (fine-tuning, a gradual schedule, an l1/group-lasso
 * penalty, a floor): the user's labelled samples (any form `eval --data` reads) fine-tune and are
 * where validation is held out; --test-data gives the accuracy before and after, read once each.
 */
async function pruneOwnData(
  f: PruneFlags,
  { model, path }: ReturnType<typeof loadModel>,
  options: PruneRunOptions,
  log: RunLog | undefined,
  t0: number,
): Promise<Record<string, unknown>> {
  const data = f.data as string;
  if (path === undefined)
    throw new WhittleError('BAD_ARGUMENT', `--data ${data} holds your own samples: prune a model file trained on them (--model model.onnx)`);
  if (f.testData === undefined)
    throw new WhittleError(
      'BAD_ARGUMENT',
      `pruning with training on ${data} reports the accuracy before and after on labelled test samples: pass --test-data (samples of the same kind, never trained or chosen on)`,
    );
  const { held, read } = holdOutOwnData(model, f, imageOptions(f), { label: 'prune', why: 'pruning with training' });
  const fullTest = read(f.testData);
  const test = f.evalLimit !== undefined ? firstSamples(fullTest, f.evalLimit) : fullTest;
  const r = await pruneOnData(f, model, { train: held.train, validation: held.validation, test }, options, 'none', log);
  const result: Model = withSplit(r.model, held.record);
  return prunedSummary(f, model, path, r, result, held.split, t0);
}

/** Writes the pruned model and returns the command's JSON (and prints its summary). */
function prunedSummary(
  f: PruneFlags,
  model: Model,
  path: string | undefined,
  r: Awaited<ReturnType<typeof pruneModel>>,
  result: Model,
  split: HeldOut<Dataset | TensorDataset>['split'],
  t0: number,
): Record<string, unknown> {
  for (const h of r.history ?? [])
    addSummary(
      `iterative: sparsity ${(100 * h.sparsity).toFixed(1)}% → validation accuracy ${(100 * h.accuracy).toFixed(2)}%${h.accepted ? '' : ' (below the floor; kept the previous model)'}\n`,
    );
  const bytes = writePruned(result, f, path);
  // Rounding is not the default (it removes fewer channels than asked, and only onnxruntime's x86
  // blocked convolutions gain from it), so say when a thinned convolution fell off that layout.
  const convs = new Set(model.graph.nodes.filter((n) => n.opType === 'Conv').map((n) => n.name));
  const odd =
    f.roundTo === undefined ? (r.groups ?? []).filter((g) => convs.has(g.name) && g.channelsAfter !== g.channelsBefore && g.channelsAfter % 8 !== 0) : [];
  if (odd[0] !== undefined)
    process.stderr.write(
      `prune: ${odd.length} thinned convolution group(s) keep a channel count that is not a multiple of 8 (e.g. "${odd[0].name}": ${odd[0].channelsAfter}); on x86, onnxruntime's fast blocked convolutions need multiples of 8 or 16: --round-to 8 keeps them there\n`,
    );
  const report = pruneReport(model, result, bytes);
  const { accuracy, accuracyBefore, accuracyPruned } = r;
  addSummary(
    `prune: accuracy ${(100 * accuracyBefore).toFixed(2)}% → ${accuracyPruned !== undefined && accuracyPruned !== accuracy ? `${(100 * accuracyPruned).toFixed(2)}% pruned → ` : ''}${(100 * accuracy).toFixed(2)}%, params ${report.paramsBefore.toLocaleString('en-US')} → ${report.params.toLocaleString('en-US')} (${report.nonzeroParams.toLocaleString('en-US')} nonzero, ${report.nonzeroRatio.toFixed(1)}× fewer), ` +
      `FLOPs ${(report.flopsBefore / 1e6).toFixed(2)}M → ${(report.flops / 1e6).toFixed(2)}M, .onnx ${report.bytes.toLocaleString('en-US')} bytes (${report.compressionRatio.toFixed(2)}×), sparse weights ${report.sparseBytes.toLocaleString('en-US')} bytes (${report.sparseCompressionRatio.toFixed(2)}×)\n`,
  );
  for (const l of report.layers)
    addSummary(`  ${l.name}: [${l.shapeBefore.join('×')}] → [${l.shapeAfter?.join('×') ?? '-'}], ${(100 * l.sparsity).toFixed(1)}% removed\n`);
  return {
    model: f.model,
    method: r.method,
    granularity: r.granularity,
    schedule: r.schedule,
    accuracy,
    accuracyBefore,
    // One-shot: accuracy right after pruning, before fine-tuning (null for gradual schedules).
    accuracyPruned: accuracyPruned ?? null,
    // With --flops: the budget and the sparsity the search chose.
    flopsBudget: f.flops ?? null,
    sparsity: r.sparsity ?? null,
    errorRate: 1 - accuracy,
    ...report,
    groups: r.groups ?? null,
    history: r.history ?? null,
    split,
    out: f.out ?? null,
    seconds: (performance.now() - t0) / 1000,
  };
}

interface SensitivityFlags extends ImageFlags {
  model: string;
  data?: string;
  sparsities: string;
  granularity: 'weight' | 'channel';
  roundTo?: number;
  rounding?: ChannelRounding;
  layers?: string;
  evalLimit: number;
  maxDrop: number;
  target?: number;
  threads: number;
  normalize?: string;
  seed: number;
  valSplit?: number;
  splitSeed?: number;
  valData?: string;
  json?: boolean;
}

/** Writes `--out` (sparse initializers with --sparse) and returns its bytes; with --sparse and no --out, the bytes it would have. */
function writePruned(result: Model, f: PruneFlags, inputPath: string | undefined): number | undefined {
  if (f.sparse) {
    const encoded = encodeSparseOnnx(result);
    if (f.out !== undefined) writeFileAtomic(f.out, [encoded]);
    return encoded.length;
  }
  return f.out !== undefined ? saveModel(result, f.out, inputPath) : undefined;
}

/**
 * Any model (not MNIST-shaped, or --data given as .npy/.npz/JSONL/images): one-shot magnitude
 * pruning reads no data, so it needs none; what it cost is the agreement with the input on
 * --data (accuracy too with labels) or on random inputs shaped like the model's.
 */
async function pruneAnyModel(
  f: PruneFlags,
  { model, path }: ReturnType<typeof loadModel>,
  perLayer: Record<string, number> | undefined,
  t0: number,
): Promise<Record<string, unknown>> {
  const trains = trainingFlags(f);
  if (trains.length > 0)
    throw new WhittleError(
      'BAD_ARGUMENT',
      `${trains.join(', ')} train${trains.length === 1 ? 's' : ''} or probe${trains.length === 1 ? 's' : ''} on labelled samples: pass --data (IDX/CIFAR, or your own labelled .npy, .npz, JSONL or image folder with --test-data); without data, prune without training: --method magnitude --schedule oneshot --fine-tune-epochs 0 (the defaults), measured on random inputs`,
    );
  let evaluation: TensorDataset =
    f.data !== undefined
      ? loadDataForModel(model, f.data, imageOptions(f))
      : await runnableRandomData(model, { count: f.evalLimit ?? 64, seed: f.seed, threads: f.threads });
  if (f.evalLimit !== undefined) evaluation = firstSamples(evaluation, f.evalLimit);
  const r = await pruneWithoutData(model, {
    granularity: f.granularity,
    sparsity: f.sparsity,
    perLayer,
    flops: f.flops,
    scope: f.scope,
    roundTo: f.roundTo,
    rounding: f.rounding,
  });
  const cmp = await compareModels(r.model, model, evaluation, { threads: f.threads });
  const report = pruneReport(model, r.model, writePruned(r.model, f, path));
  const from = f.data !== undefined ? 'data' : 'random';
  addSummary(
    `prune ${r.granularity} (magnitude, no training): params ${report.paramsBefore.toLocaleString('en-US')} → ${report.params.toLocaleString('en-US')} (${report.nonzeroParams.toLocaleString('en-US')} nonzero), ` +
      `FLOPs ${(report.flopsBefore / 1e6).toFixed(2)}M → ${(report.flops / 1e6).toFixed(2)}M, .onnx ${report.bytes.toLocaleString('en-US')} bytes (${report.compressionRatio.toFixed(2)}×)${f.out !== undefined ? ` → ${f.out}` : ''}\n` +
      `agreement with the input model on ${cmp.samples} ${from === 'data' ? `samples of ${f.data}` : 'random inputs (no --data)'}${cmp.accuracy !== undefined ? `; accuracy ${(100 * (cmp.referenceAccuracy ?? 0)).toFixed(2)}% → ${(100 * cmp.accuracy).toFixed(2)}%` : ''}:\n${describeAgreement(cmp)}`,
  );
  return {
    model: f.model,
    method: 'magnitude',
    granularity: r.granularity,
    schedule: 'oneshot',
    accuracy: cmp.accuracy ?? null,
    accuracyBefore: cmp.referenceAccuracy ?? null,
    agreement: { inputs: from, samples: cmp.samples, outputs: agreementJson(cmp.outputs) },
    flopsBudget: f.flops ?? null,
    sparsity: r.sparsity ?? null,
    ...report,
    groups: r.groups ?? null,
    out: f.out ?? null,
    seconds: (performance.now() - t0) / 1000,
  };
}

export function registerPruneCommands(program: Command): void {
  const pruneCmd = program
    .command('prune')
    .description('prune a model (unstructured weights or whole neurons/filters), fine-tune, and report size, FLOPs and accuracy')
    .requiredOption('--model <file.onnx>', 'model to prune (a trained .onnx, or a zoo name)')
    .option(
      '--data <path>',
      'MNIST-format IDX or CIFAR-10 binary directory (default: the bundled MNIST); for any other model, your own samples (.npy, .npz, a directory of .npy, JSONL or images; default: random inputs): without training flags they measure the agreement of a one-shot prune, with them (and labels) they fine-tune, validation held out of them',
    )
    .option('--test-data <path>', 'with your own labelled --data and training: samples of the same kind the accuracy before and after is measured on')
    .addOption(
      new Option('--method <m>', 'importance: magnitude | activation | apoz | l1 (λ·Σ|w| training) | group-lasso (λ·Σ‖w_g‖ training)')
        .choices([...PRUNE_METHODS])
        .default('magnitude'),
    )
    .addOption(
      new Option(
        '--granularity <g>',
        'weight (unstructured) | neuron | filter | head (attention heads) | channel (all of them); default: weight for magnitude/l1, channel otherwise',
      ).choices([...PRUNE_GRANULARITIES]),
    )
    .option('--sparsity <s>', "fraction removed, in [0, 1): of weights, or of each group's neurons/filters", sparsityFlag('--sparsity'))
    .option('--per-layer <list>', 'explicit sparsity per layer, e.g. fc1=0.92,fc2=0.91,fc3=0.74')
    .option('--flops <fraction>', 'neurons/filters: keep at most this fraction of the FLOPs per sample (e.g. 0.25); the sparsity is searched', num('--flops'))
    .option(
      '--round-to <n>',
      "neurons/filters: keep a multiple of n per layer, rounding up (see --rounding; 8 or 16 keeps x86 convolutions on onnxruntime's fast blocked layout)",
      int('--round-to', 1),
    )
    .addOption(new Option('--rounding <how>', '--round-to: up (never removes more than asked) | nearest multiple (at least n)').choices([...CHANNEL_ROUNDINGS]))
    .addOption(
      new Option(
        '--scope <s>',
        "one threshold per layer, or one ranking across all layers (weights; and neurons/filters, scored relative to their layer's mean)",
      )
        .choices(['layer', 'global'])
        .default('layer'),
    )
    .addOption(
      new Option('--schedule <s>', 'oneshot | iterative (prune, fine-tune, evaluate, repeat) | agp (gradual, during training)')
        .choices([...PRUNE_SCHEDULES])
        .default('oneshot'),
    )
    .option('--fine-tune-epochs <n>', 'fine-tuning epochs (iterative: per step; l1/group-lasso: regularized epochs)', int('--fine-tune-epochs', 0), 0)
    .option('--recover-epochs <n>', 'l1/group-lasso: fine-tuning epochs after thresholding', int('--recover-epochs', 0), 1)
    .option('--steps <n>', 'iterative: number of prune/fine-tune rounds', int('--steps', 1), 4)
    .option('--floor <acc>', 'iterative: stop when validation accuracy falls below this (0..1), keeping the previous model', num('--floor'))
    .option('--lambda <x>', 'l1/group-lasso regularization strength λ', num('--lambda'), 1e-4)
    .option('--calibration-samples <n>', 'activation/apoz: training samples to measure activations on', int('--calibration-samples', 1), 1024)
    .option('--batch <n>', 'mini-batch size', int('--batch', 1), 64)
    .addOption(new Option('--optimizer <name>', 'optimizer for fine-tuning').choices([...OPTIMIZER_NAMES]).default('momentum'))
    .option('--lr <x>', 'fine-tuning learning rate', num('--lr'), 0.01)
    .option('--weight-decay <x>', 'L2 weight decay (default 0; decoupled for adamw, whose default is 0.01)', num('--weight-decay'))
    .addOption(new Option('--lr-schedule <name>', 'learning-rate schedule of each fine-tuning run').choices([...SCHEDULE_NAMES]).default('cosine'))
    .option('--seed <n>', 'seed for shuffling', int('--seed', 0), 0)
    .option('--threads <n>', 'ONNX Runtime threads (default: all cores)', int('--threads', 1), availableParallelism())
    .option('--samples <n>', 'fine-tune on the first N training samples only', int('--samples', 1))
    .option('--eval-limit <n>', 'measure accuracy on the first N test samples only', int('--eval-limit', 1))
    .option('--steps-per-run <k>', 'training steps per onnxruntime call', int('--steps-per-run', 1), DEFAULT_STEPS_PER_RUN)
    .option('--normalize <how>', 'input normalization (default: what the model recorded, else x/255)')
    .option('--out <file.onnx>', 'where to write the pruned model')
    .option('--sparse', 'store sparse weights as ONNX sparse initializers (values + int32 positions; onnxruntime densifies them on load)')
    .option('--json', 'print one JSON object on stdout');
  addLogFlag(addValidationFlags(addImageFlags(pruneCmd))).action(async (f: PruneFlags & { log?: string }) => {
    const log = openCommandLog(resolveLogPath(f.log, f.out), 'prune', f.model);
    try {
      const r = await runPrune(f, log);
      log?.write({ type: 'result', result: r });
      emit(Boolean(f.json), r);
    } finally {
      log?.close();
    }
  });

  const sensitivityCmd = program
    .command('sensitivity')
    .description('prune each layer alone at several sparsities and report the accuracy curve per layer')
    .requiredOption('--model <file.onnx>', 'trained model')
    .option(
      '--data <path>',
      'MNIST-format IDX or CIFAR-10 binary directory (default: the bundled MNIST), or your own labelled samples (.npz, .npy + labels.npy, JSONL, image class folders) the validation split is held out of',
    )
    .option('--sparsities <list>', 'sparsities to try, comma-separated', '0.5,0.7,0.8,0.9,0.95')
    .addOption(new Option('--granularity <g>', 'weight (magnitude) or channel (L1 filters/neurons, thinned)').choices(['weight', 'channel']).default('weight'))
    .option(
      '--round-to <n>',
      'channel: keep a multiple of n channels per group, as prune --round-to n (so the curve measures what prune will apply)',
      int('--round-to', 1),
    )
    .addOption(new Option('--rounding <how>', '--round-to: up | nearest, as prune --rounding').choices([...CHANNEL_ROUNDINGS]))
    .option('--layers <list>', 'layers to analyse (default: all prunable)')
    .option('--eval-limit <n>', 'validation samples per evaluation', int('--eval-limit', 1), 2000)
    .option('--max-drop <x>', 'proposal: largest sparsity per layer losing at most this accuracy (0..1)', num('--max-drop'), 0.005)
    .option(
      '--target <s>',
      'proposal instead: per-layer sparsities reaching this overall weight sparsity at the least measured accuracy cost',
      sparsityFlag('--target'),
    )
    .option('--threads <n>', 'ONNX Runtime threads', int('--threads', 1), availableParallelism())
    .option('--normalize <how>', 'input normalization (default: what the model recorded, else x/255)')
    .option('--seed <n>', 'seed of the validation split', int('--seed', 0), 0)
    .option('--json', 'print one JSON object on stdout');
  // Proposals are choices: measured on samples held out of the training data, not on the test split.
  addLogFlag(addValidationFlags(addImageFlags(sensitivityCmd))).action(async (f: SensitivityFlags & { log?: string }) => {
    const sparsities = f.sparsities.split(',').map((s) => checkSparsity(num('--sparsities')(s.trim()), '--sparsities entry'));
    if ((f.roundTo !== undefined || f.rounding !== undefined) && f.granularity !== 'channel')
      throw new WhittleError('BAD_ARGUMENT', '--round-to and --rounding round the channels a group keeps: add --granularity channel');
    let held: Dataset | TensorDataset;
    let model: Model;
    let normalization: Normalization;
    let split: HeldOut<Dataset>['split'];
    if (isOwnData(f.data)) {
      // The user's own labelled samples, fed as read: the curves are measured on the split held out of them.
      const loaded = loadModel(f.model);
      checkOwnDataFlags(f, loaded.path);
      model = loaded.model;
      const own = holdOutOwnData(model, f, imageOptions(f), { label: 'sensitivity', why: 'a sensitivity curve' });
      held = firstSamples(own.held.validation, f.evalLimit);
      normalization = 'none';
      split = own.held.split;
    } else {
      const data = loadData(f.data);
      const loaded = loadModel(f.model, zooShapeFor(data.test));
      model = loaded.model;
      normalization = resolveNormalization(f.normalize, model);
      const h = holdOutValidation(data.train, f, { model: loaded.path !== undefined ? model : undefined, label: 'sensitivity' });
      held = subset(h.validation, 0, Math.min(f.evalLimit, h.validation.count));
      split = h.split;
    }
    const r = await sensitivity(model, {
      sparsities,
      granularity: f.granularity,
      roundTo: f.roundTo,
      rounding: f.rounding,
      layers: f.layers?.split(',').map((s) => s.trim()),
      evaluate: async (m) => (await evaluate(m, held, { normalization, threads: f.threads })).accuracy,
    });
    const proposed = f.target !== undefined ? proposeForTarget(r, f.target) : proposeSparsities(r, f.maxDrop);
    // With rounding, the channels each sparsity keeps: the curve's x axis as prune will apply it.
    const showKept = f.roundTo !== undefined && r.layers.some((l) => l.points.some((p) => p.channels !== undefined));
    const table = [['layer', ...sparsities.map((s) => `${(100 * s).toFixed(0)}%`), 'proposed', ...(showKept ? ['kept'] : [])]];
    for (const l of r.layers)
      table.push([
        l.name,
        ...l.points.map((p) => (100 * p.accuracy).toFixed(2)),
        `${(100 * (proposed[l.name] ?? 0)).toFixed(0)}%`,
        ...(showKept ? [l.points.map((p) => p.channels ?? '-').join('/')] : []),
      ]);
    addSummary(`sensitivity of ${f.model} (baseline ${(100 * r.baseline).toFixed(2)}% on ${held.count} validation samples)\n${formatTable(table)}\n`);
    if (f.target !== undefined)
      addSummary(
        `proposed for ${(100 * f.target).toFixed(1)}% overall: --per-layer ${Object.entries(proposed)
          .map(([k, v]) => `${k}=${v}`)
          .join(',')}\n`,
      );
    const result = {
      model: f.model,
      granularity: f.granularity,
      roundTo: f.roundTo ?? 1,
      rounding: f.rounding ?? 'up',
      baseline: r.baseline,
      samples: held.count,
      split,
      layers: r.layers,
      proposed,
    };
    // A log only with --log: sensitivity writes no model beside which to put one.
    const log = openCommandLog(f.log, 'sensitivity', f.model);
    log?.write({ type: 'result', result });
    log?.close();
    emit(Boolean(f.json), result);
  });
}
