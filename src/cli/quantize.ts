// `whittle quantize`: post-training (static QDQ int8, dynamic int8, fp16, int4) and
// quantization-aware (uniform, binary, ternary) quantization with clipping flags.
import { existsSync, statSync } from 'node:fs';
import type { Command } from 'commander';
import { Option } from 'commander';
import type { Dataset, Normalization, TensorDataset } from '../data/index.js';
import { firstSamples, isTensorDataset, loadDataForModel, normalizeBatch, sliceTensorDataset, subset } from '../data/index.js';
import { ACTIVATION_CLIPS, CALIBRATION_METHODS, checkCalibrationShape } from '../compress/quantize/index.js';
import type { ActivationClip, CalibrationMethod, ModelData } from '../compress/quantize/index.js';
import { writeKmeansContainer } from '../compress/kmeans/index.js';
import { FP16_DEFAULT_BLOCK } from '../export/fp16.js';
import { WhittleError } from '../ir/errors.js';
import type { Model } from '../ir/graph.js';
import { opsetOf } from '../ir/graph.js';
import { encodeModel } from '../ir/onnx.js';
import { parameterStats } from '../ir/stats.js';
import { Tensor } from '../ir/tensor.js';
import {
  denseParameterBytes,
  layerBreakdown,
  QUANT_FORMATS,
  QUANT_SCHEMES,
  quantizeModel,
  resolveQuantizeOptions,
  withNormalization,
  withSplit,
} from '../pipeline/index.js';
import type { PipelineEvent, QuantFormat, QuantSchemeName } from '../pipeline/index.js';
import type { ModelComparison } from '../train/compare.js';
import { compareModels } from '../train/compare.js';
import { evaluate } from '../train/evaluate.js';
import { runnableRandomData } from '../train/random-inputs.js';
import type { RunLog } from '../train/run-log.js';
import type { TrainOptions } from '../train/trainer.js';
import { flagTerms, flagsOf } from './errors.js';
import { agreementJson, agreementWithInput, describeAgreement, firstImages, imagesAsTensors } from './eval.js';
import { addImageFlags, addTrainFlags, emit, addSummary, imageOptions, int, num, toTrainOptions } from './flags.js';
import type { ImageFlags, TrainFlags } from './flags.js';
import { isOwnData, loadData, loadModel, refuseNormalize, resolveNormalization, saveModel, usesImageDataset } from './load.js';
import { pipelineReporter } from './progress.js';
import { addLogFlag, openCommandLog, resolveLogPath } from './run-log.js';
import type { HeldOut } from './validation.js';
import { holdOutOwnData, holdOutValidation } from './validation.js';

