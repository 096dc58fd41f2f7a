// One entry point for every quantization scheme: validates the combination of scheme, format
// and bits before any work, then runs PTQ, dynamic quantization, fp16/int4 export, or
// quantization-aware training (uniform, binary, ternary) with the clipping options; optionally
// times which layers to keep in float (keepFloat 'auto') and compares the result with its input.
import type { Dataset } from '../data/index.js';
import { WhittleError } from '../ir/errors.js';
import type { Model } from '../ir/graph.js';
import { upgradeOpset } from '../ir/opset.js';
import { SHAPE_RULES } from '../ops/index.js';
import { Tensor } from '../ir/tensor.js';
import type { Fp16Options } from '../export/fp16.js';
import { exportFp16 } from '../export/fp16.js';
import { compactValueNames } from '../export/compact-names.js';
import { exportInt4 } from '../export/int4.js';
import type { TrainOptions, TrainResult } from '../train/trainer.js';
import { train } from '../train/trainer.js';
import type { ProgressEvent } from '../train/trainer.js';
import type { TensorDataset } from '../data/index.js';
import { compareModels } from '../train/compare.js';
import type { ModelComparison } from '../train/compare.js';
import type { ActivationRange } from '../compress/quantize/calibrate.js';
import type { KeepFloatChoice, SpeedTarget } from './quantize-speed.js';
import { measuredKeepFloat } from './quantize-speed.js';
export type { KeepFloatChoice, KeepFloatForm } from './quantize-speed.js';
import type { PipelineListener } from './events.js';
import type { DistillOptions } from '../compress/distill/index.js';
import { distillStudent } from '../compress/distill/index.js';
import type { CalibrationOptions } from '../compress/quantize/calibrate.js';
import { checkCalibrationShape } from '../compress/quantize/calibrate.js';
import type { ActivationClip } from '../compress/quantize/clip.js';
import { clipActivations, clipWeights, layerWeights, weightClipCallback } from '../compress/quantize/clip.js';
import { quantizeDynamic } from '../compress/quantize/dynamic.js';
import { foldBatchNorm } from '../compress/quantize/fold-bn.js';
import type { ModelData } from '../compress/quantize/feeds.js';
import { prepareQat } from '../compress/quantize/qat.js';
import { finalizeQat } from '../compress/quantize/qat-finalize.js';
import type { QuantizeResult } from '../compress/quantize/static.js';
import { quantizeStatic } from '../compress/quantize/static.js';

export const QUANT_SCHEMES = ['ptq', 'dynamic', 'qat', 'binary', 'ternary'] as const;
export type QuantSchemeName = (typeof QUANT_SCHEMES)[number];
export const QUANT_FORMATS = ['qdq', 'fp16', 'int4'] as const;
export type QuantFormat = (typeof QUANT_FORMATS)[number];

