// `whittle compress` (a Deep Compression recipe → container + runnable ONNX) and `whittle decode`
// (container → ONNX); `runDeepCompression` is shared with `whittle demo`.
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Command } from 'commander';
import { optimizerFromName } from '../autodiff/optimizer.js';
import type { Dataset, Normalization } from '../data/index.js';
import { subset } from '../data/index.js';
import { readContainer, writeContainer } from '../compress/codec/index.js';
import type { ContainerBreakdown } from '../compress/codec/index.js';
import { deepCompress } from '../compress/kmeans/index.js';
import type { DeepCompressionResult } from '../compress/kmeans/index.js';
import { WhittleError } from '../ir/errors.js';
import type { Model } from '../ir/graph.js';
import { loadModelFile } from '../ir/io.js';
import type { DeepCompressionRecipe } from '../recipe/deep-compression.js';
import { DEEP_COMPRESSION_PRESETS, loadDeepCompressionRecipe } from '../recipe/deep-compression.js';
import { evaluate } from '../train/evaluate.js';
import { emit, int } from './flags.js';
import { createReporter } from './progress.js';
import { loadData, loadModel, NORMALIZE_KEY, resolveNormalization, saveModel, zooShapeFor } from './load.js';
import { logEpochs } from '../train/run-log.js';
import type { RunLog } from '../train/run-log.js';
import { addLogFlag, openCommandLog, resolveLogPath } from './run-log.js';
import { checkRecipeModel, resolveRecipePath } from './recipes.js';

/** Bytes of a model's float parameters stored densely as float32: the ratio's numerator. */
export function denseParameterBytes(model: Model): number {
  let n = 0;
  for (const t of model.graph.initializers.values())
    if ((t.dtype === 'float32' || t.dtype === 'float64' || t.dtype === 'float16') && t.dims.length > 0) n += 4 * t.size;
  return n;
}

export interface LayerReport {
  name: string;
  weight: string | undefined;
  params: number;
  bits: number;
  gapBits: number | undefined;
  sparsity: number;
  nonzeros: number;
  /** `weights`: a weight stored dense (not shared); `indices`: the Huffman-coded sparse and cluster indices. */
  bytes: { weights: number; indices: number; codebook: number; huffmanTables: number; biases: number; headers: number; total: number };
}

/** The container's bytes grouped by layer (the node that reads each tensor). */
export function layerBreakdown(model: Model, b: ContainerBreakdown): LayerReport[] {
  const byLayer = new Map<string, LayerReport>();
  for (const t of b.tensors) {
    const node = model.graph.nodes.find((n) => n.inputs.includes(t.name));
    const name = node?.name ?? t.name;
    const isWeight = node !== undefined ? node.inputs[1] === t.name : t.kind === 'shared';
    let r = byLayer.get(name);
    if (r === undefined) {
      r = {
        name,
        weight: undefined,
        params: 0,
        bits: 32,
        gapBits: undefined,
        sparsity: 0,
        nonzeros: 0,
        bytes: { weights: 0, indices: 0, codebook: 0, huffmanTables: 0, biases: 0, headers: 0, total: 0 },
      };
      byLayer.set(name, r);
    }
    const size = t.dims.reduce((a, d) => a * d, 1);
    r.params += size;
    r.bytes.headers += t.header;
    r.bytes.codebook += t.codebook;
    r.bytes.huffmanTables += t.huffmanTables;
    r.bytes.indices += t.indices;
    r.bytes.total += t.total;
    if (isWeight) {
      r.weight = t.name;
      r.bits = t.bits ?? 32;
      r.gapBits = t.gapBits;
      r.nonzeros = t.nonzeros ?? size;
      r.sparsity = 1 - r.nonzeros / size;
      r.bytes.weights += t.values;
    } else r.bytes.biases += t.values;
  }
  return [...byLayer.values()];
}

export interface CompressionRun {
  result: DeepCompressionResult;
  breakdown: ContainerBreakdown;
  layers: LayerReport[];
  denseBytes: number;
  /** Accuracy of DIR/model.onnx, decoded from the container file and evaluated by ORT. */
  accuracy: number;
  container: string;
  onnx: string;
}

/** Runs a recipe's pipeline on `model`, writes DIR/model.wtl and DIR/model.onnx, and checks them. */
export async function runDeepCompression(
  model: Model,
  data: { train: Dataset; test: Dataset },
  recipe: DeepCompressionRecipe,
  o: { out: string; normalization: Normalization; threads?: number; label?: string; log?: RunLog },
): Promise<CompressionRun> {
  if (existsSync(o.out) && !statSync(o.out).isDirectory())
    throw new WhittleError('BAD_ARGUMENT', `--out ${o.out} is a file; pass a directory (it is created if missing)`);
  const label = o.label ?? 'compress';
  const trainSet = recipe.samples !== undefined ? subset(data.train, 0, Math.min(recipe.samples, data.train.count)) : data.train;
  const result = await deepCompress(model, trainSet, {
    layers: recipe.layers,
    prune: recipe.prune,
    centroids: recipe.centroids,
    halfPrecision: recipe.encode.half,
    batchSize: recipe.batch,
    optimizer: optimizerFromName(recipe.optimizer),
    normalization: o.normalization,
    seed: recipe.seed,
    threads: o.threads ?? recipe.threads,
    stepsPerRun: recipe.stepsPerRun,
    test: data.test,
    onStage: (e) => {
      o.log?.write({ type: 'stage', ...e });
      process.stderr.write(`${label}: ${e.stage} — test error ${(100 * (1 - e.accuracy)).toFixed(2)}% (${e.seconds.toFixed(1)} s)\n`);
    },
    onProgress: (stage) => logEpochs(o.log, stage, createReporter({ label: `${label} ${stage}` })),
  });
  mkdirSync(o.out, { recursive: true });
  const container = join(o.out, 'model.wtl');
  const onnx = join(o.out, 'model.onnx');
  const final = { ...result.model, metadata: { ...result.model.metadata, [NORMALIZE_KEY]: o.normalization } };
  writeContainer(container, final, result.shared, { gapBits: recipe.encode.gapBits === 'auto' ? 'auto' : recipe.encode.gapBits });
  // Everything reported comes from the file: decode it, write the ONNX, evaluate that file.
  const decoded = readContainer(container);
  saveModel(decoded.model, onnx, undefined);
  const { accuracy } = await evaluate(loadModelFile(onnx), data.test, { normalization: o.normalization, threads: o.threads ?? recipe.threads });
  const breakdown = { ...decoded.breakdown, bytes: statSync(container).size };
  return { result, breakdown, layers: layerBreakdown(decoded.model, breakdown), denseBytes: denseParameterBytes(model), accuracy, container, onnx };
}

