// `whittle prune` and `whittle sensitivity`: parse flags, call src/compress/prune, report.
import { availableParallelism } from 'node:os';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { Option } from 'commander';
import { optimizerFromName, OPTIMIZER_NAMES } from '../autodiff/optimizer.js';
import type { Dataset, Normalization } from '../data/index.js';
import { subset } from '../data/index.js';
import { WhittleError } from '../ir/errors.js';
import { writeFileAtomic } from '../ir/io.js';
import { encodeSparseOnnx } from '../compress/prune/sparse-onnx.js';
import type { Model } from '../ir/graph.js';
import { dependencyGroups } from '../graph/dependency.js';
import type { PruneGroup } from '../graph/dependency.js';
import { checkSparsity, requirePrunableLayers } from '../compress/prune/layers.js';
import { magnitudePrune } from '../compress/prune/magnitude.js';
import { pruneReport } from '../compress/prune/report.js';
import { agpChannelPrune, agpPrune, fineTuneMasked, iterativePrune } from '../compress/prune/schedule.js';
import type { IterationRecord, PruneStep } from '../compress/prune/schedule.js';
import { proposeForTarget, proposeSparsities, sensitivity } from '../compress/prune/sensitivity.js';
import { pruneChannels } from '../compress/prune/structured.js';
import { sparsityForFlops } from '../compress/prune/budget.js';
import type { GroupResult } from '../compress/prune/structured.js';
import { groupLassoRegularizer, l1Regularizer } from '../compress/regularize/index.js';
import { evaluate } from '../train/evaluate.js';
import { scheduleFromName, SCHEDULE_NAMES } from '../train/schedule.js';
import type { TrainOptions } from '../train/trainer.js';
import { train } from '../train/trainer.js';
import { emit, int, num } from './flags.js';
import { createReporter } from './progress.js';
import { loadData, loadModel, NORMALIZE_KEY, resolveNormalization, saveModel, zooShapeFor } from './load.js';
import { logEpochs } from '../train/run-log.js';
import type { RunLog } from '../train/run-log.js';
import { addLogFlag, openCommandLog, resolveLogPath } from './run-log.js';
import { addValidationFlags, holdOutValidation } from './validation.js';

const METHODS = ['magnitude', 'activation', 'apoz', 'l1', 'group-lasso'] as const;
const GRANULARITIES = ['weight', 'neuron', 'filter', 'head', 'channel'] as const;
const SCHEDULES = ['oneshot', 'iterative', 'agp'] as const;

