// `whittle optimize` (the search over per-layer structure, sparsity and bits against a budget,
// trials on a local pool or a BullMQ queue) and `whittle worker` (runs queued trials).
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { Option } from 'commander';
import { WhittleError } from '../ir/errors.js';
import type { Dataset, TensorDataset } from '../data/index.js';
import { DEFAULT_VALIDATION_FRACTION, datasetFingerprint, loadDataForModel } from '../data/index.js';
import type { Model } from '../ir/graph.js';
import { recordedSplit } from '../pipeline/index.js';
import { defaultLatencyTablePath } from '../search/latency.js';
import { DEFAULT_LR_PROBE, optimize } from '../search/optimize.js';
import type { TrialRunner } from '../search/pool.js';
import { LocalPool } from '../search/pool.js';
import type { OwnDataRef, RuntimeName, SparsityMode, Target } from '../search/types.js';
import type { RunLog } from '../train/run-log.js';
import type { ImageFlags } from './flags.js';
import { addImageFlags, emit, addSummary, imageOptions, int, num } from './flags.js';
import { checkOwnDataFlags, loadData, loadModel, resolveNormalization } from './load.js';
import { addLogFlag, openCommandLog, resolveLogPath } from './run-log.js';
import type { ChannelRoundTo } from '../compress/prune/index.js';

/**
 * The split the search holds out: the one the model recorded when no split flag is given and the
 * record is of all of this training data; else --val-split / --split-seed (default --seed).
 */
function searchSplit(
  f: { valSplit?: number; splitSeed?: number; seed: number },
  model: Model,
  trainingData: () => Dataset | TensorDataset,
): { source: 'recorded' | 'flags' | 'unrecorded' | 'mismatch'; seed: number; fraction: number; note: string | null } {
  const seed = f.splitSeed ?? f.seed;
  const fraction = f.valSplit ?? DEFAULT_VALIDATION_FRACTION;
  if (f.valSplit !== undefined || f.splitSeed !== undefined) return { source: 'flags', seed, fraction, note: null };
  const r = recordedSplit(model);
  const say = (source: 'unrecorded' | 'mismatch', note: string) => {
    process.stderr.write(`optimize: ${note}\n`);
    return { source, seed, fraction, note };
  };
  if (r === undefined)
    return say(
      'unrecorded',
      `the model records no training split; holding out --val-split ${fraction} --split-seed ${seed}, which may include samples it was trained on`,
    );
  const train = trainingData();
  if ('valData' in r || r.samples !== train.count || datasetFingerprint(train) !== r.fingerprint)
    return say(
      'mismatch',
      `the model's recorded split is not a seeded split of all of this training data; holding out --val-split ${fraction} --split-seed ${seed}`,
    );
  return { source: 'recorded', seed: r.seed, fraction: r.fraction, note: null };
}

interface OptimizeFlags extends ImageFlags {
  model: string;
  data?: string;
  testData?: string;
  target: Target;
  budget?: number;
  maxDrop: number;
  runtime: RuntimeName;
  threads: number;
  out: string;
  trials: number;
  time?: number;
  seed: number;
  splitSeed?: number;
  workers: number;
  queue?: string;
  resume?: boolean;
  epochs?: number;
  finalEpochs: number;
  trainSamples: number;
  valSamples: number;
  finalSamples?: number;
  population: number;
  valSplit?: number;
  lr?: string;
  roundTo?: ChannelRoundTo;
  modes: string;
  batch: number;
  latencyTable?: string;
  normalize?: string;
  uniform?: boolean;
  rerank: number;
  fill: boolean;
  finalFill: boolean;
  distill: boolean;
  teacher?: string;
  shifts: number;
  json?: boolean;
  log?: string;
}

/**
 * The user's own samples when --data names them: --test-data required (the test figure comes from
 * it, once), fed as read (--normalize and --shifts refused); without labels in --data, the input
 * model's predictions label both (`labels: 'model'`). Undefined for an MNIST/CIFAR directory, which
 * takes neither --test-data nor the image flags.
 */
function ownSearchData(f: OptimizeFlags, model: Model, path: string | undefined): OwnDataRef | undefined {
  if (!checkOwnDataFlags(f, path, { test: 'your test samples (the chosen model is scored on them once)' })) return undefined;
  const data = f.data as string;
  const testData = f.testData as string;
  if (f.shifts > 0) throw new WhittleError('BAD_ARGUMENT', `--shifts moves MNIST/CIFAR pixels; ${data} is fed as read — drop --shifts`);
  const options = imageOptions(f);
  if (loadDataForModel(model, data, options).labels !== undefined) return { train: resolve(data), test: resolve(testData), options };
  process.stderr.write(
    `optimize: ${data} has no labels: the input model's top-1 predictions label it and --test-data, so every accuracy below is agreement with the input model\n`,
  );
  return { train: resolve(data), test: resolve(testData), options, labels: 'model' };
}