const pct = (x: number): string => `${(100 * x).toFixed(2)}%`;
const kb = (n: number): string => `${(n / 1000).toFixed(1)} KB`;

/** Deep Compression's Table 1 for one network, plus the per-layer bytes, as text. */
export function compressionTable(name: string, run: CompressionRun): string {
  const base = run.result.stages.find((s) => s.stage === 'baseline')?.accuracy ?? Number.NaN;
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
  const fmt = (table: string[][]): string => {
    const widths = table[0]!.map((_, c) => Math.max(...table.map((r) => (r[c] ?? '').length)));
    return table.map((r) => r.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join('  ')).join('\n');
  };
  return `${fmt(rows)}\n\n${fmt(layerRows)}\n`;
}

/** The JSON a compression run reports. */
export function compressionJson(run: CompressionRun, recipe: DeepCompressionRecipe): Record<string, unknown> {
  const base = run.result.stages.find((s) => s.stage === 'baseline')?.accuracy ?? null;
  return {
    scheme: 'deep-compression',
    accuracy: run.accuracy,
    error: 1 - run.accuracy,
    baselineAccuracy: base,
    bytes: run.breakdown.bytes,
    denseBytes: run.denseBytes,
    compressionRatio: run.denseBytes / run.breakdown.bytes,
    bits: Object.fromEntries(run.layers.filter((l) => l.weight !== undefined).map((l) => [l.name, l.bits])),
    layers: run.layers,
    graphBytes: run.breakdown.graph,
    framingBytes: run.breakdown.framing,
    stages: run.result.stages,
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
  const run = await runDeepCompression(model, loadData(o.data), recipe, {
    out,
    normalization: o.normalization,
    threads: o.threads,
    label: 'demo compress',
    log: o.log,
  });
  process.stderr.write(`\n${compressionTable(zoo, run)}\ncontainer ${run.container}, runnable ONNX ${run.onnx}\n`);
  return compressionJson(run, recipe);
}

type CompressFlags = { recipe: string; out: string; model?: string; threads?: number; samples?: number; json?: boolean; log?: string };

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
    .option('--threads <n>', "ONNX Runtime threads (default: the recipe's, else all cores)", int('--threads', 1))
    .option('--samples <n>', "train on the first N training samples only (quick runs; default: the recipe's, else all)", int('--samples', 1))
    .option('--json', 'print one JSON object on stdout');
  addLogFlag(compressCmd).action(async (f: CompressFlags) => {
    const recipe = loadDeepCompressionRecipe(resolveRecipePath(f.recipe));
    if (f.model !== undefined) recipe.model = f.model;
    else checkRecipeModel(f.recipe, recipe.model);
    if (f.samples !== undefined) recipe.samples = f.samples;
    const data = loadData(recipe.data);
    const { model } = loadModel(recipe.model, { seed: recipe.seed, ...zooShapeFor(data.train) });
    const normalization = resolveNormalization(recipe.normalize, model);
    const t0 = performance.now();
    if (existsSync(f.out) && !statSync(f.out).isDirectory())
      throw new WhittleError('BAD_ARGUMENT', `--out ${f.out} is a file; pass a directory (it is created if missing)`);
    const log = openCommandLog(resolveLogPath(f.log, f.out, true), 'compress', recipe.model);
    try {
      const run = await runDeepCompression(model, data, recipe, { out: f.out, normalization, threads: f.threads, log });
      process.stderr.write(
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
    .option('--json', 'print one JSON object on stdout')
    .action((f: { model: string; out: string; json?: boolean }) => {
      if (!existsSync(f.model)) throw new WhittleError('BAD_ARGUMENT', `--model ${f.model}: no such file`);
      const { model, breakdown } = readContainer(f.model);
      const onnxBytes = saveModel(model, f.out, f.model);
      const layers = layerBreakdown(model, breakdown);
      const dense = denseParameterBytes(model);
      process.stderr.write(
        `decode ${f.model}: ${breakdown.bytes} bytes → ${f.out} (${onnxBytes} bytes), ${(dense / breakdown.bytes).toFixed(1)}× smaller than dense float32\n`,
      );
      emit(Boolean(f.json), {
        model: f.model,
        out: f.out,
        bytes: breakdown.bytes,
        onnxBytes,
        denseBytes: dense,
        compressionRatio: dense / breakdown.bytes,
        layers,
        normalize: model.metadata[NORMALIZE_KEY] ?? null,
      });
    });
}
