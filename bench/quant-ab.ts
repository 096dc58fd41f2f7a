// Side-by-side latency of a few model files at one batch (quick A/B of quantization choices):
// compareLatency as `whittle bench` runs it (fresh sessions, files as shipped, alternating, medians).
// usage: node dist/bench/quant-ab.js DATA.npy BATCH THREADS(1,2) FILE.onnx FILE.onnx ...   env: ROUNDS (3), RUNS (10), WARMUP (3)
import { readFileSync } from 'node:fs';
import { loadDataForModel, tensorBatch } from '../src/data/index.js';
import type { Tensor } from '../src/ir/tensor.js';
import { loadModel } from '../src/load.js';
import { compareLatency } from '../src/runtime/latency.js';

const [data = '', batch = '1', threads = '1', ...files] = process.argv.slice(2);
const model = loadModel(files[0] as string);
const input = model.graph.inputs[0]?.name as string;
const feeds = { [input]: tensorBatch(loadDataForModel(model, data), 0, Number(batch)).feeds[input] as Tensor };
const rows = await compareLatency(
  files.map((f) => ({ name: f, model: new Uint8Array(readFileSync(f)), feeds })),
  threads.split(',').map((t) => ({ backend: 'node' as const, threads: Number(t) })),
  { rounds: Number(process.env['ROUNDS'] ?? '3'), runs: Number(process.env['RUNS'] ?? '10'), warmup: Number(process.env['WARMUP'] ?? '3') },
);
for (const r of rows) process.stdout.write(`b${batch} ${r.threads}T ${r.ms.toFixed(2).padStart(9)} ms  ×${r.speedup.toFixed(2)}  ${r.name}\n`);
// PROFILE=1: also each file's kernel µs per run by op type (onnxruntime's profiler, first thread count).
if (process.env['PROFILE'] === '1') {
  const { profileNodes } = await import('../src/runtime/profile.js');
  for (const f of files) {
    const p = await profileNodes(new Uint8Array(readFileSync(f)), feeds, {
      threads: Number(threads.split(',')[0]),
      warmup: 2,
      runs: Number(process.env['RUNS'] ?? '10'),
    });
    const byOp = new Map<string, number>();
    for (const n of p.nodes) byOp.set(n.op, (byOp.get(n.op) ?? 0) + n.us);
    const ops = [...byOp].sort((a, b) => b[1] - a[1]).map(([op, us]) => `${op} ${(us / 1000).toFixed(2)}`);
    process.stdout.write(`${f}: ${(p.nodes.reduce((a, n) => a + n.us, 0) / 1000).toFixed(2)} ms kernels; ${ops.join(', ')}\n`);
    for (const n of p.nodes.slice(0, Number(process.env['TOP'] ?? '0')))
      process.stdout.write(`   ${(n.us / 1000).toFixed(2).padStart(7)}  ${n.op.padEnd(20)} ${n.name}\n`);
  }
}
// CPU=1: process CPU ms per run at one thread (median of ROUNDS fresh sessions, files alternating):
// on a machine other jobs load, CPU time moves far less than wall time.
if (process.env['CPU'] === '1') {
  const { Session } = await import('../src/runtime/session.js');
  const { median } = await import('../src/runtime/latency.js');
  const cpu = new Map<string, number[]>(files.map((f) => [f, []]));
  for (let r = 0; r < Number(process.env['ROUNDS'] ?? '3'); r++)
    for (const f of files) {
      const s = await Session.create(new Uint8Array(readFileSync(f)), { threads: 1 });
      for (let i = 0; i < Number(process.env['WARMUP'] ?? '3'); i++) await s.run(feeds);
      const runs = Number(process.env['RUNS'] ?? '10');
      const c0 = process.cpuUsage();
      for (let i = 0; i < runs; i++) await s.run(feeds);
      const c = process.cpuUsage(c0);
      cpu.get(f)?.push((c.user + c.system) / 1000 / runs);
      await s.release();
    }
  const base = median(cpu.get(files[0] as string) ?? []);
  for (const f of files) {
    const m = median(cpu.get(f) ?? []);
    process.stdout.write(`b${batch} 1T cpu ${m.toFixed(2).padStart(9)} ms  ×${(base / m).toFixed(2)}  ${f}\n`);
  }
}
