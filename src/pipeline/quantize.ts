// One entry point for every quantization scheme: validates the combination of scheme, format
// and bits before any work, then runs PTQ, dynamic quantization, fp16/int4 export, or
// quantization-aware training (uniform, binary, ternary) with the clipping options.
import type { Dataset } from '../data/index.js';
import { WhittleError } from '../ir/errors.js';
import type { Model } from '../ir/graph.js';
import { Tensor } from '../ir/tensor.js';
import type { Fp16Options } from '../export/fp16.js';
import { exportFp16 } from '../export/fp16.js';
import { exportInt4 } from '../export/int4.js';
import type { TrainOptions, TrainResult } from '../train/trainer.js';
import { train } from '../train/trainer.js';
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
  training?: { data: Dataset; options: TrainOptions };
  /**
   * qat/binary/ternary: distill from this teacher while training (typically the float model the
   * quantized one comes from): the loss is α·T²·KL(teacher ‖ student) + (1 − α)·CE(labels).
   */
  teacher?: { model: Model } & Omit<DistillOptions, 'hints'>;
  /** ptq/qat/binary/ternary: layers (node names) left in float32. */
  keepFloat?: readonly string[];
  /** ptq, dynamic, int4: node names or op types left in float32. */
  exclude?: readonly string[];
  /** fp16: the form and the ops kept in float32. */
  fp16?: Fp16Options;
  /** int4: weights per block; default 32. */
  blockSize?: number;
  threads?: number;
}

export interface QuantizeModelResult extends QuantizeResult {
  scheme: QuantSchemeName;
  format: QuantFormat;
  bits: number;
  training?: TrainResult;
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
export function resolveQuantizeOptions(o: Pick<QuantizeOptions, 'scheme' | 'format' | 'bits' | 'clipActivations' | 'clipWeights'>): {
  format: QuantFormat;
  bits: number;
} {
  if (!(QUANT_SCHEMES as readonly string[]).includes(o.scheme))
    throw new WhittleError('BAD_ARGUMENT', `unknown quantization scheme "${o.scheme}"; choose one of ${QUANT_SCHEMES.join(', ')}`);
  const format = o.format ?? 'qdq';
  if (!(QUANT_FORMATS as readonly string[]).includes(format))
    throw new WhittleError('BAD_ARGUMENT', `unknown format "${format}"; choose one of ${QUANT_FORMATS.join(', ')}`);
  if (format !== 'qdq' && o.scheme !== 'ptq')
    throw new WhittleError('BAD_ARGUMENT', `--format ${format} is a post-training export; use it with --scheme ptq (got --scheme ${o.scheme})`);
  const allowed = allowedBits(o.scheme, format);
  const bits = o.bits ?? (allowed[0] as number);
  if (!allowed.includes(bits)) {
    throw new WhittleError(
      'BAD_ARGUMENT',
      `--bits ${bits} is not supported by --scheme ${o.scheme} --format ${format}; supported: ${allowed.join(', ')}${o.scheme === 'ptq' && format === 'qdq' ? ' (for 4-bit Gemm/MatMul weights use --format int4)' : ''}`,
    );
  }
  if (o.clipActivations === 'pact' && !TRAINED.has(o.scheme))
    throw new WhittleError('BAD_ARGUMENT', `--clip-activations pact learns its clip while training; use it with --scheme qat, binary or ternary, or use relu6`);
  if (o.clipWeights !== undefined && !(o.clipWeights > 0)) throw new WhittleError('BAD_ARGUMENT', `--clip-weights must be > 0, got ${o.clipWeights}`);
  return { format, bits };
}

/**
 * Quantizes a float model with any scheme Whittle supports.
 *
 * ```ts
 * const r = await quantizeModel(lenet, { scheme: 'ptq', samples, calibration: { method: 'entropy' } });
 * saveModel(r.model, 'lenet-int8.onnx');
 * ```
 */
export async function quantizeModel(model: Model, o: QuantizeOptions): Promise<QuantizeModelResult> {
  const { format, bits } = resolveQuantizeOptions(o);
  if (o.samples instanceof Tensor) checkCalibrationShape(model, o.samples);
  if (TRAINED.has(o.scheme) && o.training === undefined)
    throw new WhittleError('BAD_ARGUMENT', `--scheme ${o.scheme} trains the model; pass training data and options`);
  if (o.teacher !== undefined && !TRAINED.has(o.scheme))
    throw new WhittleError('BAD_ARGUMENT', `a teacher distills while training: use it with --scheme qat, binary or ternary (got --scheme ${o.scheme})`);
  let m = model;
  if (o.clipActivations !== undefined) m = clipActivations(m, o.clipActivations);
  const base = { scheme: o.scheme, format, bits };

  if (TRAINED.has(o.scheme)) {
    const training = o.training as { data: Dataset; options: TrainOptions };
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
    const options = { ...training.options, callbacks };
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
  if (o.scheme === 'dynamic') return { ...base, ...quantizeDynamic(m, { exclude: o.exclude }) };
  if (o.samples === undefined) throw new WhittleError('BAD_ARGUMENT', 'static post-training quantization needs calibration samples');
  const r = await quantizeStatic(m, {
    samples: o.samples,
    calibration: o.calibration,
    perChannel: o.perChannel,
    threads: o.threads,
    keepFloat: o.keepFloat,
    exclude: o.exclude,
  });
  return { ...base, model: r.model, layers: r.layers, skipped: r.skipped, notes: r.notes };
}
