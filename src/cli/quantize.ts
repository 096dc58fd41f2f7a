// `whittle quantize`: post-training (static QDQ int8, dynamic int8, fp16, int4) and
// quantization-aware (uniform, binary, ternary) quantization with clipping flags.
import { existsSync, rmSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { Option } from 'commander';
import { normalizeBatch, subset } from '../data/index.js';
import type { Dataset, Normalization } from '../data/index.js';
import { ACTIVATION_CLIPS, CALIBRATION_METHODS } from '../compress/quantize/index.js';
import { QUANT_FORMATS, QUANT_SCHEMES, quantizeModel, resolveQuantizeOptions } from '../pipeline/index.js';
import type { ActivationClip, CalibrationMethod } from '../compress/quantize/index.js';
import type { QuantFormat, QuantizeModelResult, QuantSchemeName } from '../pipeline/index.js';
import { writeKmeansContainer } from '../compress/kmeans/index.js';
import { WhittleError } from '../ir/errors.js';
import { modelStats } from '../ir/stats.js';
import { Tensor } from '../ir/tensor.js';
import { SHAPE_RULES } from '../ops/index.js';
import { evaluate, inputBatch } from '../train/evaluate.js';
import { agreementWithInput } from './eval.js';
import type { LatencyCase } from '../runtime/latency.js';
import { compareLatency } from '../runtime/latency.js';
import { addTrainFlags, emit, int, num, toTrainOptions } from './flags.js';
import type { TrainFlags } from './flags.js';
import { loadData, loadModel, NORMALIZE_KEY, resolveNormalization, saveModel } from './load.js';
import type { Model } from '../ir/graph.js';
import { createReporter } from './progress.js';
import { logEpochs } from '../train/run-log.js';
import type { RunLog } from '../train/run-log.js';
import { addLogFlag, openCommandLog, resolveLogPath } from './run-log.js';
import { quantizeAnyModel, usesImageDataset } from './quantize-any.js';
import { FP16_DEFAULT_BLOCK } from '../export/fp16.js';
import { denseParameterBytes, layerBreakdown } from '../pipeline/index.js';
import { holdOutValidation } from './validation.js';

interface QuantizeFlags extends TrainFlags {
  scheme: string;
  bits?: number;
  perChannel: boolean;
  calibration: CalibrationMethod;
  percentile: number;
  calibSamples: number;
  clipWeights?: number;
  clipActivations?: ActivationClip;
  format: string;
  blockSize: number;
  evalLimit?: number;
  keepFloat?: string;
  exclude?: string;
  evalData?: string;
  fp16Block?: string;
  fp16Mode: 'weights' | 'compute';
  teacher?: string;
  temperature: number;
  alpha: number;
}

/**
 * `--scheme kmeans`: Deep Compression's weight sharing alone (no pruning, no fine-tuning): each
 * Gemm/Conv/MatMul weight shares 2^bits k-means centroids (linear initialization; exact zeros stay
 * pruned) and the model is written as the Huffman-coded container. `whittle compress` runs the
 * whole pipeline; `whittle decode` turns the container back into ONNX.
 */
async function runKmeans(f: QuantizeFlags, formatGiven: boolean): Promise<Record<string, unknown>> {
  if (formatGiven && f.format !== 'container')
    throw new WhittleError(
      'BAD_ARGUMENT',
      `--scheme kmeans is stored in the Deep Compression container: use --format container (or leave --format out), then whittle decode --model FILE.wtl --out M.onnx for a runnable ONNX`,
    );
  if (f.out === undefined) throw new WhittleError('BAD_ARGUMENT', 'whittle quantize --scheme kmeans needs --out FILE.wtl');
  if (f.teacher !== undefined)
    throw new WhittleError(
      'BAD_ARGUMENT',
      '--scheme kmeans does not train; a --teacher distills during qat, binary or ternary training (whittle compress fine-tunes k-means centroids)',
    );
  const bits = f.bits ?? 5;
  if (bits < 1 || bits > 8) throw new WhittleError('BAD_ARGUMENT', `--bits ${bits}: k-means sharing takes 1–8 bits (2–256 centroids per layer)`);
  const data = loadData(f.data);
  const { model, path } = loadModel(f.model);
  if (path !== undefined && resolve(f.out) === path)
    throw new WhittleError('BAD_ARGUMENT', `${f.out} is the input model; Whittle never overwrites its input, choose another output path`);
  if (existsSync(f.out) && statSync(f.out).isDirectory())
    throw new WhittleError('BAD_ARGUMENT', `--out ${f.out} is a directory; pass a file name such as model.wtl`);
  const normalization = resolveNormalization(f.normalize, model);
  const t0 = performance.now();
  const { model: shared, breakdown } = writeKmeansContainer({ ...model, metadata: { ...model.metadata, [NORMALIZE_KEY]: normalization } }, f.out, { bits });
  const evalOptions = { normalization, threads: f.threads, limit: f.evalLimit };
  const baseline = await evaluate(model, data.test, evalOptions);
  const quantized = await evaluate(shared, data.test, evalOptions);
  const agreement = await agreementWithInput(shared, model, data.test, normalization, f);
  const fp32Bytes = denseParameterBytes(model);
  process.stderr.write(
    `quantize kmeans/container ${bits}-bit: accuracy ${(100 * quantized.accuracy).toFixed(2)}% (fp32 ${(100 * baseline.accuracy).toFixed(2)}%), ${breakdown.bytes.toLocaleString('en-US')} bytes (${(fp32Bytes / breakdown.bytes).toFixed(2)}× vs fp32 parameters) → ${f.out}\n`,
  );
  return {
    model: f.model,
    scheme: 'kmeans',
    format: 'container',
    bits,
    out: f.out,
    bytes: breakdown.bytes,
    fp32Bytes,
    compressionRatio: fp32Bytes / breakdown.bytes,
    accuracy: quantized.accuracy,
    baselineAccuracy: baseline.accuracy,
    accuracyDrop: baseline.accuracy - quantized.accuracy,
    evalSamples: quantized.samples,
    agreement,
    layers: layerBreakdown(shared, breakdown).map((l) => ({ name: l.name, bits: l.bits, params: l.params, sparsity: l.sparsity, bytes: l.bytes.total })),
    seconds: (performance.now() - t0) / 1000,
    normalize: normalization,
  };
}

async function runQuantize(f: QuantizeFlags, formatGiven: boolean, log?: RunLog): Promise<Record<string, unknown>> {
  if (f.scheme === 'kmeans') return runKmeans(f, formatGiven);
  if (f.format === 'container')
    throw new WhittleError(
      'BAD_ARGUMENT',
      `--format container holds k-means shared weights: use --scheme kmeans --format container, or whittle compress --recipe … for the whole Deep Compression pipeline`,
    );
  if (f.out === undefined) throw new WhittleError('BAD_ARGUMENT', 'whittle quantize needs --out Q.onnx');
  if (!usesImageDataset(f)) return quantizeAnyModel(f);
  const scheme = f.scheme as QuantSchemeName;
  const format = f.format as QuantFormat;
  // Everything checkable is checked before loading data or training.
  const { bits } = resolveQuantizeOptions({ scheme, format, bits: f.bits, clipActivations: f.clipActivations, clipWeights: f.clipWeights });
  const data = loadData(f.data);
  const { model, path } = loadModel(f.model);
  const teacher = f.teacher === undefined ? undefined : { model: loadModel(f.teacher).model, temperature: f.temperature, alpha: f.alpha };
  if (path !== undefined && existsSync(f.out) && statSync(f.out).isDirectory())
    throw new WhittleError('BAD_ARGUMENT', `--out ${f.out} is a directory; pass a file name`);
  const normalization = resolveNormalization(f.normalize, model);
  const t0 = performance.now();
  // Calibration and training see only the training side; the validation side makes the choices.
  const { train: trainData, validation } = holdOutValidation(
    f.samples !== undefined ? subset(data.train, 0, Math.min(f.samples, data.train.count)) : data.train,
    f,
  );
  const needsSamples = (scheme === 'ptq' && format === 'qdq') || scheme === 'qat';
  let samples: Tensor | undefined;
  if (needsSamples) {
    const n = Math.min(f.calibSamples, trainData.count);
    const idx = Int32Array.from({ length: n }, (_, i) => i);
    samples = new Tensor('float32', [n, ...trainData.shape], normalizeBatch(trainData, idx, normalization));
    const per = model.graph.inputs[0]?.shape.slice(1) ?? [];
    // A flat model input ([N, 784]) takes the images flattened; any other mismatch is reported by calibration.
    if (per.length === 1 && per[0] === samples.size / n) samples = new Tensor('float32', [n, per[0]], samples.data);
  }
  const trained = scheme === 'qat' || scheme === 'binary' || scheme === 'ternary';
  const reporter = createReporter({ label: `quantize ${scheme}` });
  const trainSet = trainData;
  const quantizeWith = (keepFloat: string[] | undefined) =>
    quantizeModel(model, {
      scheme,
      format,
      bits,
      perChannel: f.perChannel,
      calibration: { method: f.calibration, percentile: f.percentile },
      samples,
      clipWeights: f.clipWeights,
      clipActivations: f.clipActivations,
      blockSize: f.blockSize,
      keepFloat,
      exclude: f.exclude?.split(',').filter((x) => x !== ''),
      fp16: { mode: f.fp16Mode, block: [...FP16_DEFAULT_BLOCK, ...(f.fp16Block?.split(',').filter((x) => x !== '') ?? [])] },
      teacher,
      threads: f.threads,
      training: trained
        ? { data: trainSet, options: { ...toTrainOptions(f, normalization, trainSet.count), validation, onProgress: logEpochs(log, scheme, reporter) } }
        : undefined,
    });
  let keepFloat = f.keepFloat === 'auto' ? undefined : f.keepFloat?.split(',').filter((s) => s !== '');
  let autoChoice: Record<string, unknown> | undefined;
  let chosen: QuantizeModelResult | undefined;
  if (f.keepFloat === 'auto') {
    if (scheme !== 'ptq' || format !== 'qdq')
      throw new WhittleError(
        'BAD_ARGUMENT',
        '--keep-float auto times static int8 forms on this machine: use it with --scheme ptq (format qdq), or name the layers',
      );
    const { result: fastest, ...choice } = await fastestKeepFloat(model, fewInputChannelConvs(model), quantizeWith, validation, normalization, f.threads);
    keepFloat = choice.keepFloat;
    autoChoice = choice;
    chosen = fastest;
  }
  // --keep-float auto already quantized the form it keeps.
  const result = chosen ?? (await quantizeWith(keepFloat));
  reporter.stop();
  if ((scheme === 'ptq' || scheme === 'qat') && format === 'qdq' && f.keepFloat === undefined) {
    for (const name of fewInputChannelConvs(model)) {
      process.stderr.write(
        `hint: ${name} has few input channels, where onnxruntime's int8 convolution is slower than float32 (LeNet-5's conv1: 0.86 vs 0.24 ms per batch of 64); --keep-float ${name} made that model 2.0× faster than fp32 at 2 threads instead of 1.4×; --keep-float auto times both forms here and keeps the faster\n`,
      );
    }
  }
  const out = { ...result.model, metadata: { ...result.model.metadata, [NORMALIZE_KEY]: normalization } };
  const evalOptions = { normalization, threads: f.threads, limit: f.evalLimit };
  const baseline = await evaluate(model, data.test, evalOptions);
  const quantized = await evaluate(out, data.test, evalOptions);
  const agreement = await agreementWithInput(out, model, data.test, normalization, f);
  let bytes: number;
  try {
    bytes = saveModel(out, f.out, path);
  } catch (e) {
    if (existsSync(f.out) && !(e instanceof WhittleError && e.code === 'BAD_ARGUMENT')) rmSync(f.out, { force: true });
    throw e;
  }
  const fp32Bytes = 4 * modelStats(model, SHAPE_RULES).params;
  const r = {
    model: f.model,
    scheme,
    format: scheme === 'binary' || scheme === 'ternary' ? 'packed' : scheme === 'dynamic' ? 'matmulinteger' : format,
    bits,
    out: f.out,
    bytes,
    fp32Bytes,
    compressionRatio: fp32Bytes / bytes,
    accuracy: quantized.accuracy,
    baselineAccuracy: baseline.accuracy,
    accuracyDrop: baseline.accuracy - quantized.accuracy,
    evalSamples: quantized.samples,
    // Output agreement with the input model on the evaluation samples (no labels needed).
    agreement,
    calibration: needsSamples ? { method: f.calibration, samples: samples?.dims[0] ?? 0 } : null,
    perChannel: f.perChannel,
    clipWeights: f.clipWeights ?? null,
    clipActivations: f.clipActivations ?? null,
    keepFloat: keepFloat === undefined || keepFloat.length === 0 ? null : keepFloat.join(','),
    // With --keep-float auto: the forms timed and the one chosen.
    keepFloatAuto: autoChoice ?? null,
    teacher: f.teacher ?? null,
    epochs: result.training?.epochs ?? null,
    layers: result.layers.map((l) => ({ name: l.name, op: l.op, bits: l.bits, params: l.params, bytes: l.bytes, sparsity: l.sparsity ?? 0 })),
    exclude: f.exclude ?? null,
    skipped: result.skipped ?? [],
    notes: result.notes ?? [],
    seconds: (performance.now() - t0) / 1000,
    normalize: normalization,
  };
  process.stderr.write(
    `quantize ${scheme}/${r.format} ${bits}-bit: accuracy ${(100 * quantized.accuracy).toFixed(2)}% (fp32 ${(100 * baseline.accuracy).toFixed(2)}%, drop ${(100 * r.accuracyDrop).toFixed(2)} points), ${bytes.toLocaleString('en-US')} bytes (${r.compressionRatio.toFixed(2)}× vs fp32 parameters) → ${f.out}\n`,
  );
  return r;
}

/**
 * Times the all-int8 form against each candidate layer (and all of them) left in float, on this
 * machine at `threads`, batch 64 of validation images, and returns the fastest choice.
 */
async function fastestKeepFloat(
  model: Model,
  candidates: string[],
  quantize: (keep: string[]) => Promise<QuantizeModelResult>,
  validation: Dataset,
  normalization: Normalization,
  threads: number,
): Promise<{ keepFloat: string[]; candidates: string[]; rows: { keepFloat: string[]; msPerBatch: number }[]; result: QuantizeModelResult | undefined }> {
  if (candidates.length === 0) {
    process.stderr.write('keep-float auto: no few-input-channel convolution to consider; every layer goes to int8\n');
    return { keepFloat: [], candidates, rows: [], result: undefined };
  }
  const options = [[], ...candidates.map((c) => [c]), ...(candidates.length > 1 ? [candidates] : [])];
  const input = model.graph.inputs[0]?.name as string;
  const x = inputBatch(model, validation, 64, normalization);
  const results: QuantizeModelResult[] = [];
  for (const keep of options) results.push(await quantize(keep));
  const cases: LatencyCase[] = results.map((r, i) => ({ name: (options[i] as string[]).join(',') || '(all int8)', model: r.model, feeds: { [input]: x } }));
  const rows = await compareLatency(cases, [{ backend: 'node', threads }], { rounds: 3, warmup: 30, runs: 100 });
  const timed = rows.map((r, i) => ({ keepFloat: options[i] as string[], msPerBatch: r.ms }));
  const best = timed.reduce((a, b) => (b.msPerBatch < a.msPerBatch ? b : a));
  for (const t of timed)
    process.stderr.write(
      `keep-float auto: ${t.keepFloat.join(',') || '(all int8)'} ${t.msPerBatch.toFixed(3)} ms per batch of 64 at ${threads} thread(s)${t === best ? '  ← kept' : ''}\n`,
    );
  return { keepFloat: best.keepFloat, candidates, rows: timed, result: results[timed.indexOf(best)] };
}

/** Ungrouped Conv layers reading at most 4 channels (a grayscale or RGB first layer). */
function fewInputChannelConvs(model: Model): string[] {
  return model.graph.nodes
    .filter((n) => n.opType === 'Conv' && (n.attributes['group']?.type !== 'int' || n.attributes['group'].value === 1))
    .filter((n) => {
      const w = model.graph.initializers.get(n.inputs[1] as string);
      return w !== undefined && (w.dims[1] ?? Infinity) <= 4;
    })
    .map((n) => n.name);
}

export function registerQuantizeCommands(program: Command): void {
  const cmd = program
    .command('quantize')
    .description(
      'quantize a model: ptq (static int8 QDQ) | dynamic (int8 weights) | qat | binary | ternary | kmeans (shared weights in the container); export qdq | fp16 | int4 | container',
    )
    .requiredOption('--model <file.onnx>', 'model to quantize (a trained .onnx, or a zoo name)')
    .addOption(new Option('--scheme <name>', 'quantization scheme').choices([...QUANT_SCHEMES, 'kmeans']).default('ptq'))
    .option('--bits <b>', 'weight bits (ptq/dynamic 8; qat 8|4|2; int4 format 4; binary 1; ternary 2; kmeans 1–8, default 5)', int('--bits', 1))
    .option('--per-channel', 'one weight scale per output channel (default)', true)
    .option('--no-per-channel', 'one weight scale per tensor')
    .addOption(new Option('--calibration <method>', 'activation range calibration').choices([...CALIBRATION_METHODS]).default('minmax'))
    .option('--percentile <p>', 'percentile calibration: share of values kept, in percent', num('--percentile'), 99.99)
    .option('--calib-samples <n>', 'training samples used for calibration', int('--calib-samples', 1), 512)
    .option('--clip-weights <a>', 'clip layer weights to [-a, a] (every step when training)', num('--clip-weights'))
    .addOption(new Option('--clip-activations <kind>', 'replace ReLUs by ReLU6 or learned PACT clipping').choices([...ACTIVATION_CLIPS]))
    .addOption(new Option('--format <form>', 'output form').choices([...QUANT_FORMATS, 'container']).default('qdq'))
    .option('--block-size <n>', 'int4: weights per quantization block', int('--block-size', 16), 32)
    .option('--eval-limit <n>', 'evaluate on the first N test samples only', int('--eval-limit', 1))
    .option('--teacher <file.onnx>', 'qat/binary/ternary: distill from this model while training (e.g. the float model itself)')
    .option('--temperature <T>', 'with --teacher: softmax temperature', num('--temperature'), 4)
    .option('--alpha <a>', 'with --teacher: weight of the soft-target loss (labels get 1 − alpha)', num('--alpha'), 0.7)
    .option(
      '--exclude <nodes|ops>',
      'ptq/dynamic/int4: comma-separated node names or op types left in float32 (e.g. Conv_0,Gemm); overlaps --keep-float, which names layers and also serves qat/binary/ternary',
    )
    .option('--eval-data <path>', 'any model: data for the agreement figures (default: the --data samples calibration did not use, else random inputs)')
    .addOption(
      new Option(
        '--fp16-mode <form>',
        'fp16: weights (half the file, float32 compute; runs everywhere) or compute (a float16 graph with Casts at the inputs/outputs, for GPU/WebGPU)',
      )
        .choices(['weights', 'compute'])
        .default('weights'),
    )
    .option('--fp16-block <ops>', `fp16: op types or node names kept in float32, added to the defaults (${FP16_DEFAULT_BLOCK.join(', ')})`)
    .option(
      '--keep-float <layers>',
      'ptq/qat/binary/ternary: comma-separated layer names left in float32 (e.g. conv1, whose int8 kernel is slow with one input channel); ptq: auto times all-int8 against leaving each few-input-channel conv in float on this machine (--threads) and keeps the fastest',
    );
  addLogFlag(addTrainFlags(cmd, { epochs: 3, lr: 0.01, optimizer: 'momentum' })).action(async (f: QuantizeFlags & { log?: string }) => {
    // Only the training schemes have epochs to log by default; post-training quantization logs with --log.
    const trains = f.scheme === 'qat' || f.scheme === 'binary' || f.scheme === 'ternary';
    const log = openCommandLog(resolveLogPath(f.log, trains ? f.out : undefined), 'quantize', f.model);
    try {
      const r = await runQuantize(f, cmd.getOptionValueSource('format') !== 'default', log);
      log?.write({ type: 'result', result: r });
      emit(Boolean(f.json), r);
    } finally {
      log?.close();
    }
  });
}
