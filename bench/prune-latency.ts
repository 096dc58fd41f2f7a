// Inference latency of a dense model and its pruned (thinned) version, side by side: batch 64 of
// real MNIST test images, onnxruntime-node, 1 and 2 threads, models alternating within each round
// so machine noise hits both; medians over rounds. Prints a table; never fails on timing.
// usage: node dist/bench/prune-latency.js DENSE.onnx PRUNED.onnx [ROUNDS] [RUNS]
import { loadIdxDataset, normalizeBatch } from '../src/data/index.js';
import { loadModelFile } from '../src/ir/io.js';
import { Tensor } from '../src/ir/tensor.js';
import type { LatencyCase } from '../src/runtime/latency.js';
import { compareLatency } from '../src/runtime/latency.js';

const [densePath, prunedPath, roundsArg = '5', runsArg = '300'] = process.argv.slice(2);
if (densePath === undefined || prunedPath === undefined) {
  process.stderr.write('usage: node dist/bench/prune-latency.js DENSE.onnx PRUNED.onnx [ROUNDS] [RUNS]\n');
  process.exit(2);
}
const rounds = Number(roundsArg);
const runs = Number(runsArg);
const test = loadIdxDataset().test;
const x = new Tensor(
  'float32',
  [64, 1, 28, 28],
  normalizeBatch(
    test,
    Int32Array.from({ length: 64 }, (_, i) => i),
    'x/255',
  ),
);
const caseOf = (name: string, path: string): LatencyCase => {
  const model = loadModelFile(path);
  return { name, model, feeds: { [model.graph.inputs[0]?.name as string]: x } };
};
const rowsOut = await compareLatency(
  [caseOf('dense', densePath), caseOf('pruned', prunedPath)],
  [1, 2].map((threads) => ({ backend: 'node' as const, threads })),
  { rounds, runs },
);

const rows = ['| threads | dense ms/batch | pruned ms/batch | speed-up |', '|---|---|---|---|'];
const raw: Record<string, { dense: number[]; pruned: number[] }> = {};
for (const threads of [1, 2]) {
  const dense = rowsOut.find((r) => r.threads === threads && r.name === 'dense');
  const pruned = rowsOut.find((r) => r.threads === threads && r.name === 'pruned');
  if (dense === undefined || pruned === undefined) continue;
  raw[threads] = { dense: dense.samples, pruned: pruned.samples };
  rows.push(`| ${threads} | ${dense.ms.toFixed(3)} | ${pruned.ms.toFixed(3)} | ${pruned.speedup.toFixed(2)}× |`);
}
process.stdout.write(
  `Inference latency, batch 64, ${densePath} vs ${prunedPath} (median of ${rounds} rounds × ${runs} runs)\n\n${rows.join('\n')}\n\nraw: ${JSON.stringify(raw)}\n`,
);
