// whittle bench: inference latency of models side by side, on onnxruntime-node and -web, so a
// user sees which form is fastest where the model will run: a compressed form's gain depends on
// the runtime and the thread count (LeNet-5 int8 QDQ: 1.8× at 1 thread, 1.2× at 2, 1.3× in
// WebAssembly).
import { availableParallelism } from 'node:os';
import { readFileSync, statSync } from 'node:fs';
import cliProgress from 'cli-progress';
import type { Command } from 'commander';
import { WhittleError } from '../ir/errors.js';
import { encodeModel } from '../ir/onnx.js';
import type { LatencyCase, LatencySetting } from '../runtime/latency.js';
import { compareLatency } from '../runtime/latency.js';
import type { Backend } from '../runtime/session.js';
import { BACKENDS } from '../runtime/session.js';
import { inputBatch } from '../train/evaluate.js';
import type { ImageFlags } from './flags.js';
import { addImageFlags, addSummary, emit, imageOptions, int } from './flags.js';
import { loadData, loadModel, resolveNormalization, usesImageDataset, zooShapeFor } from './load.js';
import type { DataForModelOptions, TensorDataset } from '../data/index.js';
import { detectDataSource, feedInputs, fixedBatchSize, loadDataForModel, tensorBatch } from '../data/index.js';
import type { Model } from '../ir/graph.js';
import type { Tensor } from '../ir/tensor.js';
import { runnableRandomData } from '../train/random-inputs.js';
import { formatTable } from './table.js';

interface BenchFlags extends ImageFlags {
  model: string[];
  data?: string;
  runtime: string;
  threads?: string;
  batch: number;
  rounds: number;
  warmup: number;
  runs: number;
  json?: boolean;
}

function parseList<T>(flag: string, value: string, parse: (s: string) => T): T[] {
  const items = value
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  if (items.length === 0) throw new WhittleError('BAD_ARGUMENT', `${flag} needs at least one value, got "${value}"`);
  return [...new Set(items)].map(parse);
}

function settingsFor(f: BenchFlags): LatencySetting[] {
  const backends = parseList('--runtime', f.runtime, (s) => {
    if (!(BACKENDS as readonly string[]).includes(s))
      throw new WhittleError('BAD_ARGUMENT', `--runtime takes ${BACKENDS.join(', ')} (comma-separated), got "${s}"`);
    return s as Backend;
  });
  const threads = f.threads === undefined ? [...new Set([1, availableParallelism()])] : parseList('--threads', f.threads, int('--threads', 1));
  // onnxruntime-web runs one WebAssembly thread here, as in a page without cross-origin isolation.
  return backends.flatMap((backend): LatencySetting[] => (backend === 'web' ? [{ backend, threads: 1 }] : threads.map((t) => ({ backend, threads: t }))));
}

/**
 * One batch of inputs for `spec`: MNIST/CIFAR images (IDX/CIFAR --data, or the bundled MNIST for a
 * zoo model or a 784-input model), else the model's samples of --data (.npy, .npz, JSONL, images),
 * else seeded random inputs shaped like the model's own that it runs on.
 */
async function feedsFor(
  spec: string,
  f: BenchFlags,
  options: DataForModelOptions,
): Promise<{ loaded: { model: Model; path: string | undefined }; feeds: Record<string, Tensor> }> {
  const images = f.data === undefined || ['idx', 'cifar'].includes(detectDataSource(f.data)) ? loadData(f.data) : undefined;
  const loaded = loadModel(spec, { ...(images !== undefined ? zooShapeFor(images.test) : {}), asShipped: true });
  const { model } = loaded;
  const fixed = fixedBatchSize(model);
  if (fixed !== undefined && fixed !== f.batch)
    throw new WhittleError('BAD_ARGUMENT', `${spec}: the model's inputs have a fixed batch of ${fixed}; pass --batch ${fixed}`);
  if (images !== undefined && usesImageDataset({ model: spec, ...(f.data !== undefined ? { data: f.data } : {}) }, () => model)) {
    const input = feedInputs(model)[0];
    if (input === undefined || input.dtype !== 'float32')
      throw new WhittleError('BAD_ARGUMENT', `${spec}: MNIST/CIFAR images feed one float32 input; the model's input is ${input?.dtype ?? 'missing'}`);
    return { loaded, feeds: { [input.name]: inputBatch(model, images.test, f.batch, resolveNormalization(undefined, model)) } };
  }
  const ds: TensorDataset =
    f.data !== undefined && images === undefined
      ? loadDataForModel(model, f.data, options)
      : await runnableRandomData(model, { count: f.batch, seed: 0, threads: 1 });
  if (ds.count < f.batch)
    throw new WhittleError(
      'BAD_ARGUMENT',
      `${spec}: --data ${f.data ?? ''} has ${ds.count} samples, fewer than --batch ${f.batch}; pass --batch ${ds.count} or more data`,
    );
  return { loaded, feeds: tensorBatch(ds, 0, f.batch).feeds };
}