interface QuantizeFlags extends TrainFlags, ImageFlags {
  scheme: string;
  bits?: number;
  perChannel: boolean;
  reduceRange: boolean;
  calibration: CalibrationMethod;
  percentile: number;
  calibrationSamples: number;
  clipWeights?: number;
  clipActivations?: ActivationClip;
  format: string;
  blockSize: number;
  evalLimit?: number;
  keepFloat?: string;
  speedAt?: string;
  exclude?: string;
  opset?: number;
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
  // The user's own samples (--eval-data, or own --data) are fed as read; else an MNIST/CIFAR test split.
  const ownPath = f.evalData ?? (isOwnData(f.data) ? f.data : undefined);
  const { model, path } = loadModel(f.model, { shareWeights: true });
  if (existsSync(f.out) && statSync(f.out).isDirectory())
    throw new WhittleError('BAD_ARGUMENT', `--out ${f.out} is a directory; pass a file name such as model.wtl`);
  if (ownPath !== undefined) refuseNormalize(f.normalize, ownPath);
  const normalization = ownPath !== undefined ? 'none' : resolveNormalization(f.normalize, model);
  const test: Dataset | TensorDataset =
    ownPath !== undefined ? firstSamples(loadDataForModel(model, ownPath, imageOptions(f)), f.evalLimit ?? Number.MAX_SAFE_INTEGER) : loadData(f.data).test;
  const t0 = performance.now();
  const { model: shared, breakdown } = writeKmeansContainer(ownPath !== undefined ? model : withNormalization(model, normalization), f.out, { bits });
  const evalOptions = { normalization, threads: f.threads, limit: f.evalLimit };
  const labelled = !isTensorDataset(test) || test.labels !== undefined;
  const baseline = labelled ? await evaluate(model, test, evalOptions) : undefined;
  const quantized = labelled ? await evaluate(shared, test, evalOptions) : undefined;
  const agreement = isTensorDataset(test)
    ? await compareModels(shared, model, test, { threads: f.threads }).then((c) => ({ inputs: 'data', samples: c.samples, outputs: agreementJson(c.outputs) }))
    : await agreementWithInput(shared, model, test, normalization, f);
  const fp32Bytes = denseParameterBytes(model);
  const pct = (x: number): string => `${(100 * x).toFixed(2)}%`;
  addSummary(
    `quantize kmeans/container ${bits}-bit: ${quantized !== undefined && baseline !== undefined ? `accuracy ${pct(quantized.accuracy)} (fp32 ${pct(baseline.accuracy)})` : 'no labels, no accuracy'}, ${breakdown.bytes.toLocaleString('en-US')} bytes (${(fp32Bytes / breakdown.bytes).toFixed(2)}× vs fp32 parameters) → ${f.out}\n`,
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
    accuracy: quantized?.accuracy ?? null,
    baselineAccuracy: baseline?.accuracy ?? null,
    accuracyDrop: quantized !== undefined && baseline !== undefined ? baseline.accuracy - quantized.accuracy : null,
    evalSamples: agreement.samples,
    agreement,
    layers: layerBreakdown(shared, breakdown).map((l) => ({ name: l.name, bits: l.bits, params: l.params, sparsity: l.sparsity, bytes: l.bytes.total })),
    seconds: (performance.now() - t0) / 1000,
    normalize: ownPath !== undefined ? null : normalization,
  };
}

const list = (v: string | undefined): string[] | undefined =>
  v
    ?.split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');

/** What `quantizeModel` gets from the data flags: calibration, evaluation and training data. */
interface QuantizeInputs {
  samples?: ModelData;
  evaluation: TensorDataset;
  /** Where the evaluation samples come from, in words. */
  evalFrom: string;
  training?: { data: Dataset | TensorDataset; options: TrainOptions };
  normalization?: Normalization;
  /** MNIST/CIFAR: the labelled test images accuracy is measured on. */
  test?: Dataset;
  calibration: Record<string, unknown> | null;
  /** MNIST/CIFAR: the validation split held out, and what a model trained on its training side may record. */
  held?: Pick<HeldOut<Dataset | TensorDataset>, 'split' | 'record'>;
}

/**
 * The first `count` training images as one float32 tensor, flattened for a flat model input
 * ([N, 784]); any other mismatch is left for calibration to report with both shapes.
 */
function calibrationTensor(model: Model, data: Dataset, count: number, normalization: Normalization): Tensor {
  const n = Math.min(count, data.count);
  const samples = new Tensor(
    'float32',
    [n, ...data.shape],
    normalizeBatch(
      data,
      Int32Array.from({ length: n }, (_, i) => i),
      normalization,
    ),
  );
  const per = model.graph.inputs[0]?.shape.slice(1) ?? [];
  return per.length === 1 && per[0] === samples.size / n ? new Tensor('float32', [n, per[0]], samples.data) : samples;
}

