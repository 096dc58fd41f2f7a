// Where static int8's time goes, op by op, against fp32: onnxruntime-node's profiler on one corpus
// CNN in three forms (fp32; int8 with per-channel weights, the default; int8 with one weight scale
// per tensor), at one batch and thread count. Prints each op type's kernel µs per run (the median
// of the profiled runs, per node) and the slowest nodes of each form. For checking levers
// (per-tensor weights, QLinearGlobalAveragePool, the first 3-channel conv, ...) on a quiet machine.
// usage: node dist/bench/quant-profile.js [MODEL=mobilenet_v3_small] [BATCH=32] [THREADS=1]   (after node scripts/build.mjs)
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadDataForModel, tensorBatch } from '../src/data/index.js';
import type { Tensor } from '../src/ir/tensor.js';
import { loadModel } from '../src/load.js';
import { feedsOfBatch } from '../src/pipeline/quantize-speed.js';
import { quantizeModel } from '../src/pipeline/quantize.js';
import type { NodeProfile } from '../src/runtime/profile.js';
import { profileNodes } from '../src/runtime/profile.js';

const [name = 'mobilenet_v3_small', batchArg = '32', threadsArg = '1'] = process.argv.slice(2);
const CORPUS = 'test/fixtures/corpus';
const manifest = JSON.parse(readFileSync(join(CORPUS, 'manifest.json'), 'utf8')) as {
  models: { name: string; opset: number; file: string; input_file?: string }[];
};
const entry = manifest.models.find((m) => m.name === name && m.opset === 17);
if (entry?.input_file === undefined) throw new Error(`no opset-17 corpus model '${name}' with an input file`);
const model = loadModel(join(CORPUS, entry.file));
const ds = loadDataForModel(model, join(CORPUS, entry.input_file));
const input = model.graph.inputs[0]?.name as string;
const samples = tensorBatch(ds, 0, Math.min(16, ds.count)).feeds[input] as Tensor;
const feeds = feedsOfBatch({ [input]: samples }, Number(batchArg));
const threads = Number(threadsArg);

// perChannel undefined: the float model itself.
const forms: { label: string; perChannel?: boolean }[] = [
  { label: 'fp32' },
  { label: 'int8 per-channel', perChannel: true },
  { label: 'int8 per-tensor', perChannel: false },
];
const profiles: [string, NodeProfile][] = [];
for (const f of forms) {
  const graph = f.perChannel === undefined ? model : (await quantizeModel(model, { scheme: 'ptq', samples, perChannel: f.perChannel, threads: 1 })).model;
  await profileNodes(graph, feeds, { threads, warmup: 20, runs: 20 }); // a first session warms the process up
  profiles.push([f.label, await profileNodes(graph, feeds, { threads, warmup: 20, runs: 50 })]);
}
process.stdout.write(`${name}, batch ${batchArg}, ${threads} thread(s): kernel µs per run by op type (median per node)\n`);
const ops = [...new Set(profiles.flatMap(([, p]) => p.nodes.map((n) => n.op)))];
const byOp = profiles.map(([, p]) => new Map(ops.map((op) => [op, p.nodes.filter((n) => n.op === op).reduce((a, n) => a + n.us, 0)])));
const total = (i: number): number => [...(byOp[i] as Map<string, number>).values()].reduce((a, b) => a + b, 0);
process.stdout.write(`${'op'.padEnd(28)}${profiles.map(([l]) => l.padStart(18)).join('')}\n`);
for (const op of ops.sort((a, b) => Math.max(...byOp.map((m) => m.get(b) ?? 0)) - Math.max(...byOp.map((m) => m.get(a) ?? 0))))
  process.stdout.write(`${op.padEnd(28)}${byOp.map((m) => (m.get(op) ?? 0).toFixed(1).padStart(18)).join('')}\n`);
process.stdout.write(`${'kernel total'.padEnd(28)}${profiles.map((_, i) => total(i).toFixed(1).padStart(18)).join('')}\n`);
process.stdout.write(`${'wall ms per run'.padEnd(28)}${profiles.map(([, p]) => p.msPerRun.toFixed(3).padStart(18)).join('')}\n`);
for (const [label, p] of profiles) {
  process.stdout.write(`\nslowest nodes, ${label}:\n`);
  for (const n of p.nodes.slice(0, Number(process.env['TOP'] ?? 12))) process.stdout.write(`  ${n.us.toFixed(1).padStart(9)}  ${n.op.padEnd(24)} ${n.name}\n`);
}
