// `whittle export --web DIR --model M.wtl|M.onnx`: a static page that runs the model in the
// browser with onnxruntime-web — the Deep Compression container decoded in the page, the dense
// ONNX beside it, the test set (MNIST/CIFAR bytes, or the user's own samples as float32) shipped
// compressed to measure accuracy there.
import { existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { deflateRawSync } from 'node:zlib';
import type { Command } from 'commander';
import { readContainer } from '../compress/codec/index.js';
import type { TensorDataset } from '../data/index.js';
import { firstSamples, loadDataForModel, normalizeValue, subset } from '../data/index.js';
import { WhittleError } from '../ir/errors.js';
import type { Model } from '../ir/graph.js';
import { writeFileAtomic } from '../ir/io.js';
import { encodeModel } from '../ir/onnx.js';
import type { WebManifest } from '../web/manifest.js';
import { emit, addSummary, int } from './flags.js';
import { isOwnData, loadData, loadModel, refuseNormalize, resolveNormalization } from './load.js';

/** The bundled page (scripts/build.mjs writes it): dist/src/cli → dist/web. */
const PAGE_DIR = fileURLToPath(new URL('../../web/', import.meta.url));
/** onnxruntime-web's single-threaded WebAssembly build: the script, its loader and the binary. */
const ORT_FILES = ['ort.wasm.min.js', 'ort-wasm-simd-threaded.mjs', 'ort-wasm-simd-threaded.wasm'];

function ortDistDir(): string {
  let main: string;
  try {
    main = createRequire(import.meta.url).resolve('onnxruntime-web');
  } catch (e) {
    throw new WhittleError(
      'MISSING_DEPENDENCY',
      `export --web copies onnxruntime-web's WebAssembly files: run npm install onnxruntime-web (${(e as Error).message})`,
      { cause: e },
    );
  }
  let dir = dirname(main);
  while (!existsSync(join(dir, ORT_FILES[0] as string)) && dirname(dir) !== dir) dir = join(dir, 'dist');
  for (const f of ORT_FILES)
    if (!existsSync(join(dir, f))) throw new WhittleError('MISSING_DEPENDENCY', `onnxruntime-web has no ${f} in ${dir}; reinstall onnxruntime-web`);
  return dir;
}

interface ExportFlags {
  web?: string;
  model: string;
  data?: string;
  evalLimit?: number;
  normalize?: string;
  json?: boolean;
}

function copy(from: string, to: string): number {
  const bytes = readFileSync(from);
  writeFileAtomic(to, [bytes]);
  return bytes.length;
}

/**
 * Writes the page, the model files, onnxruntime-web's files and the compressed test set to `dir`.
 *
 * ```ts
 * const r = exportWebPage('site', { model: 'dc/model.wtl' });
 * ```
 */
export function exportWebPage(dir: string, f: Omit<ExportFlags, 'web' | 'json'>): Record<string, unknown> {
  if (!existsSync(join(PAGE_DIR, 'whittle-web.js')))
    throw new WhittleError('IO', `the page bundle ${join(PAGE_DIR, 'whittle-web.js')} is missing; run npm run build`);
  if (!existsSync(f.model))
    throw new WhittleError('BAD_ARGUMENT', `--model ${f.model}: no such file; pass a .wtl container (whittle compress) or an .onnx model`);
  if (existsSync(dir) && !statSync(dir).isDirectory())
    throw new WhittleError('BAD_ARGUMENT', `--web ${dir} is a file; pass a directory (it is created if missing)`);
  const ortDir = ortDistDir();
  mkdirSync(dir, { recursive: true });
  const isContainer = f.model.endsWith('.wtl') || readFileSync(f.model).subarray(0, 4).toString('latin1') === 'WTLC';
  let model: Model;
  const models: WebManifest['models'] = [];
  if (isContainer) {
    model = readContainer(f.model).model;
    const wtl = copy(f.model, join(dir, 'model.wtl'));
    const onnx = encodeModel(model);
    writeFileAtomic(join(dir, 'model.onnx'), [onnx]);
    models.push({ id: 'compressed', label: 'Deep Compression container', file: 'model.wtl', bytes: wtl, format: 'wtl' });
    models.push({ id: 'dense', label: 'Dense float32 ONNX', file: 'model.onnx', bytes: onnx.length, format: 'onnx', lazy: true });
  } else {
    model = loadModel(f.model).model;
    const onnx = copy(f.model, join(dir, 'model.onnx'));
    models.push({ id: 'dense', label: `ONNX (${basename(f.model)})`, file: 'model.onnx', bytes: onnx, format: 'onnx' });
  }
  const input = model.graph.inputs[0];
  const inputShape = input?.shape.slice(1) ?? [];
  if (input === undefined || !inputShape.every((d): d is number => typeof d === 'number' && d > 0)) {
    throw new WhittleError(
      'BAD_ARGUMENT',
      `${f.model}: the page feeds image batches, but the model's input is ${input === undefined ? 'missing' : `${input.name} [${input.shape.join(', ')}]`}; export a model with one input [N, ...sample shape]`,
    );
  }
  const sampleSize = inputShape.reduce((a, d) => a * d, 1);
  const own = isOwnData(f.data);
  if (own) refuseNormalize(f.normalize, f.data as string);
  const normalization = own ? 'none' : resolveNormalization(f.normalize, model);
  const shipped = own ? ownTestSet(model, f.data as string, sampleSize, f.evalLimit) : imageTestSet(f.model, f.data, sampleSize, f.evalLimit);
  writeFileAtomic(join(dir, 'test-set.bin'), [shipped.bytes]);
  const manifest: WebManifest = {
    title: `Whittle: ${basename(f.model)} in the browser`,
    models,
    inputShape,
    normalization: { name: normalization, table: Array.from({ length: 256 }, (_, v) => normalizeValue(v, normalization)) },
    test: { file: 'test-set.bin', count: shipped.count, sampleSize, bytes: shipped.bytes.length, dtype: shipped.dtype, labelled: shipped.labelled },
    // The drawing pad makes MNIST-like digits: 28×28 bytes of one channel.
    drawable: !own && inputShape.join('x') === '1x28x28',
  };
  writeFileAtomic(join(dir, 'manifest.json'), [new TextEncoder().encode(`${JSON.stringify(manifest, null, 1)}\n`)]);
  for (const file of ['index.html', 'whittle-web.js']) copy(join(PAGE_DIR, file), join(dir, file));
  let runtimeBytes = 0;
  for (const file of ORT_FILES) runtimeBytes += copy(join(ortDir, file), join(dir, file));
  return {
    out: dir,
    page: join(dir, 'index.html'),
    models,
    testSamples: shipped.count,
    testBytes: shipped.bytes.length,
    testDtype: shipped.dtype,
    labelled: shipped.labelled,
    runtimeBytes,
    normalize: normalization,
  };
}

interface ShippedSamples {
  bytes: Uint8Array;
  count: number;
  dtype: 'uint8' | 'float32';
  labelled: boolean;
}

/** MNIST/CIFAR test images as bytes, each followed by its label byte; deflated. */
function imageTestSet(modelPath: string, dataDir: string | undefined, sampleSize: number, limit: number | undefined): ShippedSamples {
  const data = loadData(dataDir).test;
  const test = limit !== undefined ? subset(data, 0, Math.min(limit, data.count)) : data;
  if (sampleSize !== test.images.length / test.count)
    throw new WhittleError(
      'BAD_ARGUMENT',
      `${modelPath} takes ${sampleSize} values per sample but the test set's samples have ${test.images.length / test.count}; pass the matching --data`,
    );
  // Level 6: 1.64 MB for MNIST's test set in 0.3 s; level 9 saves 2% and takes 20 times longer.
  const bytes = deflateRawSync(Buffer.concat([test.images.subarray(0, test.count * sampleSize), test.labels.subarray(0, test.count)]), { level: 6 });
  return { bytes, count: test.count, dtype: 'uint8', labelled: true };
}

/** The user's own samples as the model reads them: float32, then int32 labels when they have them (little-endian); deflated. */
function ownTestSet(model: Model, path: string, sampleSize: number, limit: number | undefined): ShippedSamples {
  const all: TensorDataset = loadDataForModel(model, path);
  const ds = limit !== undefined ? firstSamples(all, limit) : all;
  const input = ds.inputs[0];
  if (ds.inputs.length !== 1 || input === undefined || input.dtype !== 'float32')
    throw new WhittleError(
      'BAD_ARGUMENT',
      `--data ${path}: the page feeds one float32 input; these samples hold ${ds.inputs.map((t) => `${t.name} (${t.dtype})`).join(', ')}`,
    );
  const floats = (input.data as Float32Array).subarray(0, ds.count * sampleSize);
  const parts = [new Uint8Array(floats.buffer, floats.byteOffset, floats.byteLength)];
  if (ds.labels !== undefined) parts.push(new Uint8Array(ds.labels.buffer, ds.labels.byteOffset, 4 * ds.count));
  return { bytes: deflateRawSync(Buffer.concat(parts), { level: 6 }), count: ds.count, dtype: 'float32', labelled: ds.labels !== undefined };
}

export function registerExportCommands(program: Command): void {
  program
    .command('export')
    .description('deployment forms; --web DIR: a static page that runs the model in the browser (onnxruntime-web), the container decoded in the page')
    .requiredOption('--model <file.wtl|file.onnx>', 'a Deep Compression container (whittle compress) or an .onnx model')
    .option('--web <dir>', 'write a static page to DIR: pick or draw a digit, see the prediction, bytes and latency, compressed vs dense')
    .option(
      '--data <path>',
      "the samples shipped with the page: an MNIST/CIFAR directory's test split (default: the bundled MNIST), or your own samples (.npy, .npz, JSONL, an image folder) as the model reads them, fed as read",
    )
    .option('--eval-limit <n>', 'ship only the first N samples', int('--eval-limit', 1))
    .option('--normalize <how>', 'input normalization (default: what the model recorded, else x/255)')
    .option('--json', 'print one JSON object on stdout')
    .action((f: ExportFlags) => {
      if (f.web === undefined)
        throw new WhittleError('BAD_ARGUMENT', 'whittle export needs --web DIR (the other forms: whittle quantize --format, whittle compress)');
      const r = exportWebPage(f.web, f);
      const models = r['models'] as WebManifest['models'];
      addSummary(
        `export: wrote ${String(r['page'])} (${models.map((m) => `${m.file} ${m.bytes.toLocaleString('en-US')} bytes`).join(', ')}; ${String(r['testSamples'])} test images in ${Number(r['testBytes']).toLocaleString('en-US')} bytes); serve ${f.web} with any static file server and open it\n`,
      );
      emit(Boolean(f.json), r);
    });
}
