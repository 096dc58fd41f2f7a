// Where a training step's time goes: builds the same graph the trainer runs (byte input, in-graph
// update, a Loop of K steps when K > 1), runs it with onnxruntime's profiler on, and prints the
// kernel time per op type and the slowest nodes, per training step (warm-up runs excluded).
// usage: node dist/bench/profile-train.js MODEL [THREADS=1] [K=16] [RUNS=8] [WARMUP_RUNS=4]
// ORT_OPTS='{"extra":{"session":{"intra_op.allow_spinning":"0"}}}' merges extra session options.
// STEP_THREADS=1 builds the step as for 1 thread and runs it with THREADS: an A/B of the rewrites a
// 2+-thread step gets (autodiff/fuse.ts: Col2Im input gradients, split Convs), e.g. on LeNet-5
//   NO_PROFILE=1 node dist/bench/profile-train.js lenet-5 2 64 40 8   (then with STEP_THREADS=1).
// UNFOLD=1 (or 0) sets the step's unfoldInputConvs (Convs on the single-channel input as a
// product over its unfold; default off).
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { byteInput } from '../src/autodiff/byte-input.js';
import { buildLoopTrainStep } from '../src/autodiff/loop.js';
import { buildTrainStep } from '../src/autodiff/train-step.js';
import { epochOrder, imageSource, loadIdxDataset, normalizationAffine } from '../src/data/index.js';
import { encodeModel } from '../src/ir/onnx.js';
import { Tensor } from '../src/ir/tensor.js';
import { inputDims } from '../src/train/evaluate.js';
import { benchModel } from './models.js';

const [name = 'lenet-5', threadsArg = '1', kArg = '16', runsArg = '8', warmArg = '4'] = process.argv.slice(2);
const threads = Number(threadsArg);
const K = Number(kArg);
const runs = Number(runsArg);
const warm = Number(warmArg);
const batch = 64;
const model = benchModel(name);
const unfold = process.env['UNFOLD'] === undefined ? undefined : process.env['UNFOLD'] !== '0';
const step = buildTrainStep(model, {
  optimizer: { kind: 'sgd', momentum: 0.9 },
  threads: Number(process.env['STEP_THREADS'] ?? threads),
  ...(unfold === undefined ? {} : { unfoldInputConvs: unfold }),
});
const g = step.model.graph.clone();
const pixels = byteInput(g, step.input, normalizationAffine('x/255'));
const runStep = { ...step, model: { ...step.model, graph: g }, input: pixels };
const loop = K > 1 ? buildLoopTrainStep(runStep) : undefined;
const graphModel = loop?.step.model ?? runStep.model;
const prefix = join(tmpdir(), `whittle-profile-${process.pid}`);
const extra = process.env['ORT_OPTS'] ? (JSON.parse(process.env['ORT_OPTS']) as object) : {};
const session = await ort.InferenceSession.create(encodeModel(graphModel), {
  intraOpNumThreads: threads,
  interOpNumThreads: 1,
  graphOptimizationLevel: 'all',
  executionMode: 'sequential',
  logSeverityLevel: 4,
  enableProfiling: process.env['NO_PROFILE'] === undefined,
  profileFilePrefix: prefix,
  ...extra,
});

const mnist = loadIdxDataset();
const source = imageSource(mnist.train, {
  input: loop?.stackedInput ?? pixels,
  labelInput: loop?.stackedLabels ?? step.labels,
  normalization: 'x/255',
  shape: inputDims(model, mnist.train),
  reuse: true,
  bytes: true,
});
const order = epochOrder(mnist.train.count, { shuffle: true, seed: 0, epoch: 0 });
const state = new Map<string, Tensor>();
for (const c of step.carried)
  state.set(c.input, c.init.kind === 'initializer' ? (model.graph.initializers.get(c.init.name) as Tensor).clone() : new Tensor(c.dtype, c.dims));
const toOrt = (t: Tensor): ort.Tensor => new ort.Tensor(t.dtype as 'float32', t.data as Float32Array, t.dims as number[]);
const times: number[] = [];
for (let r = 0; r < warm + runs; r++) {
  const s = (r * K) % Math.floor(mnist.train.count / batch - K);
  const b = source.gather(order.subarray(s * batch, (s + K) * batch), loop !== undefined ? [K, batch] : [batch]);
  const feeds: Record<string, ort.Tensor> = {};
  for (const [k, v] of Object.entries(b.feeds)) feeds[k] = toOrt(v);
  for (const [k, v] of state) feeds[k] = toOrt(v);
  const scalars = step.optimizer.scalarFeeds(step.scalars, Array(K).fill(0.05), r * K + 1);
  for (const [k, v] of scalars)
    feeds[loop?.stackedScalars[k] ?? k] = loop !== undefined ? new ort.Tensor('float32', v, [K]) : new ort.Tensor('float32', v.subarray(0, 1), []);
  const t0 = performance.now();
  const out = await session.run(feeds);
  if (r >= warm) times.push(performance.now() - t0);
  for (const c of step.carried) {
    const o = out[c.output] as ort.Tensor;
    state.set(c.input, new Tensor(c.dtype, [...o.dims], o.data as Float32Array));
  }
}
times.sort((a, b) => a - b);
const msPerStep = (times[times.length >> 1] as number) / K;
process.stdout.write(
  `${name} threads=${threads}${process.env['STEP_THREADS'] === undefined ? '' : ` (step built for ${process.env['STEP_THREADS']})`}${unfold === undefined ? '' : ` unfold=${unfold ? 1 : 0}`} K=${K}: median ${msPerStep.toFixed(3)} ms/step, ${Math.round((batch * 1000) / msPerStep)} samples/s\n`,
);
if (process.env['NO_PROFILE'] !== undefined) process.exit(0);

