// `whittle compress` (a Deep Compression recipe → container + runnable ONNX) and `whittle decode`
// (container → ONNX); the recipe's pipeline call is shared with `whittle demo`.
import { existsSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Command } from 'commander';
import type { Dataset, Normalization, TensorDataset } from '../data/index.js';
import { subset } from '../data/index.js';
import { readContainer } from '../compress/codec/index.js';
import { WhittleError } from '../ir/errors.js';
import type { Model } from '../ir/graph.js';
import { compressToContainer, denseParameterBytes, layerBreakdown, NORMALIZE_KEY, withSplit } from '../pipeline/index.js';
import type { ContainerRun, PipelineEvent } from '../pipeline/index.js';
import type { DeepCompressionRecipe } from '../recipe/deep-compression.js';
import { containerOptions, DEEP_COMPRESSION_PRESETS, loadDeepCompressionRecipe } from '../recipe/deep-compression.js';
import type { ImageFlags } from './flags.js';
import { addImageFlags, emit, addSummary, imageOptions, int } from './flags.js';
import { pipelineReporter } from './progress.js';
import { checkOwnDataFlags, loadData, loadModel, resolveNormalization, saveModel, zooShapeFor } from './load.js';
import type { RunLog } from '../train/run-log.js';
import { addLogFlag, openCommandLog, resolveLogPath } from './run-log.js';
import { checkRecipeModel, resolveRecipePath } from './recipes.js';
import type { HeldOut, SplitInfo, ValidationFlags } from './validation.js';
import { addValidationFlags, holdOutOwnData, holdOutValidation } from './validation.js';
import { formatTable } from './table.js';

/**
 * The recipe's training samples (its first `samples`), split into training and validation: MNIST
 * or CIFAR by the model's recorded split (else the recipe's seed), the user's own samples the same
 * way through `holdOutOwnData`.
 */
type CompressData = { held: HeldOut<Dataset | TensorDataset>; test: Dataset | TensorDataset };

/** A recipe on `model`: the recipe's pipeline call, with progress on stderr and stages in the log. */
async function runDeepCompression(
  model: Model,
  data: CompressData,
  recipe: DeepCompressionRecipe,
  o: { out: string; normalization: Normalization; threads?: number; label?: string; log?: RunLog },
): Promise<ContainerRun & { split: SplitInfo }> {
  const label = o.label ?? 'compress';
  const { held } = data;
  const events = pipelineReporter(label, o.log, { prefix: true });
  const onEvent = (e: PipelineEvent): void => {
    if (e.type === 'stage')
      process.stderr.write(
        `${label}: ${e.stage} — validation error ${(100 * (1 - e.accuracy)).toFixed(2)}% on ${held.validation.count} samples (${e.seconds.toFixed(1)} s)\n`,
      );
    events(e);
  };
  try {
    const run = await compressToContainer(
      withSplit(model, held.record),
      { train: held.train, validation: held.validation, test: data.test },
      { ...containerOptions(recipe, o), onEvent },
    );
    return { ...run, split: held.split };
  } finally {
    events.stop();
  }
}

/** MNIST/CIFAR for a recipe: its first `samples` training images, the model's split held out of them. */
function imageData(
  model: Model,
  data: { train: Dataset; test: Dataset },
  recipe: DeepCompressionRecipe,
  o: { fromFile: boolean; label: string },
  f: Partial<ValidationFlags> = {},
): CompressData {
  const all = recipe.samples !== undefined ? subset(data.train, 0, Math.min(recipe.samples, data.train.count)) : data.train;
  // Fine-tuning on the training side of the model's own split, each stage measured on its validation side.
  const held = holdOutValidation(all, { ...f, seed: recipe.seed, data: recipe.data }, { model: o.fromFile ? model : undefined, label: o.label });
  return { held, test: data.test };
}

const pct = (x: number): string => `${(100 * x).toFixed(2)}%`;
const kb = (n: number): string => `${(n / 1000).toFixed(1)} KB`;

