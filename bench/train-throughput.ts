// One measurement in a fresh process: Whittle's real training loop (data normalization, feeds,
// in-graph update) on real MNIST, batch 64; times the steps after the warm-up. Prints one JSON line.
// usage: node dist/bench/train-throughput.js MODEL THREADS WARMUP TIMED STEPS_PER_RUN
import { loadIdxDataset, subset } from '../src/data/index.js';
import { DEFAULT_STEPS_PER_RUN, train } from '../src/train/trainer.js';
import { benchModel } from './models.js';

const [model = 'lenet-300-100', threadsArg = '2', warmupArg = '64', timedArg = '512', kArg = String(DEFAULT_STEPS_PER_RUN)] = process.argv.slice(2);
const threads = Number(threadsArg);
const warmup = Number(warmupArg);
const timed = Number(timedArg);
const K = Number(kArg);
const batch = 64;
const mnist = loadIdxDataset();
const data = subset(mnist.train, 0, (warmup + timed) * batch);
let tWarm = 0;
let stepWarm = 0;
let tEnd = 0;
let stepEnd = 0;
// Process CPU time over the same steps: on a loaded machine it moves far less than wall time
// (other processes' turns on the core are not counted), so A/B comparisons use it at 1 thread.
let cpuWarm = 0;
let cpuEnd = 0;
// Minor page faults over the same steps: memory the step touches fresh each time (new buffers)
// costs a fault per 4 KiB page, which a loaded virtual machine makes expensive.
let faultsWarm = 0;
let faultsEnd = 0;
const cpuMs = (): number => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};
await train(benchModel(model), data, {
  epochs: 1,
  batchSize: batch,
  lr: 0.05,
  optimizer: { kind: 'sgd', momentum: 0.9 },
  normalization: 'x/255',
  threads,
  stepsPerRun: K,
  onProgress: (e) => {
    if (e.type !== 'step') return;
    if (stepWarm === 0 && e.step >= warmup) {
      tWarm = performance.now();
      cpuWarm = cpuMs();
      faultsWarm = process.resourceUsage().minorPageFault;
      stepWarm = e.step;
    }
    tEnd = performance.now();
    cpuEnd = cpuMs();
    faultsEnd = process.resourceUsage().minorPageFault;
    stepEnd = e.step;
  },
});
const samplesPerSec = ((stepEnd - stepWarm) * batch) / ((tEnd - tWarm) / 1000);
const cpuSamplesPerSec = ((stepEnd - stepWarm) * batch) / ((cpuEnd - cpuWarm) / 1000);
const faultsPerStep = (faultsEnd - faultsWarm) / Math.max(1, stepEnd - stepWarm);
const peakRssBytes = process.resourceUsage().maxRSS * 1024;
process.stdout.write(
  `${JSON.stringify({ engine: 'whittle', model, threads, stepsPerRun: K, samplesPerSec, cpuSamplesPerSec, faultsPerStep, peakRssBytes })}\n`,
);