interface PruneFlags {
  model: string;
  data?: string;
  method: (typeof METHODS)[number];
  granularity?: (typeof GRANULARITIES)[number];
  sparsity?: number;
  perLayer?: string;
  scope: 'layer' | 'global';
  schedule: (typeof SCHEDULES)[number];
  finetuneEpochs: number;
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
  evalLimit?: number;
  stepsPerRun: number;
  normalize?: string;
  out?: string;
  sparse?: boolean;
  flops?: number;
  valSplit: number;
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

function trainOptions(f: PruneFlags, epochs: number, normalization: Normalization, validation: Dataset | undefined, label: string, log?: RunLog): TrainOptions {
  return {
    epochs,
    batchSize: f.batch,
    lr: f.lr,
    optimizer: optimizerFromName(f.optimizer, f.weightDecay),
    schedule: { schedule: scheduleFromName(f.lrSchedule, epochs) },
    normalization,
    seed: f.seed,
    threads: f.threads,
    stepsPerRun: f.stepsPerRun,
    validation,
    onProgress: logEpochs(log, label, createReporter({ label })),
  };
}

/** Sparsities of the iterative schedule: equal ratios of the remaining density. */
function iterativeTargets(final: number, steps: number): number[] {
  return Array.from({ length: steps }, (_, i) => 1 - (1 - final) ** ((i + 1) / steps));
}

/** Structured groups allowed by --granularity. */
function groupFilter(model: Model, granularity: string): string[] | undefined {
  if (granularity === 'channel') return undefined;
  const opOf = new Map(model.graph.nodes.map((n) => [n.name, n.opType]));
  const all = dependencyGroups(model.graph);
  const wanted = (g: PruneGroup): boolean => {
    if (granularity === 'head') return g.unit === 'head';
    if (g.unit === 'head') return false;
    // Recurrent hidden units are neurons too.
    return granularity === 'filter' ? opOf.get(g.name) === 'Conv' : g.unit === 'hidden' || ['Gemm', 'MatMul'].includes(opOf.get(g.name) ?? '');
  };
  const names = all.filter((g) => g.prunable && wanted(g)).map((g) => g.name);
  if (names.length === 0) {
    const what = { filter: 'convolution filters', head: 'attention heads', neuron: 'neurons' }[granularity] ?? granularity;
    const blocked = all.filter((g) => !g.prunable && wanted(g)).map((g) => `${g.name} (${g.reason ?? 'not prunable'})`);
    throw new WhittleError(
      'BAD_ARGUMENT',
      `--granularity ${granularity}: the model has no prunable ${what}${blocked.length > 0 ? `; blocked: ${blocked.slice(0, 3).join('; ')}` : ''}`,
    );
  }
  return names;
}

async function runPrune(f: PruneFlags, log?: RunLog): Promise<Record<string, unknown>> {
  const t0 = performance.now();
  const granularity = f.granularity ?? (f.method === 'magnitude' || f.method === 'l1' ? 'weight' : 'channel');
  const structured = granularity !== 'weight';
  if ((f.method === 'activation' || f.method === 'apoz' || f.method === 'group-lasso') && !structured) {
    throw new WhittleError('BAD_ARGUMENT', `--method ${f.method} removes whole neurons or filters; use --granularity neuron, filter or channel`);
  }
  if (f.method === 'l1' && structured)
    throw new WhittleError('BAD_ARGUMENT', '--method l1 sparsifies single weights; for whole neurons/filters use --method group-lasso');
  if (structured && f.schedule === 'agp' && (f.method !== 'magnitude' || f.scope === 'global'))
    throw new WhittleError(
      'BAD_ARGUMENT',
      '--schedule agp for neurons/filters ranks them by magnitude within each layer: use --method magnitude and --scope layer',
    );
  const perLayer = f.perLayer !== undefined ? parsePerLayer(f.perLayer) : undefined;
  if (f.flops !== undefined && !structured)
    throw new WhittleError('BAD_ARGUMENT', '--flops removes whole neurons or filters to meet the budget: add --granularity neuron, filter or channel');
  if (f.flops !== undefined && (f.sparsity !== undefined || perLayer !== undefined))
    throw new WhittleError('BAD_ARGUMENT', '--flops chooses the sparsity itself; drop --sparsity and --per-layer');
  if (f.sparsity === undefined && perLayer === undefined && f.flops === undefined)
    throw new WhittleError('BAD_ARGUMENT', 'give --sparsity S, --per-layer LAYER=S,... or (neurons/filters) --flops F');
  if (f.sparsity !== undefined && perLayer !== undefined && f.scope === 'global')
    throw new WhittleError('BAD_ARGUMENT', '--per-layer and --scope global exclude each other');
  if (f.schedule === 'iterative' && perLayer !== undefined)
    throw new WhittleError('BAD_ARGUMENT', '--schedule iterative ramps --sparsity; drop --per-layer or use oneshot/agp');
  if ((f.method === 'l1' || f.method === 'group-lasso') && f.finetuneEpochs < 1)
    throw new WhittleError('BAD_ARGUMENT', `--method ${f.method} trains with the regularizer first; give --finetune-epochs ≥ 1`);
  if (f.schedule === 'agp' && f.finetuneEpochs < 1) throw new WhittleError('BAD_ARGUMENT', '--schedule agp prunes during training; give --finetune-epochs ≥ 1');

  const data = loadData(f.data);
  const { model, path } = loadModel(f.model, { seed: f.seed, ...zooShapeFor(data.train) });
  if (f.out !== undefined && path !== undefined && resolve(f.out) === path)
    throw new WhittleError('BAD_ARGUMENT', `${f.out} is the input model; Whittle never overwrites its input, choose another output path`);
  const normalization = resolveNormalization(f.normalize, model);
  requirePrunableLayers(model.graph);
  const groupNames = structured ? groupFilter(model, granularity) : undefined;
  // Fine-tuning and calibration on the training side; the iterative floor and schedules on the validation side.
  const { train: trainSet, validation } = holdOutValidation(
    f.samples !== undefined ? subset(data.train, 0, Math.min(f.samples, data.train.count)) : data.train,
    f,
  );
  const testSet = f.evalLimit !== undefined ? subset(data.test, 0, Math.min(f.evalLimit, data.test.count)) : data.test;
  const structuredStep = async (m: Model, s: number): Promise<{ model: Model; groups: GroupResult[] }> => {
    const global = f.scope === 'global';
    const per = global ? undefined : (perLayer ?? (groupNames !== undefined ? Object.fromEntries(groupNames.map((n) => [n, s])) : undefined));
    const importance = f.method === 'activation' || f.method === 'apoz' ? f.method : f.method === 'group-lasso' ? 'l2' : 'l1';
    const r = await pruneChannels(m, {
      sparsity: per === undefined ? s : undefined,
      perLayer: per,
      scope: global ? 'global' : 'layer',
      layers: global ? groupNames : undefined,
      importance,
      calibration: { data: trainSet, normalization, samples: f.calibrationSamples, threads: f.threads },
    });
    return { model: r.model, groups: r.groups };
  };
  if (f.flops !== undefined) {
    const budget = await sparsityForFlops(model, f.flops, async (s) => (await structuredStep(model, s)).model);
    f.sparsity = budget.sparsity;
    process.stderr.write(
      `prune: ${(100 * budget.sparsity).toFixed(1)}% of the ${f.scope === 'global' ? 'channels (global ranking)' : 'channels of each group'} leaves ${((100 * budget.flops) / budget.flopsBefore).toFixed(1)}% of the FLOPs (budget ${(100 * f.flops).toFixed(1)}%)\n`,
    );
  }
  // Validate names and feasibility on the model before any training.
  if (structured && f.scope === 'global') await pruneChannels(model, { sparsity: f.sparsity, scope: 'global', layers: groupNames });
  else if (structured)
    await pruneChannels(model, {
      sparsity: f.sparsity,
      perLayer: perLayer ?? (groupNames && f.sparsity !== undefined ? Object.fromEntries(groupNames.map((n) => [n, f.sparsity as number])) : undefined),
    });
  else magnitudePrune(model, { sparsity: f.sparsity, perLayer, scope: f.scope });

  const accuracyOf = async (m: Model): Promise<number> => (await evaluate(m, testSet, { normalization, threads: f.threads })).accuracy;
  const accuracyBefore = await accuracyOf(model);
  const t1 = performance.now();
  const stage = (name: string, accuracy: number): void => log?.write({ type: 'stage', stage: name, accuracy, seconds: (performance.now() - t1) / 1000 });
  stage('before', accuracyBefore);
  process.stderr.write(`prune ${f.model}: accuracy before ${(100 * accuracyBefore).toFixed(2)}%\n`);

  let current = model;
  let history: IterationRecord[] | undefined;
  let groups: GroupResult[] | undefined;
  let accuracyPruned: number | undefined;
  // Sparsity-inducing training first: λR(W) in the objective, then threshold.
  if (f.method === 'l1' || f.method === 'group-lasso') {
    // Group lasso acts on the neurons/filters that can go: the producers of prunable groups.
    const producers = dependencyGroups(model.graph)
      .filter((g) => g.prunable && (groupNames === undefined || groupNames.includes(g.name)))
      .flatMap((g) => g.producers);
    const step = f.method === 'l1' ? l1Regularizer(model.graph, f.lambda) : groupLassoRegularizer(model.graph, f.lambda, producers);
    current = (await train(current, trainSet, { ...trainOptions(f, f.finetuneEpochs, normalization, validation, `${f.method} λ=${f.lambda}`, log), step }))
      .model;
  }
  const tuneEpochs = f.method === 'l1' || f.method === 'group-lasso' ? f.recoverEpochs : f.finetuneEpochs;

  if (f.schedule === 'agp' && structured) {
    const r = await agpChannelPrune(
      current,
      trainSet,
      { sparsity: perLayer === undefined ? f.sparsity : undefined, perLayer, layers: groupNames },
      trainOptions(f, tuneEpochs, normalization, validation, 'agp', log),
    );
    groups = r.groups;
    current = r.model;
  } else if (f.schedule === 'agp') {
    const r = await agpPrune(
      current,
      trainSet,
      { sparsity: f.sparsity, perLayer, scope: f.scope },
      trainOptions(f, tuneEpochs, normalization, validation, 'agp', log),
    );
    current = r.model;
  } else if (f.schedule === 'iterative') {
    const targets = iterativeTargets(f.sparsity as number, f.steps);
    let prev = 0;
    const step: PruneStep = structured
      ? async (m, s) => {
          const rel = 1 - (1 - s) / (1 - prev);
          prev = s;
          const r = await structuredStep(m, rel);
          groups =
            groups === undefined
              ? r.groups
              : groups.map((g) => ({ ...g, channelsAfter: r.groups.find((x) => x.name === g.name)?.channelsAfter ?? g.channelsAfter }));
          return { model: r.model };
        }
      : (m, s) => magnitudePrune(m, { sparsity: s, scope: f.scope });
    const r = await iterativePrune(current, trainSet, step, {
      sparsities: targets,
      train: trainOptions(f, Math.max(1, tuneEpochs), normalization, undefined, 'fine-tune', log),
      validation,
      accuracyFloor: f.floor,
    });
    history = r.history;
    current = r.model;
    for (const h of r.history) stage(`sparsity ${(100 * h.sparsity).toFixed(1)}%${h.accepted ? '' : ' (rejected)'}`, h.accuracy);
    for (const h of r.history)
      process.stderr.write(
        `iterative: sparsity ${(100 * h.sparsity).toFixed(1)}% → validation accuracy ${(100 * h.accuracy).toFixed(2)}%${h.accepted ? '' : ' (below the floor; kept the previous model)'}\n`,
      );
  } else if (structured) {
    const r = await structuredStep(current, f.sparsity ?? 0);
    groups = r.groups;
    current = r.model;
    if (tuneEpochs > 0) {
      accuracyPruned = await accuracyOf(current);
      current = (await train(current, trainSet, trainOptions(f, tuneEpochs, normalization, validation, 'fine-tune', log))).model;
    }
  } else {
    const r = magnitudePrune(current, { sparsity: f.sparsity, perLayer, scope: f.scope });
    current = r.model;
    if (tuneEpochs > 0) {
      accuracyPruned = await accuracyOf(current);
      current = (await fineTuneMasked(current, r.masks, trainSet, trainOptions(f, tuneEpochs, normalization, validation, 'fine-tune', log))).model;
    }
  }

  const accuracy = await accuracyOf(current);
  // One-shot without fine-tuning: the pruned accuracy is the final one.
  if (f.schedule === 'oneshot' && accuracyPruned === undefined) accuracyPruned = accuracy;
  if (accuracyPruned !== undefined && accuracyPruned !== accuracy) stage('pruned', accuracyPruned);
  stage('final', accuracy);
  const result: Model = { ...current, metadata: { ...current.metadata, [NORMALIZE_KEY]: normalization } };
  let bytes: number | undefined;
  if (f.sparse) {
    const encoded = encodeSparseOnnx(result);
    if (f.out !== undefined) writeFileAtomic(f.out, [encoded]);
    bytes = encoded.length;
  } else if (f.out !== undefined) bytes = saveModel(result, f.out, path);
  const report = pruneReport(model, result, bytes);
  process.stderr.write(
    `prune: accuracy ${(100 * accuracyBefore).toFixed(2)}% → ${accuracyPruned !== undefined && accuracyPruned !== accuracy ? `${(100 * accuracyPruned).toFixed(2)}% pruned → ` : ''}${(100 * accuracy).toFixed(2)}%, params ${report.paramsBefore.toLocaleString('en-US')} → ${report.params.toLocaleString('en-US')} (${report.nonzeroParams.toLocaleString('en-US')} nonzero, ${report.nonzeroRatio.toFixed(1)}× fewer), ` +
      `FLOPs ${(report.flopsBefore / 1e6).toFixed(2)}M → ${(report.flops / 1e6).toFixed(2)}M, .onnx ${report.bytes.toLocaleString('en-US')} bytes (${report.compressionRatio.toFixed(2)}×), sparse weights ${report.sparseBytes.toLocaleString('en-US')} bytes (${report.sparseCompressionRatio.toFixed(2)}×)\n`,
  );
  for (const l of report.layers)
    process.stderr.write(`  ${l.name}: [${l.shapeBefore.join('×')}] → [${l.shapeAfter?.join('×') ?? '-'}], ${(100 * l.sparsity).toFixed(1)}% removed\n`);
  return {
    model: f.model,
    method: f.method,
    granularity,
    schedule: f.schedule,
    accuracy,
    accuracyBefore,
    // One-shot: accuracy right after pruning, before fine-tuning (null for gradual schedules).
    accuracyPruned: accuracyPruned ?? null,
    // With --flops: the budget and the sparsity the search chose.
    flopsBudget: f.flops ?? null,
    sparsity: f.sparsity ?? null,
    errorRate: 1 - accuracy,
    ...report,
    groups: groups ?? null,
    history: history ?? null,
    out: f.out ?? null,
    seconds: (performance.now() - t0) / 1000,
  };
}

interface SensitivityFlags {
  model: string;
  data?: string;
  sparsities: string;
  granularity: 'weight' | 'channel';
  layers?: string;
  evalLimit: number;
  maxDrop: number;
  target?: number;
  threads: number;
  normalize?: string;
  seed: number;
  valSplit: number;
  valData?: string;
  json?: boolean;
}

export function registerPruneCommands(program: Command): void {
  const pruneCmd = program
    .command('prune')
    .description('prune a model (unstructured weights or whole neurons/filters), fine-tune, and report size, FLOPs and accuracy')
    .requiredOption('--model <file.onnx>', 'model to prune (a trained .onnx, or a zoo name)')
    .option('--data <dir>', 'MNIST-format IDX or CIFAR-10 binary directory (default: the bundled MNIST)')
    .addOption(
      new Option('--method <m>', 'importance: magnitude | activation | apoz | l1 (λ·Σ|w| training) | group-lasso (λ·Σ‖w_g‖ training)')
        .choices([...METHODS])
        .default('magnitude'),
    )
    .addOption(
      new Option(
        '--granularity <g>',
        'weight (unstructured) | neuron | filter | head (attention heads) | channel (all of them); default: weight for magnitude/l1, channel otherwise',
      ).choices([...GRANULARITIES]),
    )
    .option('--sparsity <s>', "fraction removed, in [0, 1): of weights, or of each group's neurons/filters", sparsityFlag('--sparsity'))
    .option('--per-layer <list>', 'explicit sparsity per layer, e.g. fc1=0.92,fc2=0.91,fc3=0.74')
    .option('--flops <fraction>', 'neurons/filters: keep at most this fraction of the FLOPs per sample (e.g. 0.25); the sparsity is searched', num('--flops'))
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
        .choices([...SCHEDULES])
        .default('oneshot'),
    )
    .option('--finetune-epochs <n>', 'fine-tuning epochs (iterative: per step; l1/group-lasso: regularized epochs)', int('--finetune-epochs', 0), 0)
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
    .option('--steps-per-run <k>', 'training steps per onnxruntime call', int('--steps-per-run', 1), 16)
    .option('--normalize <how>', 'input normalization (default: what the model recorded, else x/255)')
    .option('--out <file.onnx>', 'where to write the pruned model')
    .option('--sparse', 'store sparse weights as ONNX sparse initializers (values + int32 positions; onnxruntime densifies them on load)')
    .option('--json', 'print one JSON object on stdout');
  addLogFlag(addValidationFlags(pruneCmd)).action(async (f: PruneFlags & { log?: string }) => {
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
    .option('--data <dir>', 'MNIST-format IDX or CIFAR-10 binary directory (default: the bundled MNIST)')
    .option('--sparsities <list>', 'sparsities to try, comma-separated', '0.5,0.7,0.8,0.9,0.95')
    .addOption(new Option('--granularity <g>', 'weight (magnitude) or channel (L1 filters/neurons, thinned)').choices(['weight', 'channel']).default('weight'))
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
  addLogFlag(addValidationFlags(sensitivityCmd)).action(async (f: SensitivityFlags & { log?: string }) => {
    const sparsities = f.sparsities.split(',').map((s) => checkSparsity(num('--sparsities')(s.trim()), '--sparsities entry'));
    const data = loadData(f.data);
    const { model } = loadModel(f.model, zooShapeFor(data.test));
    const normalization = resolveNormalization(f.normalize, model);
    const { validation } = holdOutValidation(data.train, f);
    const held = subset(validation, 0, Math.min(f.evalLimit, validation.count));
    const r = await sensitivity(model, {
      sparsities,
      granularity: f.granularity,
      layers: f.layers?.split(',').map((s) => s.trim()),
      evaluate: async (m) => (await evaluate(m, held, { normalization, threads: f.threads })).accuracy,
    });
    const proposed = f.target !== undefined ? proposeForTarget(r, f.target) : proposeSparsities(r, f.maxDrop);
    const head = `layer${' '.repeat(14)}${sparsities.map((s) => `${(100 * s).toFixed(0)}%`.padStart(8)).join('')}   proposed`;
    process.stderr.write(`sensitivity of ${f.model} (baseline ${(100 * r.baseline).toFixed(2)}% on ${held.count} validation samples)\n${head}\n`);
    for (const l of r.layers) {
      process.stderr.write(
        `${l.name.padEnd(19)}${l.points.map((p) => `${(100 * p.accuracy).toFixed(2)}`.padStart(8)).join('')}   ${(100 * (proposed[l.name] ?? 0)).toFixed(0)}%\n`,
      );
    }
    if (f.target !== undefined)
      process.stderr.write(
        `proposed for ${(100 * f.target).toFixed(1)}% overall: --per-layer ${Object.entries(proposed)
          .map(([k, v]) => `${k}=${v}`)
          .join(',')}\n`,
      );
    const result = { model: f.model, granularity: f.granularity, baseline: r.baseline, samples: held.count, layers: r.layers, proposed };
    // A log only with --log: sensitivity writes no model beside which to put one.
    const log = openCommandLog(f.log, 'sensitivity', f.model);
    log?.write({ type: 'result', result });
    log?.close();
    emit(Boolean(f.json), result);
  });
}
