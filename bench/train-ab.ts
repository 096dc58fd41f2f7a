// An A/B of two ways to build the same training step, steady on a noisy machine: both sessions
// live in one process and run alternately, run by run (A, B, B, A, ...), on the same batches, so
// a neighbour's load or a frequency change hits both alike; the verdict is the median of the
// per-pair ratios, with each side's median ms/step and process CPU ms/step beside it.
// usage: node dist/bench/train-ab.js MODEL [THREADS=1] [K=64] [PAIRS=30] [WARMUP=4]
//   A='{"unfoldInputConvs":false}' B='{"unfoldInputConvs":true}' pick the buildTrainStep options
//   of each side (default: A = the defaults, B = unfoldInputConvs on). B='{}' is an A/A run: two
//   sessions of one graph read 0.98-1.04 here (LeNet-5 at 2 threads 0.980; LeNet-300-100 at 1 and
//   2 threads 1.015 and 1.041), so a ratio within ~4% of 1 is no difference.
// SA / SB merge onnxruntime session options into each side's, e.g. B='{}'
//   SB='{"executionMode":"parallel","interOpNumThreads":2,"intraOpNumThreads":1}': LeNet-300-100's step
//   at 2 threads read A/B 0.846 (K=64) and 0.840 (K=1) — inter-op parallelism over the step's
//   independent branches is slower than the default intra-op threads; intra 1 sequential: 0.833.
import * as ort from 'onnxruntime-node';
import { byteInput } from '../src/autodiff/byte-input.js';
import { buildLoopTrainStep } from '../src/autodiff/loop.js';
import type { TrainStepOptions } from '../src/autodiff/train-step.js';
import { buildTrainStep } from '../src/autodiff/train-step.js';
import { epochOrder, imageSource, loadIdxDataset, normalizationAffine } from '../src/data/index.js';
import { encodeModel } from '../src/ir/onnx.js';
import { Tensor } from '../src/ir/tensor.js';
import { median } from '../src/runtime/latency.js';
import { inputDims } from '../src/train/evaluate.js';
import { benchModel } from './models.js';

const [name = 'lenet-5', threadsArg = '1', kArg = '64', pairsArg = '30', warmArg = '4'] = process.argv.slice(2);
const threads = Number(threadsArg);
const K = Number(kArg);
const pairs = Number(pairsArg);
const warm = Number(warmArg);
const batch = 64;
const model = benchModel(name);
const mnist = loadIdxDataset();
const order = epochOrder(mnist.train.count, { shuffle: true, seed: 0, epoch: 0 });
const toOrt = (t: Tensor): ort.Tensor => new ort.Tensor(t.dtype as 'float32', t.data as Float32Array, t.dims as number[]);

/** One side: its Loop session, its own weights and optimizer state, and one run at a time. */
async function side(options: Partial<TrainStepOptions>, sessionOptions: Partial<ort.InferenceSession.SessionOptions>) {
  const step = buildTrainStep(model, { optimizer: { kind: 'sgd', momentum: 0.9 }, threads, ...options });
  const g = step.model.graph.clone();
  const pixels = byteInput(g, step.input, normalizationAffine('x/255'));
  const loop = buildLoopTrainStep({ ...step, model: { ...step.model, graph: g }, input: pixels });
  const session = await ort.InferenceSession.create(encodeModel(loop.step.model), {
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    graphOptimizationLevel: 'all',
    executionMode: 'sequential',
    logSeverityLevel: 4,
    ...sessionOptions,
  });
  const source = imageSource(mnist.train, {
    input: loop.stackedInput,
    labelInput: loop.stackedLabels,
    normalization: 'x/255',
    shape: inputDims(model, mnist.train),
    reuse: false,
    bytes: true,
  });
  const state = new Map<string, Tensor>();
  for (const c of step.carried)
    state.set(c.input, c.init.kind === 'initializer' ? (model.graph.initializers.get(c.init.name) as Tensor).clone() : new Tensor(c.dtype, c.dims));
  let r = 0;
  return async (): Promise<{ ms: number; cpuMs: number }> => {
    const s = (r * K) % Math.floor(mnist.train.count / batch - K);
    const b = source.gather(order.subarray(s * batch, (s + K) * batch), [K, batch]);
    const feeds: Record<string, ort.Tensor> = {};
    for (const [k, v] of Object.entries(b.feeds)) feeds[k] = toOrt(v);
    for (const [k, v] of state) feeds[k] = toOrt(v);
    for (const [k, v] of step.optimizer.scalarFeeds(step.scalars, Array(K).fill(0.05), r * K + 1))
      feeds[loop.stackedScalars[k] ?? k] = new ort.Tensor('float32', v, [K]);
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    const out = await session.run(feeds);
    const ms = performance.now() - t0;
    const c = process.cpuUsage(c0);
    for (const carried of step.carried) {
      const o = out[carried.output] as ort.Tensor;
      state.set(carried.input, new Tensor(carried.dtype, [...o.dims], o.data as Float32Array));
    }
    r++;
    return { ms, cpuMs: (c.user + c.system) / 1000 };
  };
}

const spec = (v: string | undefined, fallback: Partial<TrainStepOptions>): Partial<TrainStepOptions> =>
  v === undefined ? fallback : (JSON.parse(v) as Partial<TrainStepOptions>);
const optsA = spec(process.env['A'], {});
const optsB = spec(process.env['B'], { unfoldInputConvs: true });
const sessA = JSON.parse(process.env['SA'] ?? '{}') as Partial<ort.InferenceSession.SessionOptions>;
const sessB = JSON.parse(process.env['SB'] ?? '{}') as Partial<ort.InferenceSession.SessionOptions>;
const runA = await side(optsA, sessA);
const runB = await side(optsB, sessB);
for (let i = 0; i < warm; i++) {
  await runA();
  await runB();
}
const a: { ms: number; cpuMs: number }[] = [];
const b: { ms: number; cpuMs: number }[] = [];
for (let i = 0; i < pairs; i++) {
  // ABBA order: neither side always runs right after the other's allocations.
  if (i % 2 === 0) {
    a.push(await runA());
    b.push(await runB());
  } else {
    b.push(await runB());
    a.push(await runA());
  }
}
const perStep = (xs: number[]): string => (median(xs) / K).toFixed(3);
const ratio = median(a.map((x, i) => x.ms / (b[i] as { ms: number }).ms));
const cpuRatio = median(a.map((x, i) => x.cpuMs / (b[i] as { cpuMs: number }).cpuMs));
process.stdout.write(
  `${name} threads=${threads} K=${K} pairs=${pairs}\n` +
    `  A ${JSON.stringify(optsA)}: ${perStep(a.map((x) => x.ms))} ms/step wall, ${perStep(a.map((x) => x.cpuMs))} ms/step CPU\n` +
    `  B ${JSON.stringify(optsB)}: ${perStep(b.map((x) => x.ms))} ms/step wall, ${perStep(b.map((x) => x.cpuMs))} ms/step CPU\n` +
    `  A/B wall ${ratio.toFixed(3)} (median of pair ratios; > 1: B faster), CPU ${cpuRatio.toFixed(3)}\n`,
);
