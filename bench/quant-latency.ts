// Quantized inference side by side: accuracy on the MNIST test set and onnxruntime latency at
// batch 64 for fp32, static int8 QDQ, dynamic int8, fp16 weights and int4 (MatMulNBits) forms of
// the same trained model. Variants alternate within each repeat so machine noise hits all of
// them; one session exists at a time; the table shows medians. Prints, never asserts.
// usage: node dist/bench/quant-latency.js [model.onnx ...]   (default runs/lenet-5.onnx runs/lenet-300-100.onnx)
// env: BENCH_REPEATS (5), BENCH_RUNS (300 timed runs per repeat), BENCH_THREADS ("1,2")
import { existsSync } from 'node:fs';
import { quantizeDynamic, quantizeStatic } from '../src/compress/quantize/index.js';
import { loadIdxDataset, normalizeBatch } from '../src/data/index.js';
import type { Model } from '../src/ir/graph.js';
import { loadModelFile } from '../src/ir/io.js';
import { encodeModel } from '../src/ir/onnx.js';
import { Tensor } from '../src/ir/tensor.js';
import { exportFp16, exportInt4 } from '../src/export/index.js';
import { Session } from '../src/runtime/session.js';
import { evaluate } from '../src/train/evaluate.js';

const repeats = Number(process.env['BENCH_REPEATS'] ?? 5);
const timedRuns = Number(process.env['BENCH_RUNS'] ?? 300);
const threadList = (process.env['BENCH_THREADS'] ?? '1,2').split(',').map(Number);
const paths = process.argv.slice(2).length > 0 ? process.argv.slice(2) : ['runs/lenet-5.onnx', 'runs/lenet-300-100.onnx'].filter((p) => existsSync(p));
if (paths.length === 0) {
  process.stderr.write('bench: no model given and no runs/lenet-5.onnx; train one first: whittle train --model lenet-5 --out runs/lenet-5.onnx\n');
  process.exit(1);
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
};

async function latencyMs(model: Model, x: Tensor, threads: number): Promise<number> {
  const s = await Session.create(model, { threads });
  const input = model.graph.inputs[0]?.name as string;
  try {
    for (let i = 0; i < 50; i++) await s.run({ [input]: x });
    const t0 = performance.now();
    for (let i = 0; i < timedRuns; i++) await s.run({ [input]: x });
    return (performance.now() - t0) / timedRuns;
  } finally {
    await s.release();
  }
}

const mnist = loadIdxDataset();
const calib = new Tensor('float32', [512, 1, 28, 28], normalizeBatch(mnist.train, Int32Array.from({ length: 512 }, (_, i) => i), 'x/255'));
const x = new Tensor('float32', [64, 1, 28, 28], normalizeBatch(mnist.test, Int32Array.from({ length: 64 }, (_, i) => i), 'x/255'));

for (const path of paths) {
  const fp32 = loadModelFile(path);
  const variants: [string, Model][] = [
    ['fp32', fp32],
    ['int8 QDQ (static, minmax)', (await quantizeStatic(fp32, { samples: calib, threads: 2 })).model],
    ['int8 dynamic', quantizeDynamic(fp32).model],
    ['fp16 weights', exportFp16(fp32)],
    ['int4 MatMulNBits (Gemm)', exportInt4(fp32).model],
  ];
  const acc = new Map<string, number>();
  for (const [name, m] of variants) acc.set(name, (await evaluate(m, mnist.test, { normalization: 'x/255', threads: 2 })).accuracy);
  const times = new Map<string, number[]>();
  for (let r = 0; r < repeats; r++) {
    for (const threads of threadList) {
      for (const [name, m] of variants) {
        const key = `${name}|${threads}`;
        const list = times.get(key) ?? [];
        list.push(await latencyMs(m, x, threads));
        times.set(key, list);
      }
    }
  }
  const base = acc.get('fp32') as number;
  console.log(`\n${path} — MNIST test accuracy (10,000) and onnxruntime-node latency per batch of 64 (median of ${repeats} × ${timedRuns} runs)`);
  const head = ['variant', 'bytes', 'accuracy', 'drop (pts)', ...threadList.flatMap((t) => [`ms ${t}T`, `× fp32 ${t}T`])];
  const rows = variants.map(([name, m]) => {
    const cells = [name, encodeModel(m).length.toLocaleString('en-US'), `${(100 * (acc.get(name) as number)).toFixed(2)}%`, (100 * (base - (acc.get(name) as number))).toFixed(2)];
    for (const t of threadList) {
      const ms = median(times.get(`${name}|${t}`) as number[]);
      const ref = median(times.get(`fp32|${t}`) as number[]);
      cells.push(ms.toFixed(3), (ref / ms).toFixed(2));
    }
    return cells;
  });
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] as string).length)));
  const line = (cells: string[]): string => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i] as number) : c.padStart(widths[i] as number))).join('  ');
  console.log(line(head));
  for (const r of rows) console.log(line(r));
}