export function registerOptimizeCommands(program: Command): void {
  const command = addLogFlag(program.command('optimize'))
    .description(
      'search per-layer width, sparsity and bits (float, fp16, int8, int4, ternary, k-means 2–8) against a size, latency or FLOPs budget; trials measured on a validation split',
    )
    .requiredOption('--model <file.onnx>', 'the trained model to optimize')
    .requiredOption('--out <dir>', 'output directory: the chosen model, front.json, result.json, journal.jsonl')
    .option(
      '--data <path>',
      "MNIST-format IDX or CIFAR-10 directory (default: the bundled MNIST), or your own samples (.npz, .npy + labels.npy, JSONL, an image folder with class sub-folders; with --test-data; without labels, the input model's top-1 predictions are the labels and every accuracy is agreement with it)",
    )
    .option('--test-data <path>', 'with your own --data: the test samples the chosen model and the input are scored on, once')
    .addOption(new Option('--target <what>', 'what to lower').choices(['size', 'latency', 'flops']).default('size'))
    .option('--budget <x>', 'the most accurate model within this: bytes (size), ms per batch (latency) or a FLOPs fraction (flops)', num('--budget'))
    .option(
      '--max-drop <points>',
      'without --budget: the smallest/fastest model within this many validation-accuracy points of the input',
      num('--max-drop'),
      0.3,
    )
    .addOption(new Option('--runtime <rt>', 'runtime whose latency is measured').choices(['node', 'web']).default('node'))
    .option('--threads <n>', 'ONNX Runtime threads for latency and the final fine-tune', int('--threads', 1), 1)
    .option(
      '--trials <n>',
      'search trials to spend; with --target size and --budget, up to 3 fill trials follow them (not counted here; --no-fill skips them)',
      int('--trials', 1),
      32,
    )
    .option('--time <seconds>', 'stop proposing trials after this long (the front then depends on the machine)', num('--time'))
    .option('--seed <n>', 'seed of the fine-tunes and the search', int('--seed', 0), 0)
    .option(
      '--split-seed <n>',
      'seed of the validation split (default: the split the model recorded, so its validation samples were held out of its training; else --seed)',
      int('--split-seed', 0),
    )
    .option('--workers <n>', 'local worker processes', int('--workers', 1), Math.min(2, availableParallelism()))
    .option('--queue <redis://host:port>', 'put trials on a BullMQ queue on Redis; run `whittle worker --queue URL` processes to run them')
    .option('--resume', 'continue the search in --out from its journal')
    .option('--epochs <n>', 'fine-tune epochs of each trial (default: 1, or as many as 100 SGD steps need on fewer training samples)', int('--epochs', 0))
    .option(
      '--final-epochs <n>',
      'fine-tune epochs of the chosen candidate (distilled from the input; see recipes/optimize-lenet.md for 4 vs 20 vs 40)',
      int('--final-epochs', 0),
      20,
    )
    .option('--train-samples <n>', 'training samples of each trial', int('--train-samples', 1), 10000)
    .option('--val-samples <n>', 'validation samples each trial is measured on', int('--val-samples', 1), 5000)
    .option('--final-samples <n>', 'training samples of the final fine-tune (default: all)', int('--final-samples', 1))
    .option('--population <n>', 'trials proposed at once (fixed, so the front does not depend on the workers)', int('--population', 1), 4)
    .option(
      '--val-split <fraction>',
      `fraction of the training data held out for every choice (default: the split the model recorded, else ${DEFAULT_VALIDATION_FRACTION})`,
      num('--val-split'),
    )
    .option(
      '--lr <list>',
      `fine-tune learning rates the search may choose, comma-separated (default: the one of ${DEFAULT_LR_PROBE.join(', ')} the greedy path's middle candidate scores highest with on validation; key \`lrProbe\`)`,
    )
    .option(
      '--modes <list>',
      "how trials may sparsify (size target), comma-separated: magnitude (gradual pruning), variational (sparse variational dropout learns it); the first is the greedy path's",
      'magnitude',
    )
    .option(
      '--round-to <n|auto>',
      "thinned layers keep a multiple of n channels, rounding up; auto (default): a convolution's channels multiples of 8, which keeps x86 convolutions on onnxruntime's fast blocked kernels (odd counts can run slower than the unpruned model), fully connected layers unrounded; 1: no rounding",
      (v: string): ChannelRoundTo => {
        if (v === 'auto') return 'auto';
        const n = Number(v);
        if (!Number.isInteger(n) || n < 1)
          throw new WhittleError('BAD_ARGUMENT', `--round-to must be auto or a whole number of channels ≥ 1 (e.g. 8), got "${v}"`);
        return n;
      },
    )
    .option('--batch <n>', 'mini-batch size', int('--batch', 1), 64)
    .option('--latency-table <file>', 'per-machine latency table (default ~/.cache/whittle/latency-HOST.json)')
    .option('--normalize <how>', 'input normalization (default: what the model recorded, else x/255)')
    .option(
      '--rerank <n>',
      'latency target without --budget: re-time the n fastest feasible structures side by side and take the fastest (key `reranked`; 1: the table alone)',
      int('--rerank', 1),
      3,
    )
    .option('--uniform', "also fine-tune one setting for every layer at the chosen model's cost, and report both (key `uniform`)")
    .option('--no-fill', 'size target with --budget: skip the fill trials that spend the bytes the winner leaves unspent (more weights, more bits)')
    .option(
      '--no-final-fill',
      "size target with --budget: fine-tune the chosen candidate as it is (default: every layer keeps more weights, as many as the budget's bytes allow; key `finalCandidate`)",
    )
    .option(
      '--no-distill',
      "fine-tune the chosen model on the labels alone (default: on the input model's soft targets too, temperature and weight chosen on validation)",
    )
    .option(
      '--teacher <files>',
      'the final distils from these .onnx models (comma-separated; their soft targets averaged) instead of the input, each fed the training images in the normalization it recorded (key `teachers`)',
    )
    .option(
      '--shifts <px>',
      'the final trains on images shifted by up to this many pixels when a trial-sized probe with the shifts scores higher on validation than without (key `shiftProbe`; 0: off)',
      int('--shifts', 0),
      0,
    )
    .option('--json', 'print one JSON object on stdout');
  addImageFlags(command).action(async (f: OptimizeFlags) => {
    if (!f.model.endsWith('.onnx')) throw new WhittleError('BAD_ARGUMENT', `--model ${f.model}: optimize needs a trained .onnx file`);
    const { model, path } = loadModel(f.model);
    const own = ownSearchData(f, model, path);
    const normalization = resolveNormalization(f.normalize, model);
    if (!(f.maxDrop >= 0 && f.maxDrop < 100)) throw new WhittleError('BAD_ARGUMENT', `--max-drop must be in [0, 100) points, got ${f.maxDrop}`);
    if (f.budget !== undefined && !(f.budget > 0)) throw new WhittleError('BAD_ARGUMENT', `--budget must be > 0, got ${f.budget}`);
    const lrs = f.lr === undefined ? [...DEFAULT_LR_PROBE] : f.lr.split(',').map((s) => Number(s));
    if (lrs.some((x) => !(x > 0))) throw new WhittleError('BAD_ARGUMENT', `--lr must list learning rates > 0, got "${f.lr}"`);
    const modes = f.modes.split(',').map((m) => m.trim());
    const badMode = modes.find((m) => m !== 'magnitude' && m !== 'variational');
    if (badMode !== undefined || modes.length === 0) throw new WhittleError('BAD_ARGUMENT', `--modes must list magnitude and/or variational, got "${f.modes}"`);
    const teacherPaths = f.teacher === undefined ? undefined : f.teacher.split(',').map((p) => resolve(p.trim()));
    for (const p of teacherPaths ?? []) {
      if (!p.endsWith('.onnx')) throw new WhittleError('BAD_ARGUMENT', `--teacher ${p}: a teacher must be a trained .onnx file`);
      if (!existsSync(p)) throw new WhittleError('IO', `--teacher ${p} does not exist; pass the path of a trained .onnx model`);
    }
    if (teacherPaths !== undefined && !f.distill) throw new WhittleError('BAD_ARGUMENT', '--teacher needs distillation; drop --no-distill');
    const split = searchSplit(f, model, () => (own === undefined ? loadData(f.data).train : loadDataForModel(model, own.train, own.options)));
    const dataRef = {
      ...(own !== undefined ? { own } : { dir: f.data === undefined ? undefined : resolve(f.data) }),
      valSplit: split.fraction,
      splitSeed: split.seed,
      trainSamples: f.trainSamples,
      valSamples: f.valSamples,
    };
    let runner: TrialRunner;
    let modelRef: { path: string } | { blob: string } = { path: path as string };
    if (f.queue !== undefined) {
      // Loaded only here: BullMQ and ioredis cost every other command ~0.3 s of CPU at startup.
      const { QueueRunner } = await import('../search/queue.js');
      const q = await QueueRunner.connect(f.queue, { parallel: f.workers });
      modelRef = await q.storeModel(path as string);
      runner = q;
    } else runner = new LocalPool(f.workers);
    // Opened at the first trial, once the search has accepted --out (an existing search's log is
    // never truncated by a refused run); a resumed search replays its journal, so the log starts afresh.
    let log: RunLog | undefined;
    const runLog = (): RunLog | undefined => {
      log ??= openCommandLog(resolveLogPath(f.log, f.out, true), 'optimize', f.model);
      return log;
    };
    try {
      const r = await optimize({
        modelPath: path as string,
        modelRef,
        data: dataRef,
        target: f.target,
        budget: f.budget,
        maxDrop: f.maxDrop / 100,
        latency: { runtime: f.runtime, threads: f.threads, batch: 64 },
        latencyTablePath: f.latencyTable ?? defaultLatencyTablePath(),
        trials: f.trials,
        timeSeconds: f.time,
        seed: f.seed,
        epochs: f.epochs,
        finalEpochs: f.finalEpochs,
        finalTrainSamples: f.finalSamples,
        population: f.population,
        batchSize: f.batch,
        lrs,
        ...(f.lr === undefined ? { lrProbe: DEFAULT_LR_PROBE } : {}),
        ...(f.roundTo !== undefined ? { roundTo: f.roundTo } : {}),
        modes: modes as SparsityMode[],
        normalization,
        threads: f.threads,
        out: f.out,
        resume: Boolean(f.resume),
        runner,
        compareUniform: Boolean(f.uniform),
        rerank: f.rerank,
        fillBudget: f.fill,
        finalFill: f.finalFill,
        distill: f.distill,
        ...(teacherPaths !== undefined ? { teacherPaths } : {}),
        shifts: f.shifts,
        log: (line) => process.stderr.write(`${line}\n`),
        onTrial: (t) => runLog()?.write({ type: 'trial', ...t }),
      });
      runLog()?.write({ type: 'result', result: { ...r } });
      const pct = (x: number): string => `${(100 * x).toFixed(2)}%`;
      addSummary(
        `optimize: chosen trial ${r.chosen.trial + 1}: ${
          own?.labels === 'model'
            ? `top-1 agreement with the input ${pct(r.final.testAccuracy)} on the test samples`
            : `test error ${pct(1 - r.final.testAccuracy)} (input ${pct(1 - r.baseline.testAccuracy)})`
        }, ` +
          `${r.final.bytes} bytes (${r.ratio.bytes.toFixed(1)}× smaller than dense float32), ${(r.latencyCheck?.chosenMs ?? r.final.latencyMs).toFixed(3)} ms/batch (${(r.latencyCheck?.speedup ?? r.ratio.latency).toFixed(2)}× the input's speed${r.latencyCheck !== undefined ? ', timed side by side' : ''}) → ${r.final.file}\n`,
      );
      process.stderr.write(
        `optimize: ${r.trials} trials: ${r.lrProbe !== undefined ? `${r.lrProbe.rates.length} of the rate probe + ` : ''}${r.trials - r.fillTrials - (r.lrProbe?.rates.length ?? 0)} of the search (--trials ${f.trials})${r.fillTrials > 0 ? ` + ${r.fillTrials} budget fill(s)` : ''}\n`,
      );
      if (r.latencyCheck !== undefined)
        process.stderr.write(
          `optimize: re-timed side by side: input ${r.latencyCheck.inputMs.toFixed(3)} ms/batch, chosen ${r.latencyCheck.chosenMs.toFixed(3)} ms/batch = ${r.latencyCheck.speedup.toFixed(2)}× faster (the table said ${r.ratio.latency.toFixed(2)}×)\n`,
        );
      if (r.uniform !== undefined)
        process.stderr.write(
          `optimize: uniform (every layer ${JSON.stringify(Object.values(r.uniform.layers)[0])}${r.uniform.mode !== undefined ? `, ${r.uniform.mode}` : ''}): test error ${pct(1 - r.uniform.testAccuracy)} ` +
            `(searched: ${pct(1 - r.final.testAccuracy)}), validation ${pct(r.uniform.valAccuracy)} (searched: ${pct(r.final.valAccuracy)}), ${r.uniform.bytes} bytes (searched: ${r.final.bytes}), ${r.uniform.latencyMs.toFixed(3)} ms/batch\n`,
        );
      emit(Boolean(f.json), { ...r, split, ...(own !== undefined ? { data: own.train, testData: own.test, labels: own.labels ?? 'data' } : {}) });
    } finally {
      log?.close();
      await runner.close();
    }
  });

  program
    .command('worker')
    .description('run trials from a `whittle optimize --queue` search (same Whittle version as the search)')
    .requiredOption('--queue <redis://host:port>', 'the Redis the search puts its trials on')
    .option('--concurrency <n>', 'trials at once in this process', int('--concurrency', 1), 1)
    .action(async (f: { queue: string; concurrency: number }) => {
      const { runQueueWorker } = await import('../search/queue.js');
      await runQueueWorker(f.queue, { concurrency: f.concurrency, log: (line) => process.stderr.write(`${line}\n`) });
    });
}