async function runBench(f: BenchFlags): Promise<Record<string, unknown>> {
  if (f.model.length === 0) throw new WhittleError('BAD_ARGUMENT', 'give at least one --model (repeat it to compare models side by side)');
  const settings = settingsFor(f);
  const options = imageOptions(f);
  const cases: (LatencyCase & { bytes: number })[] = [];
  for (const [i, spec] of f.model.entries()) {
    const feeds = await feedsFor(spec, f, options);
    const { model, path } = feeds.loaded;
    // The file as shipped, not the loaded model: loading folds constants, and folding a QDQ
    // model's DequantizeLinear of its int8 weights into float weights would time a different
    // (slower) graph than onnxruntime gets from the file.
    const bytes = path !== undefined ? new Uint8Array(readFileSync(path)) : encodeModel(model);
    // The same file twice still gets two rows.
    const name = f.model.indexOf(spec) === i ? spec : `${spec} (#${i + 1})`;
    cases.push({ name, model: bytes, feeds: feeds.feeds, bytes: path !== undefined ? statSync(path).size : bytes.length });
  }
  const total = f.rounds * settings.length * cases.length;
  const bar =
    process.stderr.isTTY === true
      ? new cliProgress.SingleBar(
          { stream: process.stderr, format: 'bench [{bar}] {value}/{total} sessions | ETA {eta_formatted} | {what}', hideCursor: true },
          cliProgress.Presets.shades_classic,
        )
      : undefined;
  bar?.start(total, 0, { what: '' });
  let done = 0;
  const rows = await compareLatency(cases, settings, {
    rounds: f.rounds,
    warmup: f.warmup,
    runs: f.runs,
    onMeasure: (m) => {
      done++;
      bar?.update(done, { what: `${m.name} ${m.setting.backend} ${m.setting.threads}T ${m.ms.toFixed(3)} ms` });
      if (bar === undefined && done % (settings.length * cases.length) === 0) process.stderr.write(`bench: round ${m.round + 1}/${m.rounds} done\n`);
    },
  });
  bar?.stop();
  const bytesOf = new Map(cases.map((c) => [c.name, c.bytes]));
  const table = [['model', 'bytes', 'runtime', 'threads', 'ms/batch', 'samples/s', `× ${cases[0]?.name ?? ''}`]];
  for (const r of rows)
    table.push([
      r.name,
      (bytesOf.get(r.name) ?? 0).toLocaleString('en-US'),
      r.backend,
      String(r.threads),
      r.ms.toFixed(3),
      Math.round((1000 * f.batch) / r.ms).toLocaleString('en-US'),
      r.speedup.toFixed(2),
    ]);
  addSummary(
    `Inference latency, batch ${f.batch}, median of ${f.rounds} rounds × ${f.runs} runs (fresh sessions, models alternating)\n${formatTable(table)}\n`,
  );
  return {
    batch: f.batch,
    rounds: f.rounds,
    warmup: f.warmup,
    runs: f.runs,
    rows: rows.map((r) => ({
      model: r.name,
      bytes: bytesOf.get(r.name),
      runtime: r.backend,
      threads: r.threads,
      msPerBatch: r.ms,
      samplesPerSec: (1000 * f.batch) / r.ms,
      speedup: r.speedup,
      samples: r.samples,
    })),
  };
}

export function registerBenchCommands(program: Command): void {
  addImageFlags(
    program
      .command('bench')
      .description('inference latency of models side by side (onnxruntime-node and/or onnxruntime-web), medians of fresh sessions')
      .option(
        '--model <file.onnx>',
        'a model to time (repeat to compare; the first is the reference)',
        (v: string, acc: string[]) => [...acc, v],
        [] as string[],
      )
      .option(
        '--data <path>',
        'inputs: MNIST-format IDX or CIFAR-10 directory; or for any model .npy, .npz (keys = input names), a directory of .npy, a folder of images, a .jsonl of named inputs (default: the bundled MNIST for MNIST-shaped models, else seeded random inputs)',
      ),
  )
    .option('--runtime <list>', 'node, web, or node,web', 'node')
    .option('--threads <list>', 'onnxruntime-node intra-op threads, e.g. 1,2 (default: 1 and all cores)')
    .option('--batch <n>', 'images per run', int('--batch', 1), 64)
    .option('--rounds <n>', 'rounds; the reported figure is the median', int('--rounds', 1), 5)
    .option('--warmup <n>', 'untimed runs of each fresh session', int('--warmup', 0), 50)
    .option('--runs <n>', 'timed runs per session', int('--runs', 1), 200)
    .option('--json', 'print one JSON object on stdout')
    .action(async (f: BenchFlags) => emit(Boolean(f.json), await runBench(f)));
}