/** MNIST/CIFAR (--data IDX/CIFAR, a zoo model, or a 784-input model): training split, test split. */
function imageInputs(f: QuantizeFlags, model: Model, fromFile: boolean, scheme: QuantSchemeName, format: QuantFormat): QuantizeInputs {
  const data = loadData(f.data);
  const normalization = resolveNormalization(f.normalize, model);
  const needsSamples = (scheme === 'ptq' && format === 'qdq') || scheme === 'qat';
  const trained = scheme === 'qat' || scheme === 'binary' || scheme === 'ternary';
  // Calibration and training see only the training side; the validation side makes the choices.
  // A scheme that does neither (dynamic, fp16, int4 weights, k-means) holds nothing out.
  const held =
    needsSamples || trained
      ? holdOutValidation(f.samples !== undefined ? subset(data.train, 0, Math.min(f.samples, data.train.count)) : data.train, f, {
          model: fromFile ? model : undefined,
          label: 'quantize',
        })
      : undefined;
  const samples = needsSamples && held !== undefined ? calibrationTensor(model, held.train, f.calibrationSamples, normalization) : undefined;
  // Calibration data of the wrong shape is reported as such, before anything else reads the images.
  if (samples !== undefined) checkCalibrationShape(model, samples);
  const images = imagesAsTensors(model, firstImages(data.test, f.evalLimit), normalization, 'test split');
  return {
    samples,
    evaluation: images,
    evalFrom: 'test split',
    training:
      trained && held !== undefined
        ? { data: held.train, options: { ...toTrainOptions(f, normalization, held.train.count), validation: held.validation, onProgress: undefined } }
        : undefined,
    normalization,
    test: data.test,
    calibration: samples !== undefined ? { method: f.calibration, samples: samples.dims[0] ?? 0 } : null,
    held: held === undefined ? undefined : { split: held.split, record: held.record },
  };
}

/** Any model: --data (.npy/.npz/JSONL/images) calibrates, agreement on the rest or on random inputs. */
async function anyInputs(f: QuantizeFlags, model: Model, scheme: QuantSchemeName, format: QuantFormat): Promise<QuantizeInputs> {
  const needsData = scheme === 'ptq' && format === 'qdq';
  const data = f.data !== undefined ? loadDataForModel(model, f.data, imageOptions(f)) : undefined;
  const calib = needsData && data !== undefined ? firstSamples(data, f.calibrationSamples) : undefined;
  // Agreement on samples calibration did not see when there are any.
  let evaluation: TensorDataset;
  let evalFrom: string;
  if (f.evalData !== undefined) [evaluation, evalFrom] = [loadDataForModel(model, f.evalData, imageOptions(f)), 'eval-data'];
  else if (data !== undefined && calib !== undefined && data.count > calib.count)
    [evaluation, evalFrom] = [sliceTensorDataset(data, calib.count, data.count), 'data (samples after the calibration ones)'];
  else if (data !== undefined) [evaluation, evalFrom] = [data, calib !== undefined ? 'data (the calibration samples themselves)' : 'data'];
  else [evaluation, evalFrom] = [await runnableRandomData(model, { count: f.evalLimit ?? 64, seed: f.seed, threads: f.threads }), 'random'];
  if (f.evalLimit !== undefined) evaluation = firstSamples(evaluation, f.evalLimit);
  return { samples: calib, evaluation, evalFrom, calibration: calib !== undefined ? { method: f.calibration, samples: calib.count, data: f.data } : null };
}

/**
 * qat/binary/ternary on the user's own labelled samples (--data: .npy, .npz, JSONL, an image
 * folder): read as the model takes them and fed as read; validation held out of them, calibration
 * from the training side, and the accuracy before and after on --eval-data (required: samples
 * nothing was trained or chosen on).
 */
function ownTrainingInputs(f: QuantizeFlags, model: Model, scheme: QuantSchemeName): QuantizeInputs {
  const data = f.data as string;
  if (f.evalData === undefined)
    throw new WhittleError(
      'BAD_ARGUMENT',
      `--scheme ${scheme} on ${data} reports the accuracy before and after on labelled samples nothing trained on: pass --eval-data (samples of the same kind)`,
    );
  const { held, read } = holdOutOwnData(model, f, imageOptions(f), { label: 'quantize', why: `--scheme ${scheme}` });
  const x = held.train.inputs.find((t) => t.shared !== true);
  let samples: Tensor | undefined;
  if (scheme === 'qat' && x !== undefined) {
    const n = Math.min(f.calibrationSamples, held.train.count);
    const per = x.shape.reduce((a, d) => a * d, 1);
    samples = new Tensor('float32', [n, ...x.shape], (x.data as Float32Array).slice(0, n * per));
  }
  const evaluation = read(f.evalData);
  return {
    samples,
    evaluation: f.evalLimit !== undefined ? firstSamples(evaluation, f.evalLimit) : evaluation,
    evalFrom: 'eval-data',
    training: { data: held.train, options: { ...toTrainOptions(f, 'none', held.train.count), validation: held.validation, onProgress: undefined } },
    calibration: samples !== undefined ? { method: f.calibration, samples: samples.dims[0] ?? 0, data } : null,
    held: { split: held.split, record: held.record },
  };
}

