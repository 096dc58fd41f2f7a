// A 100,000-node model through `whittle info`, `whittle eval` and `whittle quantize --scheme
// dynamic`, each in a fresh process under /usr/bin/time -v: CPU seconds (user + sys), wall
// seconds and peak memory per command, medians of BENCH_REPEATS runs (issue 15's target: each
// under 10 s on 2 cores). The model is an MNIST classifier (MatMul + Add on 784 inputs) followed
// by a chain of Identity nodes, so every whole-model pass (decode, validate, fold, encode,
// session) sees 100,000 nodes while the arithmetic stays trivial. Prints, never asserts.
// usage: node dist/bench/large-graph.js [nodes]   (default 100000)
// env: BENCH_REPEATS (3), BENCH_KEEP=1 keeps the temporary folder
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { saveModel } from '../src/ir/io.js';
import { median } from '../src/runtime/latency.js';
import { identityChainModel } from '../test/chain-model.js';

const CLI = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));

interface Timing {
  cpuS: number;
  wallS: number;
  rssMb: number;
  ok: boolean;
}

function timed(args: string[], cwd: string): Timing {
  const r = spawnSync('/usr/bin/time', ['-v', process.execPath, CLI, ...args], { cwd, encoding: 'utf8', timeout: 600_000 });
  const field = (name: string): number =>
    Number(
      new RegExp(`${name}: ([\\d.:]+)`)
        .exec(r.stderr)?.[1]
        ?.split(':')
        .reduce((a, p) => a * 60 + Number(p), 0) ?? NaN,
    );
  const ok = r.status === 0;
  if (!ok) process.stderr.write(`bench: whittle ${args.join(' ')} failed (${r.status}): ${r.stderr.split('\n').slice(0, 3).join(' | ')}\n`);
  return {
    cpuS: field('User time \\(seconds\\)') + field('System time \\(seconds\\)'),
    wallS: field('Elapsed \\(wall clock\\) time \\(h:mm:ss or m:ss\\)'),
    rssMb: field('Maximum resident set size \\(kbytes\\)') / 1024,
    ok,
  };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const nodes = Number(process.argv[2] ?? 100_000);
  const repeats = Number(process.env['BENCH_REPEATS'] ?? 3);
  const dir = mkdtempSync(join(tmpdir(), 'whittle-large-graph-'));
  const model = join(dir, 'chain.onnx');
  saveModel(identityChainModel(nodes), model);
  process.stderr.write(`bench: ${model}: ${nodes} Identity nodes, ${(statSync(model).size / 1e6).toFixed(2)} MB\n`);
  const commands: [string, string[]][] = [
    ['info', ['info', '--model', model, '--json']],
    ['eval', ['eval', '--model', model, '--eval-limit', '1000', '--json']],
    ['quantize dynamic', ['quantize', '--model', model, '--scheme', 'dynamic', '--eval-limit', '1000', '--out', join(dir, 'q.onnx'), '--json']],
  ];
  const rows = [['command', 'CPU s (user+sys)', 'wall s', 'peak MB', 'runs']];
  for (const [label, args] of commands) {
    const ts: Timing[] = [];
    for (let i = 0; i < repeats; i++) {
      if (existsSync(join(dir, 'q.onnx'))) rmSync(join(dir, 'q.onnx'));
      ts.push(timed(args, dir));
    }
    const good = ts.filter((t) => t.ok);
    rows.push([
      label,
      median(good.map((t) => t.cpuS)).toFixed(2),
      median(good.map((t) => t.wallS)).toFixed(2),
      median(good.map((t) => t.rssMb)).toFixed(0),
      `${good.length}/${ts.length}`,
    ]);
  }
  const widths = (rows[0] as string[]).map((_, c) => Math.max(...rows.map((r) => (r[c] ?? '').length)));
  for (const r of rows) process.stdout.write(`${r.map((v, c) => v.padStart(widths[c] ?? 0)).join('  ')}\n`);
  process.stdout.write(`(medians of ${repeats}; target: each under 10 s on 2 cores)\n`);
  if (process.env['BENCH_KEEP'] === '1') process.stderr.write(`bench: kept ${dir}\n`);
  else rmSync(dir, { recursive: true, force: true });
}