session.endProfiling();
// onnxruntime-node does not return the file's name: it is the prefix plus a timestamp.
const base = `whittle-profile-${process.pid}`;
const file = join(tmpdir(), readdirSync(tmpdir()).find((f) => f.startsWith(base)) ?? `${base}.json`);
interface Event {
  cat: string;
  name: string;
  dur: number;
  ts: number;
  args?: { op_name?: string };
}
const events = JSON.parse(readFileSync(file, 'utf8')) as Event[];
rmSync(file, { force: true });
// Runs are "model_run" Session events; keep node events after the warm-up runs.
const modelRuns = events.filter((e) => e.cat === 'Session' && e.name === 'model_run').sort((a, b) => a.ts - b.ts);
const from = modelRuns[warm]?.ts ?? 0;
const nodes = events.filter((e) => e.cat === 'Node' && e.name.endsWith('_kernel_time') && e.ts >= from);
const steps = runs * K;
const byOp = new Map<string, number>();
const byNode = new Map<string, { op: string; us: number; runs: number; fastest: number }>();
for (const e of nodes) {
  const op = e.args?.op_name ?? '?';
  byOp.set(op, (byOp.get(op) ?? 0) + e.dur);
  const n = e.name.slice(0, -'_kernel_time'.length);
  const cur = byNode.get(n) ?? { op, us: 0, runs: 0, fastest: Number.POSITIVE_INFINITY };
  cur.us += e.dur;
  cur.runs++;
  cur.fastest = Math.min(cur.fastest, e.dur);
  byNode.set(n, cur);
}
// Each node's fastest run times its runs per step: what the kernels take when the core is free.
// On a loaded machine the sums above absorb every preemption; this one moves far less.
const fastestByOp = new Map<string, number>();
for (const { op, runs: r, fastest } of byNode.values()) fastestByOp.set(op, (fastestByOp.get(op) ?? 0) + (fastest * r) / steps);
// A Loop's (If's, Scan's) own time includes its body's nodes, which are listed themselves.
const CONTROL = new Set(['Loop', 'If', 'Scan']);
const total = [...byOp].filter(([op]) => !CONTROL.has(op)).reduce((a, [, us]) => a + us, 0);
const fastestTotal = [...fastestByOp].filter(([op]) => !CONTROL.has(op)).reduce((a, [, us]) => a + us, 0);
process.stdout.write(
  `kernel time ${(total / steps / 1000).toFixed(3)} ms/step (of ${msPerStep.toFixed(3)} ms wall); at each node's fastest ${(fastestTotal / 1000).toFixed(3)} ms/step\n`,
);
process.stdout.write(`  ${'op'.padEnd(28)} ${'ms/step'.padStart(8)}  ${'share'.padStart(6)}  ${'fastest'.padStart(8)}\n`);
for (const [op, us] of [...byOp].sort((a, b) => b[1] - a[1]))
  process.stdout.write(
    `  ${op.padEnd(28)} ${(us / steps / 1000).toFixed(3).padStart(8)}  ${((100 * us) / total).toFixed(1).padStart(5)}%  ${((fastestByOp.get(op) ?? 0) / 1000).toFixed(3).padStart(8)}\n`,
  );
const top = Number(process.env['TOP'] ?? 25);
process.stdout.write(`slowest ${top} nodes at their fastest (ms/step; then the plain sum):\n`);
const atFastest = (v: { runs: number; fastest: number }): number => (v.fastest * v.runs) / steps / 1000;
for (const [n, v] of [...byNode]
  .filter(([, v]) => !CONTROL.has(v.op))
  .sort((a, b) => atFastest(b[1]) - atFastest(a[1]))
  .slice(0, top))
  process.stdout.write(`  ${atFastest(v).toFixed(3).padStart(8)}  ${(v.us / steps / 1000).toFixed(3).padStart(8)}  ${v.op.padEnd(22)} ${n}\n`);
