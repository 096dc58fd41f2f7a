// onnxruntime's practical fp32 ceiling on this machine, measured in the same run as the training
// benchmark: one MatMul of two N×N matrices, timed after a warm-up. Prints one JSON line.
// usage: node dist/bench/matmul-ceiling.js THREADS [N]
import { Graph, makeModel } from '../src/ir/graph.js';
import { Tensor } from '../src/ir/tensor.js';
import { Session } from '../src/runtime/session.js';

const threads = Number(process.argv[2] ?? '1');
const n = Number(process.argv[3] ?? '1024');
const g = new Graph('matmul');
g.inputs.push({ name: 'a', dtype: 'float32', shape: [n, n] }, { name: 'b', dtype: 'float32', shape: [n, n] });
g.nodes.push({ name: 'mm', opType: 'MatMul', domain: '', inputs: ['a', 'b'], outputs: ['c'], attributes: {} });
g.outputs.push({ name: 'c', dtype: 'float32', shape: [n, n] });
const session = await Session.create(makeModel(g), { threads });
const fill = (): Tensor =>
  new Tensor(
    'float32',
    [n, n],
    Float32Array.from({ length: n * n }, (_, i) => ((i * 7919) % 1000) / 1000 - 0.5),
  );
const feeds = { a: fill(), b: fill() };
for (let i = 0; i < 3; i++) await session.run(feeds);
// Best of several short timings: the ceiling is what the kernels reach when the core is free.
let best = Number.POSITIVE_INFINITY;
for (let rep = 0; rep < 5; rep++) {
  const reps = 4;
  const t0 = performance.now();
  for (let i = 0; i < reps; i++) await session.run(feeds);
  best = Math.min(best, (performance.now() - t0) / 1000 / reps);
}
await session.release();
process.stdout.write(`${JSON.stringify({ engine: 'onnxruntime-matmul', threads, n, gflops: (2 * n ** 3) / best / 1e9 })}\n`);