export interface QuantizeOptions {
  scheme: QuantSchemeName;
  /** Output form; default 'qdq' (fp16 and int4 apply to ptq). */
  format?: QuantFormat;
  /** Weight bits; default per scheme (8; 4 for int4; 16 for fp16; 1 binary; 2 ternary). */
  bits?: number;
  perChannel?: boolean;
  /**
   * int8 weights that integer kernels multiply with uint8 activations in 7 bits (default true), so
   * that the file computes correctly on x86 CPUs without VNNI too (StaticQuantOptions.reduceRange).
   */
  reduceRange?: boolean;
  calibration?: CalibrationOptions;
  /**
   * Calibration inputs (ptq, qat): float32 [N, ...] in the model's normalization for a
   * single-input model, or any `ModelData` (a TensorDataset, batches of named inputs) for ptq.
   */
  samples?: ModelData;
  /** Bound the layer weights to [−A, A] (after every step when training, once otherwise). */
  clipWeights?: number;
  clipActivations?: ActivationClip;
  /** qat/binary/ternary: the data and trainer settings. */
  training?: { data: Dataset | TensorDataset; options: TrainOptions };
  /**
   * qat/binary/ternary: distill from this teacher while training (typically the float model the
   * quantized one comes from): the loss is α·T²·KL(teacher ‖ student) + (1 − α)·CE(labels).
   */
  teacher?: { model: Model } & Omit<DistillOptions, 'hints'>;
  /**
   * ptq/qat/binary/ternary: layers (node names) left in float32. 'auto' (static int8 only): profiles
   * the float and all-int8 models with onnxruntime-node at `speedTargets` and runs each layer (and
   * Add/Mul/Concat/pool) in int8 only where its int8 kernel is not slower than its float one; the
   * layers left in float compute from int8-stored weights (the file stays int8-sized). The mix is
   * timed whole against all-int8 and all-float-compute (fp32's speed); an int8 form is kept only
   * where it is clearly faster (KeepFloatChoice.margin), else all-float-compute.
   */
  keepFloat?: readonly string[] | 'auto';
  /** keepFloat 'auto': the batch sizes and thread counts to be fast at; default batch 1 and 32 at 1 and 2 threads. */
  speedTargets?: SpeedTarget[];
  /** Compare the result with the input model on these samples (agreement; accuracy with labels). */
  evaluation?: TensorDataset;
  /** Training progress (when options.training has no onProgress), the keep-float timings, hints. */
  onEvent?: PipelineListener;
  /** ptq, dynamic, int4: node names or op types left in float32. */
  exclude?: readonly string[];
  /** fp16: the form and the ops kept in float32. */
  fp16?: Fp16Options;
  /** int4: weights per block; default 32. */
  blockSize?: number;
  threads?: number;
  /**
   * The default-domain opset to write, an older model being upgraded first (upgradeOpset; never
   * downgraded). Static int8 upgrades models below opset 13 to 17 by default (its int8 kernels and
   * per-channel scales need them), and an opset-13 one with HardSwish spelled out to 14; the other
   * schemes keep the model's opset by default.
   */
  opset?: number;
}

export interface QuantizeModelResult extends QuantizeResult {
  scheme: QuantSchemeName;
  format: QuantFormat;
  bits: number;
  training?: TrainResult;
  /** The layers left in float32 (chosen, with keepFloat 'auto'). */
  keepFloat: string[];
  /** keepFloat 'auto': the forms timed and the one kept. */
  keepFloatAuto?: KeepFloatChoice;
  /** With options.evaluation: the result against the input model. */
  comparison?: ModelComparison;
}

const TRAINED = new Set<QuantSchemeName>(['qat', 'binary', 'ternary']);

/** Bits each scheme/format accepts; the first is the default. */
function allowedBits(scheme: QuantSchemeName, format: QuantFormat): number[] {
  if (format === 'fp16') return [16];
  if (format === 'int4') return [4];
  switch (scheme) {
    case 'binary':
      return [1];
    case 'ternary':
      return [2];
    case 'qat':
      return [8, 4, 2];
    default:
      return [8];
  }
}

/** Checks scheme, format and bits together; returns the bits to use. Throws BAD_ARGUMENT. */
export function resolveQuantizeOptions(o: Pick<QuantizeOptions, 'scheme' | 'format' | 'bits' | 'clipActivations' | 'clipWeights' | 'keepFloat'>): {
  format: QuantFormat;
  bits: number;
} {
  if (!(QUANT_SCHEMES as readonly string[]).includes(o.scheme))
    throw new WhittleError('BAD_ARGUMENT', `options.scheme '${o.scheme}' is not a quantization scheme; choose one of ${QUANT_SCHEMES.join(', ')}`);
  const format = o.format ?? 'qdq';
  if (!(QUANT_FORMATS as readonly string[]).includes(format))
    throw new WhittleError('BAD_ARGUMENT', `options.format '${format}' is not a quantized form; choose one of ${QUANT_FORMATS.join(', ')}`);
  if (format !== 'qdq' && o.scheme !== 'ptq')
    throw new WhittleError(
      'BAD_ARGUMENT',
      `options.format '${format}' is a post-training export; use it with options.scheme 'ptq' (got options.scheme '${o.scheme}')`,
    );
  const allowed = allowedBits(o.scheme, format);
  const bits = o.bits ?? (allowed[0] as number);
  if (!allowed.includes(bits)) {
    throw new WhittleError(
      'BAD_ARGUMENT',
      `options.bits '${bits}' is not supported by options.scheme '${o.scheme}' with options.format '${format}'; supported: ${allowed.join(', ')}${o.scheme === 'ptq' && format === 'qdq' ? " (for 4-bit Gemm/MatMul weights use options.format 'int4')" : ''}`,
    );
  }
  if (o.clipActivations === 'pact' && !TRAINED.has(o.scheme))
    throw new WhittleError(
      'BAD_ARGUMENT',
      "options.clipActivations 'pact' learns its clip while training; use it with options.scheme 'qat', 'binary' or 'ternary', or use 'relu6'",
    );
  if (o.clipWeights !== undefined && !(o.clipWeights > 0)) throw new WhittleError('BAD_ARGUMENT', `options.clipWeights must be > 0, got ${o.clipWeights}`);
  if (o.keepFloat === 'auto' && (o.scheme !== 'ptq' || format !== 'qdq'))
    throw new WhittleError(
      'BAD_ARGUMENT',
      "options.keepFloat 'auto' times static int8 forms on this machine: use it with options.scheme 'ptq' (options.format 'qdq'), or name the layers",
    );
  return { format, bits };
}

