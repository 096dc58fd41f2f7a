// Quantized inference side by side: accuracy on the MNIST test set and onnxruntime latency at
// batch 64 for fp32, static int8 QDQ, dynamic int8, fp16 weights and int4 (MatMulNBits) forms of
// the same trained model. Variants alternate within each repeat so machine noise hits all of
// them; one session exists at a time; the table shows medians. onnxruntime-node at each thread
// count, and onnxruntime-web (WebAssembly, one thread, what a browser runs). Prints, never asserts.
// usage: node dist/bench/quant-latency.js [model.onnx ...]   (default runs/lenet-5.onnx runs/lenet-300-100.onnx)
// env: BENCH_REPEATS (5), BENCH_RUNS (300 timed runs per repeat; web: a third), BENCH_THREADS ("1,2"), BENCH_WEB (1; 0 skips web)
import { existsSync } from 'node:fs';
import { quantizeDynamic, quantizeStatic } from '../src/compress/quantize/index.js';
import { loadIdxDataset, normalizeBatch } from '../src/data/index.js';
import type { Model } from '../src/ir/graph.js';
import { loadModelFile } from '../src/ir/io.js';
import { encodeModel } from '../src/ir/onnx.js';
import { Tensor } from '../src/ir/tensor.js';
import { exportFp16, exportInt4 } from '../src/export/index.js';
import { compareLatency } from '../src/runtime/latency.js';
import { evaluate } from '../src/train/evaluate.js';

const repeats = Number(process.env['BENCH_REPEATS'] ?? 5);
const timedRuns = Number(process.env['BENCH_RUNS'] ?? 300);
const threadList = (process.env['BENCH_THREADS'] ?? '1,2').split(',').map(Number);
const withWeb = (process.env['BENCH_WEB'] ?? '1') !== '0';
const paths = process.argv.slice(2).length > 0 ? process.argv.slice(2) : ['runs/lenet-5.onnx', 'runs/lenet-300-100.onnx'].filter((p) => existsSync(p));
if (paths.length === 0) {
  process.stderr.write('bench: no model given and no runs/lenet-5.onnx; train one first: whittle train --model lenet-5 --out runs/lenet-5.onnx\n');
  process.exit(1);
}

const mnist = loadIdxDataset();
const calib = new Tensor(
  'float32',
  [512, 1, 28, 28],
  normalizeBatch(
    mnist.train,
    Int32Array.from({ length: 512 }, (_, i) => i),
    'x/255',
  ),
);
const x = new Tensor(
  'float32',
  [64, 1, 28, 28],
  normalizeBatch(
    mnist.test,
    Int32Array.from({ length: 64 }, (_, i) => i),
    'x/255',
  ),
);

for (const path of paths) {
  const fp32 = loadModelFile(path);
  const firstConv = fp32.graph.nodes.find((n) => n.opType === 'Conv')?.name;
  const variants: [string, Model][] = [
    ['fp32', fp32],
    ['int8 QDQ (static, minmax)', (await quantizeStatic(fp32, { samples: calib, threads: 2 })).model],
    // The first conv (one input channel: a slow int8 kernel) kept in float32.
    ...(firstConv === undefined
      ? []
      : [[`int8 QDQ, ${firstConv} float`, (await quantizeStatic(fp32, { samples: calib, threads: 2, keepFloat: [firstConv] })).model] as [string, Model]]),
    ['int8 dynamic', quantizeDynamic(fp32).model],
    ['fp16 weights', exportFp16(fp32)],
    ['int4 MatMulNBits (Gemm)', exportInt4(fp32).model],
  ];
  const acc = new Map<string, number>();
  for (const [name, m] of variants) acc.set(name, (await evaluate(m, mnist.test, { normalization: 'x/255', threads: 2 })).accuracy);
  const cases = variants.map(([name, model]) => ({ name, model, feeds: { [model.graph.inputs[0]?.name as string]: x } }));
  const rowsOut = [
    ...(await compareLatency(
      cases,
      threadList.map((threads) => ({ backend: 'node' as const, threads })),
      { rounds: repeats, runs: timedRuns },
    )),
    ...(withWeb ? await compareLatency(cases, [{ backend: 'web', threads: 1 }], { rounds: repeats, runs: Math.max(1, Math.round(timedRuns / 3)) }) : []),
  ];
  const columns: { label: string; backend: 'node' | 'web'; threads: number }[] = [
    ...threadList.map((t) => ({ label: `${t}T`, backend: 'node' as const, threads: t })),
    ...(withWeb ? [{ label: 'web', backend: 'web' as const, threads: 1 }] : []),
  ];
  const base = acc.get('fp32') as number;
  console.log(
    `\n${path} — MNIST test accuracy (10,000) and latency per batch of 64, onnxruntime-node (nT) and onnxruntime-web (web) (median of ${repeats} rounds)`,
  );
  const head = ['variant', 'bytes', 'accuracy', 'drop (pts)', ...columns.flatMap((c) => [`ms ${c.label}`, `× fp32 ${c.label}`])];
  const rows = variants.map(([name, m]) => {
    const cells = [
      name,
      encodeModel(m).length.toLocaleString('en-US'),
      `${(100 * (acc.get(name) as number)).toFixed(2)}%`,
      (100 * (base - (acc.get(name) as number))).toFixed(2),
    ];
    for (const c of columns) {
      const row = rowsOut.find((r) => r.name === name && r.backend === c.backend && r.threads === c.threads);
      cells.push(row?.ms.toFixed(3) ?? '-', row?.speedup.toFixed(2) ?? '-');
    }
    return cells;
  });
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] as string).length)));
  const line = (cells: string[]): string => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i] as number) : c.padStart(widths[i] as number))).join('  ');
  console.log(line(head));
  for (const r of rows) console.log(line(r));
}
