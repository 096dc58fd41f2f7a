// Inference latency of a dense model and its pruned (thinned) version, side by side: batch 64 of
// real MNIST test images, onnxruntime-node, 1 and 2 threads, models alternating within each round
// so machine noise hits both; medians over rounds. Prints a table; never fails on timing.
// usage: node dist/bench/prune-latency.js DENSE.onnx PRUNED.onnx [ROUNDS] [RUNS]
import { loadIdxDataset, normalizeBatch } from '../src/data/index.js';
import { loadModelFile } from '../src/ir/io.js';
import { Tensor } from '../src/ir/tensor.js';
import { Session } from '../src/runtime/session.js';

const [densePath, prunedPath, roundsArg = '5', runsArg = '300'] = process.argv.slice(2);
if (densePath === undefined || prunedPath === undefined) {
  process.stderr.write('usage: node dist/bench/prune-latency.js DENSE.onnx PRUNED.onnx [ROUNDS] [RUNS]\n');
  process.exit(2);
}
const rounds = Number(roundsArg);
const runs = Number(runsArg);
const test = loadIdxDataset().test;
const x = new Tensor('float32', [64, 1, 28, 28], normalizeBatch(test, Int32Array.from({ length: 64 }, (_, i) => i), 'x/255'));
const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? (s[s.length >> 1] as number) : ((s[s.length / 2 - 1] as number) + (s[s.length / 2] as number)) / 2;
};

async function timeOnce(path: string, threads: number): Promise<number> {
  const model = loadModelFile(path);
  const s = await Session.create(model, { threads });
  const input = model.graph.inputs[0]?.name as string;
  try {
    for (let i = 0; i < 50; i++) await s.run({ [input]: x });
    const t0 = performance.now();
    for (let i = 0; i < runs; i++) await s.run({ [input]: x });
    return (performance.now() - t0) / runs;
  } finally {
    await s.release();
  }
}

const rows = ['| threads | dense ms/batch | pruned ms/batch | speed-up |', '|---|---|---|---|'];
const raw: Record<string, { dense: number[]; pruned: number[] }> = {};
for (const threads of [1, 2]) {
  const dense: number[] = [];
  const pruned: number[] = [];
  for (let r = 0; r < rounds; r++) {
    dense.push(await timeOnce(densePath, threads));
    pruned.push(await timeOnce(prunedPath, threads));
  }
  raw[threads] = { dense, pruned };
  rows.push(`| ${threads} | ${median(dense).toFixed(3)} | ${median(pruned).toFixed(3)} | ${(median(dense) / median(pruned)).toFixed(2)}× |`);
}
process.stdout.write(`Inference latency, batch 64, ${densePath} vs ${prunedPath} (median of ${rounds} rounds × ${runs} runs)\n\n${rows.join('\n')}\n\nraw: ${JSON.stringify(raw)}\n`);
