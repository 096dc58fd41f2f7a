// Why the LSTM/GRU gradient rules unroll the sequence instead of emitting an ONNX Scan: the one
// part of the backward that must run step by step (dH·R and the cell-state carry) built both ways,
// same ops per step, timed side by side in onnxruntime-node (fresh sessions, medians), outputs
// compared. Everything else in the rules is batched over all steps either way.
// usage: node dist/bench/recurrent-scan.js [T=28] [batch=64] [hidden=64] [threads=1] [runs=300]
import { attr, Graph, GraphBuilder, makeModel } from '../src/ir/graph.js';
import { Tensor } from '../src/ir/tensor.js';
import { median } from '../src/runtime/latency.js';
import { Session } from '../src/runtime/session.js';

const [T = 28, B = 64, H = 64, threads = 1, runs = 300] = process.argv.slice(2).map(Number);

function random(dims: number[], seed: number): Tensor {
  let s = seed;
  const n = dims.reduce((a, d) => a * d, 1);
  return Tensor.fromArray(
    'float32',
    dims,
    Array.from({ length: n }, () => {
      s = (s * 1103515245 + 12345) % 2 ** 31;
      return (s / 2 ** 31) * 0.2 - 0.1;
    }),
  );
}

const inputs = { K: [T, B, 4 * H], A: [T, B, H], F: [T, B, H], dY: [T, B, H], R: [4 * H, H] };
function withInputs(name: string): Graph {
  const g = new Graph(name);
  for (const [k, dims] of Object.entries(inputs)) g.inputs.push({ name: k, dtype: 'float32', shape: dims });
  return g;
}

/** One backward step: dH = dY + dHrec, dC = carry + dH·A, dpre = [dC, dH, dC, dC]·K, dHrec' = dpre·R, carry' = dC·f. */
function step(b: GraphBuilder, dY: string, A: string, K: string, F: string, R: string, dHrec: string | undefined, carry: string | undefined): string[] {
  const dH = dHrec === undefined ? dY : b.op1('Add', [dY, dHrec]);
  const dHA = b.op1('Mul', [dH, A]);
  const dC = carry === undefined ? dHA : b.op1('Add', [carry, dHA]);
  const dPre = b.op1('Mul', [b.op1('Concat', [dC, dH, dC, dC], { axis: attr.int(-1) }), K]);
  return [b.op1('MatMul', [dPre, R]), b.op1('Mul', [dC, F]), dPre];
}

function unrolled(): Graph {
  const g = withInputs('unrolled');
  const b = new GraphBuilder(g, 'u');
  const split = (v: string): string[] => b.op('Split', [v], { axis: attr.int(0) }, T);
  const [Ks, As, Fs, dYs] = [split('K'), split('A'), split('F'), split('dY')];
  const dPre: string[] = new Array(T);
  let dHrec: string | undefined;
  let carry: string | undefined;
  for (let t = T - 1; t >= 0; t--) {
    [dHrec, carry, dPre[t] as string] = step(b, dYs[t] as string, As[t] as string, Ks[t] as string, Fs[t] as string, 'R', dHrec, carry) as [
      string,
      string,
      string,
    ];
  }
  b.op('Concat', dPre, { axis: attr.int(0) }, ['dpre']);
  g.outputs.push({ name: 'dpre', dtype: 'float32', shape: [T, B, 4 * H] });
  return g;
}

function scan(): Graph {
  const body = new Graph('step');
  const bb = new GraphBuilder(body, 's');
  body.inputs.push(
    { name: 'dHrec', dtype: 'float32', shape: [B, H] },
    { name: 'carry', dtype: 'float32', shape: [B, H] },
    { name: 'K_t', dtype: 'float32', shape: [B, 4 * H] },
    { name: 'A_t', dtype: 'float32', shape: [B, H] },
    { name: 'F_t', dtype: 'float32', shape: [B, H] },
    { name: 'dY_t', dtype: 'float32', shape: [B, H] },
  );
  const [next, carryNext, dPre] = step(bb, 'dY_t', 'A_t', 'K_t', 'F_t', 'R', 'dHrec', 'carry') as [string, string, string];
  body.outputs.push(
    { name: next, dtype: 'float32', shape: [B, H] },
    { name: carryNext, dtype: 'float32', shape: [B, H] },
    { name: dPre, dtype: 'float32', shape: [B, 4 * H] },
  );
  const g = withInputs('scan');
  const b = new GraphBuilder(g, 'o');
  const zeros = b.constant(new Tensor('float32', [B, H]), 'zeros');
  b.op(
    'Scan',
    [zeros, zeros, 'K', 'A', 'F', 'dY'],
    { body: attr.graph(body), num_scan_inputs: attr.int(4), scan_input_directions: attr.ints([1, 1, 1, 1]), scan_output_directions: attr.ints([1]) },
    ['hN', 'cN', 'dpre'],
  );
  g.outputs.push({ name: 'dpre', dtype: 'float32', shape: [T, B, 4 * H] });
  return g;
}

const feeds = Object.fromEntries(Object.entries(inputs).map(([k, dims], i) => [k, random(dims, i + 1)]));
const results: Record<string, { ms: number; out: Float32Array }> = {};
// Alternate the two forms in rounds so machine noise hits both.
const times: Record<string, number[]> = { unrolled: [], scan: [] };
// CPU time per run as well: on a loaded machine wall time mostly measures waiting for a core.
const cpu: Record<string, number[]> = { unrolled: [], scan: [] };
const outs: Record<string, Float32Array> = {};
for (let round = 0; round < 3; round++) {
  for (const [name, graph] of [
    ['unrolled', unrolled()],
    ['scan', scan()],
  ] as const) {
    const s = await Session.create(makeModel(graph), { threads });
    for (let i = 0; i < 30; i++) await s.run(feeds);
    const c0 = process.cpuUsage();
    const n = Math.ceil(runs / 3);
    for (let i = 0; i < n; i++) {
      const t0 = performance.now();
      const r = await s.run(feeds);
      (times[name] as number[]).push(performance.now() - t0);
      outs[name] = r['dpre']?.data as Float32Array;
    }
    const c = process.cpuUsage(c0);
    (cpu[name] as number[]).push((c.user + c.system) / 1000 / n);
    await s.release();
  }
}
for (const name of ['unrolled', 'scan']) results[name] = { ms: median(times[name] as number[]), out: outs[name] as Float32Array };
let maxDiff = 0;
const [u, sc] = [results['unrolled']?.out as Float32Array, results['scan']?.out as Float32Array];
for (let i = 0; i < u.length; i++) maxDiff = Math.max(maxDiff, Math.abs((u[i] as number) - (sc[i] as number)));
const ms = (n: string): number => results[n]?.ms as number;
const cpuMs = (n: string): number => median(cpu[n] as number[]);
process.stdout.write(
  `LSTM backward recurrence, T=${T} batch=${B} hidden=${H}, ${threads} thread(s), ${runs} runs in 3 alternating rounds\n\n` +
    '| form | wall ms (median) | CPU ms per run (median of rounds) | wall vs unrolled | CPU vs unrolled |\n|---|---|---|---|---|\n' +
    ['unrolled', 'scan']
      .map(
        (n) =>
          `| ${n} | ${ms(n).toFixed(3)} | ${cpuMs(n).toFixed(3)} | ${(ms(n) / ms('unrolled')).toFixed(2)}× | ${(cpuMs(n) / cpuMs('unrolled')).toFixed(2)}× |`,
      )
      .join('\n') +
    `\n\noutputs agree to ${maxDiff.toExponential(1)}\n`,
);