/** Deep Compression's Table 1 for one network, plus the per-layer bytes, as text. */
export function compressionTable(name: string, run: ContainerRun): string {
  const base = run.baselineAccuracy;
  const rows = [
    ['Network', 'Top-1 error', 'Top-1 error (compressed)', 'Parameters', 'Original size', 'Compressed size', 'Ratio'],
    [
      name,
      pct(1 - base),
      pct(1 - run.accuracy),
      (run.denseBytes / 4).toLocaleString('en-US'),
      kb(run.denseBytes),
      kb(run.breakdown.bytes),
      `${(run.denseBytes / run.breakdown.bytes).toFixed(1)}×`,
    ],
  ];
  const layerRows = [
    ['Layer', 'Params', 'Weights kept', 'Bits', 'Gap bits', 'Indices', 'Codebook', 'Huffman tables', 'Biases', 'Total'],
    ...run.layers.map((l) => [
      l.name,
      l.params.toLocaleString('en-US'),
      pct(1 - l.sparsity),
      String(l.bits),
      String(l.gapBits ?? '-'),
      ...[l.bytes.indices, l.bytes.codebook, l.bytes.huffmanTables, l.bytes.biases, l.bytes.total].map((n) => `${n} B`),
    ]),
    ['(graph + framing)', '', '', '', '', '', '', '', '', `${run.breakdown.graph + run.breakdown.framing} B`],
  ];
  return `${formatTable(rows)}\n\n${formatTable(layerRows)}\n`;
}

/** The JSON a compression run reports. */
export function compressionJson(run: ContainerRun & { split?: SplitInfo }, recipe: DeepCompressionRecipe): Record<string, unknown> {
  return {
    scheme: 'deep-compression',
    accuracy: run.accuracy,
    error: 1 - run.accuracy,
    // Test accuracy of the input model and of the result; `stages` hold validation accuracies.
    baselineAccuracy: run.baselineAccuracy,
    bytes: run.breakdown.bytes,
    denseBytes: run.denseBytes,
    compressionRatio: run.denseBytes / run.breakdown.bytes,
    bits: Object.fromEntries(run.layers.filter((l) => l.weight !== undefined).map((l) => [l.name, l.bits])),
    layers: run.layers,
    graphBytes: run.breakdown.graph,
    framingBytes: run.breakdown.framing,
    stages: run.result.stages,
    split: run.split ?? null,
    container: run.container,
    onnx: run.onnx,
    recipe,
  };
}

/**
 * `whittle demo`'s second half: Deep Compression of the model it just trained, with the preset
 * for its zoo architecture, ending with the paper's Table 1. Undefined when there is no preset.
 */
export async function demoCompression(
  model: Model,
  o: { data?: string; normalization: Normalization; threads?: number; out?: string; seed?: number; samples?: number; log?: RunLog },
): Promise<Record<string, unknown> | undefined> {
  const zoo = model.metadata['whittle.zoo'] ?? '';
  const preset = DEEP_COMPRESSION_PRESETS[zoo];
  if (preset === undefined) {
    process.stderr.write(
      `whittle demo: no Deep Compression preset for "${zoo || 'this model'}" (presets: ${Object.keys(DEEP_COMPRESSION_PRESETS).join(', ')}); skipping compression\n`,
    );
    return undefined;
  }
  const out = o.out ?? join(tmpdir(), `whittle-demo-${process.pid}`);
  const recipe = { ...preset, model: zoo, seed: o.seed ?? preset.seed, samples: o.samples ?? preset.samples };
  process.stderr.write(`whittle demo: Deep Compression of ${zoo}: prune → fine-tune → k-means → fine-tune centroids → Huffman\n`);
  const label = 'demo compress';
  const run = await runDeepCompression(model, imageData(model, loadData(o.data), recipe, { fromFile: true, label }), recipe, {
    out,
    normalization: o.normalization,
    threads: o.threads,
    label,
    log: o.log,
  });
  addSummary(`\n${compressionTable(zoo, run)}\ncontainer ${run.container}, runnable ONNX ${run.onnx}\n`);
  return compressionJson(run, recipe);
}

type CompressFlags = ImageFlags &
  Omit<ValidationFlags, 'seed'> & {
    recipe: string;
    out: string;
    model?: string;
    testData?: string;
    threads?: number;
    samples?: number;
    json?: boolean;
    log?: string;
  };

