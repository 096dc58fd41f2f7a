// Issue 10's size and speed targets over the test corpus (PyTorch exports, test/fixtures/corpus),
// through the CLI a user runs. Sizes: static int8 (QDQ, calibrated on the model's own .npy input
// file) and fp16 bytes against the fp32 file, for every opset-17 model (targets: int8 ≤ 30%, fp16
// ≤ 55%). Speed (CNN classifiers): `whittle bench` medians of fresh sessions, fp32 and int8
// alternating, at batch 1 and 32, onnxruntime-node at 1 and 2 threads; the × column is fp32 ms /
// int8 ms (> 1.00: int8 faster; target ≥ 1.00 everywhere). The int8 model of the speed table is
// `quantize --keep-float auto` (each layer in int8 only where onnxruntime's int8 kernel is not
// slower here; see src/pipeline/quantize-speed.ts): the table says which form it kept and how many
// layers/QDQ nodes stayed float; the plain all-int8 file is timed beside it (ALL_INT8=0 leaves it
// out). Prints tables, never asserts.
// usage: node dist/bench/quant-corpus.js [sizes] [speed]   (both by default; after node scripts/build.mjs)
// env: ROUNDS (5 bench rounds), RUNS (200 timed runs per session), OUT (a temp dir), MODELS (comma-separated names),
//      ALL_INT8 (1: also time the all-int8 file), SPEED_AT (--speed-at for --keep-float auto; default its own 1x1,1x2,32x1,32x2)
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

interface ManifestModel {
  file: string;
  name: string;
  opset: number;
  kind: string;
  input_file?: string;
}

const CORPUS = 'test/fixtures/corpus';
const CLI = 'dist/src/cli/main.js';
const what = process.argv.slice(2);
const doSizes = what.length === 0 || what.includes('sizes');
const doSpeed = what.length === 0 || what.includes('speed');
const rounds = process.env['ROUNDS'] ?? '5';
const runs = process.env['RUNS'] ?? '200';
const out = process.env['OUT'] ?? mkdtempSync(join(tmpdir(), 'whittle-quant-corpus-'));
const only = process.env['MODELS']?.split(',');

const manifest = JSON.parse(readFileSync(join(CORPUS, 'manifest.json'), 'utf8')) as { models: ManifestModel[] };
const models = manifest.models.filter((m) => m.opset === 17 && m.input_file !== undefined && (only === undefined || only.includes(m.name)));