/** `--speed-at 1x1,32x2` → batch/threads pairs. */
function parseSpeedAt(text: string): { batch: number; threads: number }[] {
  return text.split(',').map((item) => {
    const m = /^\s*(\d+)x(\d+)\s*$/.exec(item);
    const [batch, threads] = [Number(m?.[1]), Number(m?.[2])];
    if (m === null || !(batch >= 1) || !(threads >= 1))
      throw new WhittleError('BAD_ARGUMENT', `--speed-at '${item}' is not BATCHxTHREADS (e.g. --speed-at 1x1,32x2)`);
    return { batch, threads };
  });
}

async function runQuantize(f: QuantizeFlags, cmd: Command, log?: RunLog): Promise<Record<string, unknown>> {
  const formatGiven = cmd.getOptionValueSource('format') !== 'default';
  if (f.scheme === 'kmeans') return runKmeans(f, formatGiven);
  if (f.format === 'container')
    throw new WhittleError(
      'BAD_ARGUMENT',
      `--format container holds k-means shared weights: use --scheme kmeans --format container, or whittle compress --recipe … for the whole Deep Compression pipeline`,
    );
  if (f.out === undefined) throw new WhittleError('BAD_ARGUMENT', 'whittle quantize needs --out Q.onnx');
  const scheme = f.scheme as QuantSchemeName;
  const format = f.format as QuantFormat;
  const keepFloat = f.keepFloat === 'auto' ? 'auto' : list(f.keepFloat);
  if (f.speedAt !== undefined && keepFloat !== 'auto')
    throw new WhittleError('BAD_ARGUMENT', '--speed-at sets what --keep-float auto times; add --keep-float auto, or leave --speed-at out');
  const speedTargets = f.speedAt === undefined ? undefined : parseSpeedAt(f.speedAt);
  // Everything checkable is checked before loading data or training.
  const { bits } = resolveQuantizeOptions({ scheme, format, bits: f.bits, clipActivations: f.clipActivations, clipWeights: f.clipWeights, keepFloat });
  // Loaded at most once: the image-dataset check may need it before the checks below.
  let loaded: ReturnType<typeof loadModel> | undefined;
  const load = (): ReturnType<typeof loadModel> => (loaded ??= loadModel(f.model, { shareWeights: true }));
  const images = usesImageDataset(f, () => load().model);
  const trainsOnOwn = !images && (scheme === 'qat' || scheme === 'binary' || scheme === 'ternary') && isOwnData(f.data);
  if (!images && !trainsOnOwn) {
    if (scheme === 'qat' || scheme === 'binary' || scheme === 'ternary')
      throw new WhittleError(
        'BAD_ARGUMENT',
        `--scheme ${scheme} trains on labelled samples (IDX/CIFAR --data, or your own labelled .npy/.npz/JSONL/image folder with --eval-data); for this model use --scheme ptq (with --data) or dynamic, or --format fp16 / int4`,
      );
    if (f.teacher !== undefined || f.clipActivations !== undefined)
      throw new WhittleError('BAD_ARGUMENT', '--teacher and --clip-activations belong to training schemes (qat, binary, ternary) on image datasets');
    if (scheme === 'ptq' && format === 'qdq' && f.data === undefined)
      throw new WhittleError(
        'BAD_ARGUMENT',
        `static int8 (--scheme ptq) calibrates activation ranges on sample inputs: pass --data (.npy, .npz, a directory of .npy, JSONL or images shaped like the model's inputs), or use --scheme dynamic, --format fp16 or --format int4, which need no data`,
      );
  }
  const { model, path } = load();
  if (existsSync(f.out) && statSync(f.out).isDirectory()) throw new WhittleError('BAD_ARGUMENT', `--out ${f.out} is a directory; pass a file name`);
  const teacher = f.teacher === undefined ? undefined : { model: loadModel(f.teacher).model, temperature: f.temperature, alpha: f.alpha };
  const t0 = performance.now();
  const events = pipelineReporter('quantize', log, { prefix: true });
  const onEvent = (e: PipelineEvent): void => {
    if (e.type === 'note') process.stderr.write(`${flagTerms(e.message, flagsOf(cmd))}\n`);
    else events(e);
  };
  const inputs = images
    ? imageInputs(f, model, path !== undefined, scheme, format)
    : trainsOnOwn
      ? ownTrainingInputs(f, model, scheme)
      : await anyInputs(f, model, scheme, format);
  const fp16Block = list(f.fp16Block);
  const exclude = list(f.exclude);
  const result = await quantizeModel(model, {
    scheme,
    format,
    bits,
    perChannel: f.perChannel,
    reduceRange: f.reduceRange,
    calibration: { method: f.calibration, percentile: f.percentile },
    samples: inputs.samples,
    clipWeights: f.clipWeights,
    clipActivations: f.clipActivations,
    blockSize: f.blockSize,
    keepFloat,
    speedTargets,
    exclude,
    opset: f.opset,
    fp16: { mode: f.fp16Mode, block: [...FP16_DEFAULT_BLOCK, ...(fp16Block ?? [])] },
    teacher,
    threads: f.threads,
    training: inputs.training,
    evaluation: inputs.evaluation,
    onEvent,
  });
  events.stop();
  const normalized = inputs.normalization !== undefined ? withNormalization(result.model, inputs.normalization) : result.model;
  // A model trained here has seen this split's training side; one only converted keeps its record.
  const out = inputs.training !== undefined && inputs.held !== undefined ? withSplit(normalized, inputs.held.record) : normalized;
  const bytes = saveModel(out, f.out, path);
  const cmp = result.comparison as ModelComparison;
  // MNIST/CIFAR: accuracy as `whittle eval` measures it (same batches, same figure); other data: the comparison's.
  let accuracy = cmp.accuracy;
  let baselineAccuracy = cmp.referenceAccuracy;
  if (inputs.test !== undefined && inputs.normalization !== undefined) {
    const evalOptions = { normalization: inputs.normalization, threads: f.threads, limit: f.evalLimit };
    accuracy = (await evaluate(out, inputs.test, evalOptions)).accuracy;
    baselineAccuracy = (await evaluate(model, inputs.test, evalOptions)).accuracy;
  }
  const fp32Bytes = 4 * parameterStats(model).params;
  const inputBytes = path !== undefined ? statSync(path).size : encodeModel(model).length;
  const shownFormat = scheme === 'binary' || scheme === 'ternary' ? 'packed' : scheme === 'dynamic' ? 'matmulinteger' : format;
  const r = {
    model: f.model,
    scheme,
    format: shownFormat,
    bits,
    out: f.out,
    bytes,
    fp32Bytes,
    compressionRatio: fp32Bytes / bytes,
    inputBytes,
    sizeRatio: bytes / inputBytes,
    accuracy: accuracy ?? null,
    baselineAccuracy: baselineAccuracy ?? null,
    accuracyDrop: accuracy !== undefined && baselineAccuracy !== undefined ? baselineAccuracy - accuracy : null,
    evalSamples: cmp.samples,
    // Output agreement with the input model on the evaluation samples (no labels needed).
    agreement: { inputs: inputs.evalFrom === 'random' ? 'random' : 'data', from: inputs.evalFrom, samples: cmp.samples, outputs: agreementJson(cmp.outputs) },
    calibration: inputs.calibration,
    perChannel: f.perChannel,
    reduceRange: f.reduceRange,
    clipWeights: f.clipWeights ?? null,
    clipActivations: f.clipActivations ?? null,
    keepFloat: result.keepFloat.length === 0 ? null : result.keepFloat.join(','),
    // With --keep-float auto: the forms timed and the one chosen.
    keepFloatAuto: result.keepFloatAuto ?? null,
    teacher: f.teacher ?? null,
    epochs: result.training?.epochs ?? null,
    layers: result.layers.map((l) => ({ name: l.name, op: l.op, bits: l.bits, params: l.params, bytes: l.bytes, sparsity: l.sparsity ?? 0 })),
    exclude: exclude ?? null,
    // The default-domain opset of the written model (static int8 upgrades models below 13 to 17).
    opset: opsetOf(out),
    fp16Mode: format === 'fp16' ? f.fp16Mode : null,
    fp16Block: format === 'fp16' ? [...FP16_DEFAULT_BLOCK, ...(fp16Block ?? [])] : null,
    skipped: result.skipped ?? [],
    // Notes speak in options like the library's errors; on the command line they name the flags.
    notes: (result.notes ?? []).map((n) => flagTerms(n, flagsOf(cmd))),
    seconds: (performance.now() - t0) / 1000,
    normalize: inputs.normalization ?? null,
    split: inputs.held?.split ?? null,
  };
  for (const n of r.notes) process.stderr.write(`note: ${n}\n`);
  const acc =
    accuracy !== undefined
      ? `accuracy ${(100 * accuracy).toFixed(2)}% (input model ${(100 * (baselineAccuracy ?? 0)).toFixed(2)}%, drop ${(100 * (r.accuracyDrop ?? 0)).toFixed(2)} points), `
      : '';
  addSummary(
    `quantize ${scheme}/${shownFormat} ${bits}-bit: ${acc}${result.layers.length} layers quantized, ${r.skipped.length} left float${result.keepFloatAuto === undefined ? '' : ` (keep-float auto kept the ${result.keepFloatAuto.form} form)`}; ${bytes.toLocaleString('en-US')} bytes (${r.compressionRatio.toFixed(2)}× vs fp32 parameters, ${(100 * r.sizeRatio).toFixed(1)}% of the input file) → ${f.out}\n` +
      `agreement with the input model on ${cmp.samples} ${inputs.evalFrom === 'random' ? 'random inputs (no --data)' : `samples (${inputs.evalFrom})`}:\n${describeAgreement(cmp)}`,
  );
  return r;
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
    .option(
      '--no-reduce-range',
      'int8: full 8-bit weights instead of 7 (the default keeps them in 7 bits so that onnxruntime computes the file correctly on x86 CPUs without VNNI, whose uint8×int8 products saturate; full range only for CPUs with VNNI, or ARM)',
    )
    .addOption(new Option('--calibration <method>', 'activation range calibration').choices([...CALIBRATION_METHODS]).default('minmax'))
    .option('--percentile <p>', 'percentile calibration: share of values kept, in percent', num('--percentile'), 99.99)
    .option('--calibration-samples <n>', 'samples used for calibration', int('--calibration-samples', 1), 512)
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
    .option(
      '--opset <n>',
      'write the model at this default-domain opset, upgrading an older model first (never downgrading); static int8 upgrades a model below 13 to 17 (an opset-13 one with HardSwish spelled out to 14) unless this says otherwise (e.g. --opset 9 keeps an opset-9 model: int8 weights, float compute)',
      int('--opset', 7),
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
      'ptq/qat/binary/ternary: comma-separated layer names left in float32 (e.g. conv1, whose int8 kernel is slow with one input channel); ptq: auto profiles the float and int8 models with onnxruntime-node here (at --speed-at) and runs each layer in int8 only where its int8 kernel is not slower (the others compute in float from int8-stored weights), then times that mix and all-int8 against all-float-compute (fp32 speed, int8 file) and keeps an int8 form only where it is clearly faster',
    )
    .option(
      '--speed-at <BxT,...>',
      'with --keep-float auto: the batch sizes and thread counts to be fast at (default 1x1,1x2,32x1,32x2; threads up to the cores)',
    );
  addLogFlag(addImageFlags(addTrainFlags(cmd, { epochs: 3, lr: 0.01, optimizer: 'momentum' }))).action(
    async (f: QuantizeFlags & { log?: string }, c: Command) => {
      // Only the training schemes have epochs to log by default; post-training quantization logs with --log.
      const trains = f.scheme === 'qat' || f.scheme === 'binary' || f.scheme === 'ternary';
      const log = openCommandLog(resolveLogPath(f.log, trains ? f.out : undefined), 'quantize', f.model);
      try {
        const r = await runQuantize(f, c, log);
        log?.write({ type: 'result', result: r });
        emit(Boolean(f.json), r);
      } finally {
        log?.close();
      }
    },
  );
}