export function registerCompressCommands(program: Command): void {
  const compressCmd = program
    .command('compress')
    .description('Deep Compression: prune → fine-tune → k-means → fine-tune centroids → Huffman; writes DIR/model.wtl and DIR/model.onnx')
    .requiredOption(
      '--recipe <name|file.yaml>',
      'Deep Compression recipe: a shipped one by name (deep-compression-lenet-300-100, deep-compression-lenet-5) or a YAML file',
    )
    .requiredOption('--out <dir>', 'output directory')
    .option('--model <zoo|file.onnx>', "override the recipe's model")
    .option(
      '--data <path>',
      "override the recipe's data: an MNIST/CIFAR directory, or your own labelled samples (.npy, .npz, JSONL, an image folder) for a model file, with --test-data",
    )
    .option('--test-data <path>', 'with your own --data: labelled samples of the same kind the compressed file is tested on, once')
    .option('--threads <n>', "ONNX Runtime threads (default: the recipe's, else all cores)", int('--threads', 1))
    .option('--samples <n>', "train on the first N training samples only (quick runs; default: the recipe's, else all)", int('--samples', 1))
    .option('--json', 'print one JSON object on stdout');
  addLogFlag(addValidationFlags(addImageFlags(compressCmd))).action(async (f: CompressFlags) => {
    const recipe = loadDeepCompressionRecipe(resolveRecipePath(f.recipe));
    if (f.model !== undefined) recipe.model = f.model;
    else checkRecipeModel(f.recipe, recipe.model);
    if (f.samples !== undefined) recipe.samples = f.samples;
    if (f.data !== undefined) recipe.data = f.data;
    const flags = { ...f, data: recipe.data, seed: recipe.seed, samples: recipe.samples, normalize: recipe.normalize };
    let data: CompressData;
    let model: Model;
    let normalization: Normalization;
    // A model file is read once, whichever data it meets; a zoo model is built for the MNIST/CIFAR shape.
    const own = recipe.model.endsWith('.onnx') ? loadModel(recipe.model, { seed: recipe.seed }) : undefined;
    if (checkOwnDataFlags(flags, own?.path, { test: 'the samples the compressed file is tested on' })) {
      // The user's own samples, fed as read: the model file takes them as they are.
      model = (own as ReturnType<typeof loadModel>).model;
      const { held, read } = holdOutOwnData(model, flags, imageOptions(f), { label: 'compress', why: 'Deep Compression (it fine-tunes)' });
      data = { held, test: read(f.testData as string) };
      normalization = 'none';
    } else {
      const images = loadData(recipe.data);
      const loaded = own ?? loadModel(recipe.model, { seed: recipe.seed, ...zooShapeFor(images.train) });
      model = loaded.model;
      data = imageData(model, images, recipe, { fromFile: loaded.path !== undefined, label: 'compress' }, f);
      normalization = resolveNormalization(recipe.normalize, model);
    }
    const t0 = performance.now();
    if (existsSync(f.out) && !statSync(f.out).isDirectory())
      throw new WhittleError('BAD_ARGUMENT', `--out ${f.out} is a file; pass a directory (it is created if missing)`);
    const log = openCommandLog(resolveLogPath(f.log, f.out, true), 'compress', recipe.model);
    try {
      const run = await runDeepCompression(model, data, recipe, { out: f.out, normalization, threads: f.threads, log });
      addSummary(
        `\n${compressionTable(recipe.model, run)}\nwrote ${run.container} (${run.breakdown.bytes} bytes) and ${run.onnx} in ${((performance.now() - t0) / 1000).toFixed(0)} s\n`,
      );
      const result = { model: recipe.model, ...compressionJson(run, recipe), seconds: (performance.now() - t0) / 1000 };
      log?.write({ type: 'result', result });
      emit(Boolean(f.json), result);
    } finally {
      log?.close();
    }
  });

  program
    .command('decode')
    .description('rebuild a runnable ONNX model from a Deep Compression container (.wtl)')
    .requiredOption('--model <file.wtl>', 'container written by whittle compress')
    .requiredOption('--out <file.onnx>', 'where to write the ONNX model')
    .option('--verify', "check the decoded model against the container's SHA-256 content hash")
    .option('--json', 'print one JSON object on stdout')
    .action((f: { model: string; out: string; verify?: boolean; json?: boolean }) => {
      if (!existsSync(f.model)) throw new WhittleError('BAD_ARGUMENT', `--model ${f.model}: no such file`);
      const { model, breakdown, contentHash } = readContainer(f.model, { verify: f.verify });
      const onnxBytes = saveModel(model, f.out, f.model);
      const layers = layerBreakdown(model, breakdown);
      const dense = denseParameterBytes(model);
      addSummary(
        `decode ${f.model}: ${breakdown.bytes} bytes → ${f.out} (${onnxBytes} bytes), ${(dense / breakdown.bytes).toFixed(1)}× smaller than dense float32\n`,
      );
      emit(Boolean(f.json), {
        model: f.model,
        out: f.out,
        bytes: breakdown.bytes,
        onnxBytes,
        verified: f.verify === true,
        contentHash: contentHash === undefined ? null : Buffer.from(contentHash).toString('hex'),
        denseBytes: dense,
        compressionRatio: dense / breakdown.bytes,
        layers,
        normalize: model.metadata[NORMALIZE_KEY] ?? null,
      });
    });
}