function whittle(args: string[]): Record<string, unknown> {
  const r = spawnSync(process.execPath, [CLI, ...args, '--json'], { encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new Error(`whittle ${args.join(' ')} failed (${r.status}): ${r.stderr.trim().split('\n').pop()}`);
  return JSON.parse(r.stdout) as Record<string, unknown>;
}

function printTable(title: string, rows: string[][]): void {
  const widths = (rows[0] as string[]).map((_, i) => Math.max(...rows.map((r) => (r[i] as string).length)));
  process.stdout.write(`\n${title}\n`);
  for (const r of rows) process.stdout.write(`${r.map((c, i) => (i === 0 ? c.padEnd(widths[i] as number) : c.padStart(widths[i] as number))).join('  ')}\n`);
}

const pct = (a: number, b: number): string => `${((100 * a) / b).toFixed(1)}%`;
const int8Files = new Map<string, string>();
const sizeRows = [['model', 'fp32 B', 'int8 B', 'int8 %', '≤30%', 'fp16 B', 'fp16 %', '≤55%', 'int8 agreement']];
for (const m of models) {
  if (!doSizes && m.kind !== 'classifier') continue;
  const src = join(CORPUS, m.file);
  const data = join(CORPUS, m.input_file as string);
  const fp32 = statSync(src).size;
  const int8 = join(out, `${m.name}.int8.onnx`);
  const fp16 = join(out, `${m.name}.fp16.onnx`);
  let q: Record<string, unknown> | undefined;
  try {
    q = whittle(['quantize', '--model', src, '--data', data, '--calibration-samples', '16', '--threads', '1', '--out', int8]);
    int8Files.set(m.name, int8);
  } catch (e) {
    process.stderr.write(`${m.name}: ${(e as Error).message}\n`);
  }
  if (!doSizes) continue;
  whittle(['quantize', '--model', src, '--format', 'fp16', '--out', fp16]);
  const i8 = q === undefined ? undefined : statSync(int8).size;
  const f16 = statSync(fp16).size;
  const agreement = (q?.['agreement'] as { outputs?: { name: string; top1?: number; cosine?: number }[] } | undefined)?.outputs?.[0];
  sizeRows.push([
    m.name,
    fp32.toLocaleString('en-US'),
    i8?.toLocaleString('en-US') ?? 'failed',
    i8 === undefined ? '' : pct(i8, fp32),
    i8 !== undefined && i8 <= 0.3 * fp32 ? 'yes' : 'NO',
    f16.toLocaleString('en-US'),
    pct(f16, fp32),
    f16 <= 0.55 * fp32 ? 'yes' : 'NO',
    agreement === undefined
      ? ''
      : `${agreement.top1 !== undefined ? `top-1 ${(100 * agreement.top1).toFixed(1)}%, ` : ''}cos ${agreement.cosine?.toFixed(4) ?? '?'}`,
  ]);
}
if (doSizes) printTable(`File sizes (static int8 QDQ calibrated on 16 samples; fp16), opset 17, files in ${out}`, sizeRows);

interface AutoChoice {
  form: string;
  margin: number;
  rows: { form: string; vsFp32: number }[];
  keepFloat: string[];
  units: { name: string; op: string; int8: boolean }[];
}

if (doSpeed) {
  const withAllInt8 = (process.env['ALL_INT8'] ?? '1') !== '0';
  const header = [
    'model',
    'batch',
    'threads',
    'fp32 ms',
    'int8 ms',
    '× (fp32/int8)',
    ...(withAllInt8 ? ['all-int8 ms', '× all-int8'] : []),
    'form kept',
    'float / units',
  ];
  const speedRows = [header];
  const ratios: number[] = [];
  const kept = new Map<string, AutoChoice>();
  for (const m of models.filter((x) => x.kind === 'classifier')) {
    const src = join(CORPUS, m.file);
    const auto = join(out, `${m.name}.int8-auto.onnx`);
    let choice: AutoChoice;
    const t0 = performance.now();
    try {
      const q = whittle([
        'quantize',
        '--model',
        src,
        '--data',
        join(CORPUS, m.input_file as string),
        '--calibration-samples',
        '16',
        '--keep-float',
        'auto',
        ...(process.env['SPEED_AT'] === undefined ? [] : ['--speed-at', process.env['SPEED_AT']]),
        '--quiet',
        '--out',
        auto,
      ]);
      choice = q['keepFloatAuto'] as AutoChoice;
    } catch (e) {
      process.stderr.write(`${m.name}: ${(e as Error).message}\n`);
      continue;
    }
    kept.set(m.name, choice);
    process.stderr.write(`${m.name}: --keep-float auto kept ${choice.form} in ${((performance.now() - t0) / 1000).toFixed(1)} s\n`);
    const floatCount = choice.units.filter((u) => !u.int8).length;
    const shownFloat =
      choice.form === 'all-int8'
        ? `0 / ${choice.units.length}`
        : choice.form === 'float-compute'
          ? `all ${choice.units.length}`
          : `${floatCount} / ${choice.units.length}`;
    for (const batch of ['1', '32']) {
      const files = [src, auto, ...(withAllInt8 && int8Files.has(m.name) ? [int8Files.get(m.name) as string] : [])];
      const r = whittle(['bench', ...files.flatMap((f) => ['--model', f]), '--threads', '1,2', '--batch', batch, '--rounds', rounds, '--runs', runs]) as {
        rows: { model: string; threads: number; msPerBatch: number }[];
      };
      for (const threads of [1, 2]) {
        const [f, q, a] = [0, 1, 2].map((i) => r.rows.filter((x) => x.threads === threads)[i]?.msPerBatch ?? Number.NaN) as [number, number, number];
        ratios.push(f / q);
        speedRows.push([
          m.name,
          batch,
          String(threads),
          f.toFixed(3),
          q.toFixed(3),
          (f / q).toFixed(2),
          ...(withAllInt8 ? [Number.isNaN(a) ? '' : a.toFixed(3), Number.isNaN(a) ? '' : (f / a).toFixed(2)] : []),
          choice.form,
          shownFloat,
          pct(statSync(auto).size, statSync(src).size),
        ]);
      }
    }
  }
  printTable(
    `Inference latency, onnxruntime-node, median of ${rounds} rounds × ${runs} runs (fresh sessions, models alternating); int8 = quantize --keep-float auto`,
    speedRows,
  );
  const sorted = [...ratios].sort((a, b) => a - b);
  const med = sorted.length === 0 ? Number.NaN : ((sorted[(sorted.length - 1) >> 1] as number) + (sorted[sorted.length >> 1] as number)) / 2;
  process.stdout.write(
    `\nint8 (auto) at least as fast as fp32 (× ≥ 1.00) in ${ratios.filter((x) => x >= 1).length} of ${ratios.length} cells; within 5% (× ≥ 0.95) in ${ratios.filter((x) => x >= 0.95).length}; median × ${med.toFixed(2)}\n`,
  );
  process.stdout.write(
    '\nLayers and QDQ nodes left in float (computed from int8-stored weights) by --keep-float auto (its margin is max(1.03, the fp32 / float-compute gap: the same graph, so the noise)):\n',
  );
  for (const [name, c] of kept) {
    const floats = c.units.filter((u) => !u.int8);
    const list =
      c.form === 'all-int8'
        ? 'none'
        : c.form === 'float-compute'
          ? 'all (int8 storage only: no int8 kernel was faster here)'
          : floats.map((u) => `${u.op} ${u.name}`).join(', ');
    // What auto measured itself (geometric mean over its targets) and the margin an int8 form needed over float-compute.
    const seen = c.rows
      .slice(1)
      .map((r) => `${r.form} ${r.vsFp32.toFixed(2)}×`)
      .join(', ');
    process.stdout.write(`  ${name} (${c.form}; auto timed ${seen} fp32, int8 needed > ${c.margin.toFixed(2)}× float-compute): ${list}\n`);
  }
}
