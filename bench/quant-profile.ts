// Where static int8's time goes, op by op, against fp32: onnxruntime-node's profiler on corpus
// CNNs in three forms (fp32; int8 with per-channel weights, the default; int8 with one weight
// scale per tensor), at one batch and thread count. Kernel µs per run are each node's median over
// the profiled runs, and each form's best of ROUNDS profiles (forms alternating), so a busy machine
// inflates them less than wall time (wall ms is printed, but is the noisy figure).
// One model: each op type's µs in every form and the slowest nodes. Several (comma-separated, or
// `all`: every opset-17 corpus classifier): one line per model and form, op types by time.
// usage: node dist/bench/quant-profile.js [MODEL=mobilenet_v3_small|all|a,b] [BATCH=32] [THREADS=1]   (after node scripts/build.mjs)
//   MODEL may also be a file (DIR/resnet18.onnx of the speed corpus, bench/export-speed-corpus.py), fed from DATA
// env: ROUNDS (2), TOP (12 slowest nodes, one model), DATA (a .npy of inputs for a MODEL file; default its folder's images224.npy)
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { foldBatchNorm } from '../src/compress/quantize/fold-bn.js';
import { loadDataForModel, tensorBatch } from '../src/data/index.js';
import type { Model } from '../src/ir/graph.js';
import type { Tensor } from '../src/ir/tensor.js';
import { loadModel } from '../src/load.js';
import { feedsOfBatch } from '../src/pipeline/quantize-speed.js';
import { quantizeModel } from '../src/pipeline/quantize.js';
import type { NodeProfile } from '../src/runtime/profile.js';
import { profileNodes } from '../src/runtime/profile.js';

const [which = 'mobilenet_v3_small', batchArg = '32', threadsArg = '1'] = process.argv.slice(2);
const CORPUS = 'test/fixtures/corpus';
const manifest = JSON.parse(readFileSync(join(CORPUS, 'manifest.json'), 'utf8')) as {
  models: { name: string; opset: number; file: string; kind: string; input_file?: string }[];
};
const names = which === 'all' ? manifest.models.filter((m) => m.opset === 17 && m.kind === 'classifier').map((m) => m.name) : which.split(',');
const threads = Number(threadsArg);
const rounds = Number(process.env['ROUNDS'] ?? '2');

// perChannel undefined: the float model itself (BatchNorm folded, as onnxruntime would).
const forms: { label: string; perChannel?: boolean }[] = [
  { label: 'fp32' },
  { label: 'int8 per-channel', perChannel: true },
  { label: 'int8 per-tensor', perChannel: false },
];
const kernelUs = (p: NodeProfile): number => p.nodes.reduce((a, n) => a + n.us, 0);
const byOp = (p: NodeProfile): Map<string, number> => {
  const m = new Map<string, number>();
  for (const n of p.nodes) m.set(n.op, (m.get(n.op) ?? 0) + n.us);
  return m;
};

async function profileForms(name: string): Promise<[string, NodeProfile][]> {
  const entry = manifest.models.find((m) => m.name === name && m.opset === 17);
  const isFile = name.endsWith('.onnx');
  if (!isFile && entry?.input_file === undefined) throw new Error(`no opset-17 corpus model '${name}' with an input file`);
  const model = loadModel(isFile ? name : join(CORPUS, entry?.file as string));
  const ds = loadDataForModel(model, isFile ? (process.env['DATA'] ?? join(dirname(name), 'images224.npy')) : join(CORPUS, entry?.input_file as string));
  const input = model.graph.inputs[0]?.name as string;
  const samples = tensorBatch(ds, 0, Math.min(16, ds.count)).feeds[input] as Tensor;
  const feeds = feedsOfBatch({ [input]: samples }, Number(batchArg));
  if (isFile) process.stderr.write(`${name}: quantizing (16 calibration samples)\n`);
  const graphs: Model[] = [];
  for (const f of forms)
    graphs.push(
      f.perChannel === undefined
        ? foldBatchNorm(model).model
        : (await quantizeModel(model, { scheme: 'ptq', samples, perChannel: f.perChannel, threads: 1 })).model,
    );
  await profileNodes(graphs[0] as Model, feeds, { threads, warmup: 20, runs: 10 }); // a first session warms the process up
  const best: (NodeProfile | undefined)[] = forms.map(() => undefined);
  for (let r = 0; r < rounds; r++)
    for (const [i, g] of graphs.entries()) {
      const p = await profileNodes(g, feeds, { threads, warmup: 10, runs: Number(batchArg) >= 32 ? 20 : 50 });
      const b = best[i];
      if (b === undefined || kernelUs(p) < kernelUs(b)) best[i] = p;
    }
  return forms.map((f, i) => [f.label, best[i] as NodeProfile]);
}

if (names.length === 1) {
  const name = names[0] as string;
  const profiles = await profileForms(name);
  process.stdout.write(`${name}, batch ${batchArg}, ${threads} thread(s): kernel µs per run by op type (median per node, best of ${rounds})\n`);
  const maps = profiles.map(([, p]) => byOp(p));
  const ops = [...new Set(profiles.flatMap(([, p]) => p.nodes.map((n) => n.op)))];
  process.stdout.write(`${'op'.padEnd(28)}${profiles.map(([l]) => l.padStart(18)).join('')}\n`);
  for (const op of ops.sort((a, b) => Math.max(...maps.map((m) => m.get(b) ?? 0)) - Math.max(...maps.map((m) => m.get(a) ?? 0))))
    process.stdout.write(`${op.padEnd(28)}${maps.map((m) => (m.get(op) ?? 0).toFixed(1).padStart(18)).join('')}\n`);
  process.stdout.write(`${'kernel total'.padEnd(28)}${profiles.map(([, p]) => kernelUs(p).toFixed(1).padStart(18)).join('')}\n`);
  process.stdout.write(`${'nodes run'.padEnd(28)}${profiles.map(([, p]) => String(p.nodes.length).padStart(18)).join('')}\n`);
  process.stdout.write(`${'wall ms per run'.padEnd(28)}${profiles.map(([, p]) => p.msPerRun.toFixed(3).padStart(18)).join('')}\n`);
  for (const [label, p] of profiles) {
    process.stdout.write(`\nslowest nodes, ${label}:\n`);
    for (const n of p.nodes.slice(0, Number(process.env['TOP'] ?? 12)))
      process.stdout.write(`  ${n.us.toFixed(1).padStart(9)}  ${n.op.padEnd(24)} ${n.name}\n`);
  }
} else {
  process.stdout.write(`batch ${batchArg}, ${threads} thread(s): kernel µs per run (median per node, best of ${rounds}); fp32/x > 1.00: faster than fp32\n`);
  for (const name of names) {
    const profiles = await profileForms(name);
    const fp32 = kernelUs((profiles[0] as [string, NodeProfile])[1]);
    for (const [label, p] of profiles) {
      const ops = [...byOp(p)]
        .sort((a, b) => b[1] - a[1])
        .slice(0, 8)
        .map(([op, us]) => `${op} ${us.toFixed(0)}`)
        .join(', ');
      process.stdout.write(
        `${name.padEnd(20)} ${label.padEnd(17)} ${kernelUs(p).toFixed(0).padStart(6)} µs ${String(p.nodes.length).padStart(4)} nodes  fp32/x ${(fp32 / kernelUs(p)).toFixed(2)}  ${ops}\n`,
      );
    }
  }
}