/** One quantization with a fixed list of float layers. */
async function quantizeOnce(
  model: Model,
  o: QuantizeOptions & { keepFloat?: readonly string[]; floatCompute?: readonly string[]; ranges?: ReadonlyMap<string, ActivationRange> },
): Promise<Omit<QuantizeModelResult, 'keepFloat' | 'keepFloatAuto' | 'comparison'> & { ranges?: Map<string, ActivationRange> }> {
  const { format, bits } = resolveQuantizeOptions(o);
  if (o.samples instanceof Tensor) checkCalibrationShape(model, o.samples);
  if (TRAINED.has(o.scheme) && o.training === undefined)
    throw new WhittleError('BAD_ARGUMENT', `options.scheme '${o.scheme}' trains the model; pass options.training (labelled data and trainer options)`);
  if (o.teacher !== undefined && !TRAINED.has(o.scheme))
    throw new WhittleError(
      'BAD_ARGUMENT',
      `options.teacher distills while training: use it with options.scheme 'qat', 'binary' or 'ternary' (got options.scheme '${o.scheme}')`,
    );
  let m = model;
  // Static int8 chooses its own opset (quantizeStatic) and says so in its notes.
  if (o.opset !== undefined && !(o.scheme === 'ptq' && format === 'qdq')) m = upgradeOpset(m, o.opset, { rules: SHAPE_RULES });
  if (o.clipActivations !== undefined) m = clipActivations(m, o.clipActivations);
  const base = { scheme: o.scheme, format, bits };

  if (TRAINED.has(o.scheme)) {
    const training = o.training as { data: Dataset | TensorDataset; options: TrainOptions };
    const onEvent = o.onEvent;
    const onProgress =
      training.options.onProgress ?? (onEvent === undefined ? undefined : (event: ProgressEvent) => onEvent({ type: 'train', stage: o.scheme, event }));
    const scheme = o.scheme === 'qat' ? 'uniform' : o.scheme === 'binary' ? 'binary' : 'ternary';
    if (scheme === 'uniform' && !(o.samples instanceof Tensor))
      throw new WhittleError(
        'BAD_ARGUMENT',
        'quantization-aware training needs calibration samples (one float32 [N, ...] tensor) to initialize its activation scales',
      );
    const { model: qat, plan } = await prepareQat(m, {
      scheme,
      bits,
      samples: o.samples as Tensor | undefined,
      calibration: o.calibration,
      threads: o.threads,
      keepFloat: o.keepFloat,
    });
    const callbacks = [...(training.options.callbacks ?? [])];
    if (o.clipWeights !== undefined) callbacks.push(weightClipCallback(o.clipWeights, layerWeights(qat)));
    const options = { ...training.options, callbacks, onProgress };
    const result =
      o.teacher === undefined ? await train(qat, training.data, options) : await distillStudent(o.teacher.model, qat, training.data, options, o.teacher);
    const final = finalizeQat(result.model, plan);
    return { ...base, ...final, training: result };
  }

  if (o.clipWeights !== undefined) m = clipWeights(m, o.clipWeights);
  if (format === 'fp16') {
    // BatchNorm folded first: its four per-channel vectors would each stay float32 (too small to
    // convert) and onnxruntime folds them at load anyway.
    const q = exportFp16(foldBatchNorm(m).model, o.fp16);
    return { ...base, model: q, layers: [], skipped: [], notes: [] };
  }
  if (format === 'int4') return { ...base, ...exportInt4(m, { blockSize: o.blockSize, exclude: o.exclude }) };
  if (o.scheme === 'dynamic') return { ...base, ...quantizeDynamic(m, { exclude: o.exclude, reduceRange: o.reduceRange }) };
  if (o.samples === undefined)
    throw new WhittleError(
      'BAD_ARGUMENT',
      "static int8 (options.scheme 'ptq') calibrates activation ranges on sample inputs: pass options.samples, or use options.scheme 'dynamic', options.format 'fp16' or 'int4', which need no data",
    );
  const r = await quantizeStatic(m, {
    samples: o.samples,
    calibration: o.calibration,
    perChannel: o.perChannel,
    reduceRange: o.reduceRange,
    threads: o.threads,
    keepFloat: o.keepFloat,
    exclude: o.exclude,
    floatCompute: o.floatCompute,
    ranges: o.ranges,
    opset: o.opset,
  });
  return { ...base, model: r.model, layers: r.layers, skipped: r.skipped, notes: r.notes, ranges: r.ranges };
}

/** Ungrouped Conv layers reading at most 4 channels (a grayscale or RGB first layer). */
export function fewInputChannelConvs(model: Model): string[] {
  return model.graph.nodes
    .filter((n) => n.opType === 'Conv' && (n.attributes['group']?.type !== 'int' || n.attributes['group'].value === 1))
    .filter((n) => {
      const w = model.graph.initializers.get(n.inputs[1] ?? '');
      return w !== undefined && (w.dims[1] ?? Number.POSITIVE_INFINITY) <= 4;
    })
    .map((n) => n.name);
}

type Once = Awaited<ReturnType<typeof quantizeOnce>>;

/**
 * Quantizes a float model with any scheme Whittle supports: calibration (ptq, qat), training
 * (qat, binary, ternary), the keep-float search, and the comparison with the input model.
 *
 * ```ts
 * const r = await quantizeModel(lenet, { scheme: 'ptq', samples, calibration: { method: 'entropy' } });
 * saveModel(r.model, 'lenet-int8.onnx');
 * ```
 */
export async function quantizeModel(model: Model, o: QuantizeOptions): Promise<QuantizeModelResult> {
  const { format } = resolveQuantizeOptions(o);
  let result: Awaited<ReturnType<typeof quantizeOnce>>;
  let keepFloatAuto: KeepFloatChoice | undefined;
  if (o.keepFloat === 'auto') {
    if (o.samples === undefined)
      result = await quantizeOnce(model, { ...o, keepFloat: [] }); // throws: static int8 needs samples
    else
      ({ result, choice: keepFloatAuto } = await measuredKeepFloat<Once>(model, { ...o, samples: o.samples }, (form) =>
        quantizeOnce(model, { ...o, keepFloat: [], ...form }),
      ));
  } else result = await quantizeOnce(model, { ...o, keepFloat: o.keepFloat });
  if ((o.scheme === 'ptq' || o.scheme === 'qat') && format === 'qdq' && o.keepFloat === undefined) {
    for (const name of fewInputChannelConvs(model))
      o.onEvent?.({
        type: 'note',
        message: `hint: ${name} has few input channels, where onnxruntime's int8 convolution is slower than float32 (LeNet-5's conv1: 0.86 vs 0.24 ms per batch of 64); options.keepFloat '${name}' made that model 2.0× faster than fp32 at 2 threads instead of 1.4×; options.keepFloat 'auto' profiles every layer on this machine and keeps int8 only where it is faster`,
      });
  }
  // Exporters' long value names are a large share of a small quantized file (40% of an fp16 ViT).
  const { ranges: _ranges, ...kept } = result;
  result = { ...kept, model: compactValueNames(result.model, { dropNodeNames: true }) };
  const comparison = o.evaluation === undefined ? undefined : await compareModels(result.model, model, o.evaluation, { threads: o.threads });
  const keepFloat = keepFloatAuto?.keepFloat ?? (o.keepFloat === 'auto' ? [] : [...(o.keepFloat ?? [])]);
  return { ...result, keepFloat, keepFloatAuto, comparison };
}
