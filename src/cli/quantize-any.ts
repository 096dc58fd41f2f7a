// `whittle quantize` for any model (the path taken when --data is .npy/.npz/JSONL/images, or when
// there is no --data and the model does not take MNIST images): calibration from the user's
// samples, agreement with the input model instead of accuracy when there are no labels, random
// inputs shaped like the model's when there is no data at all.
import { existsSync, rmSync, statSync } from 'node:fs';
import type { TensorDataset } from '../data/index.js';
import { detectDataSource, feedInputs, limitTensorDataset, loadDataForModel, randomTensorDataset } from '../data/index.js';
import { quantizeModel, resolveQuantizeOptions } from '../pipeline/index.js';
import type { CalibrationMethod } from '../compress/quantize/index.js';
import type { QuantFormat, QuantSchemeName } from '../pipeline/index.js';
import { FP16_DEFAULT_BLOCK } from '../export/fp16.js';
import { WhittleError } from '../ir/errors.js';
import { encodeModel } from '../ir/onnx.js';
import { sizeOf } from '../ir/tensor.js';
import type { TensorData } from '../ir/tensor.js';
import { ZOO_NAMES } from '../nn/index.js';
import { compareModels } from '../train/compare.js';
import { agreementJson, describeAgreement } from './eval.js';
import { loadModel, saveModel } from './load.js';

/** The flags this path reads (a subset of `whittle quantize`'s). */
export interface AnyModelQuantizeFlags {
  model: string;
  out?: string;
  data?: string;
  evalData?: string;
  scheme: string;
  format: string;
  bits?: number;
  perChannel: boolean;
  calibration: CalibrationMethod;
  percentile: number;
  calibSamples: number;
  blockSize: number;
  evalLimit?: number;
  keepFloat?: string;
  exclude?: string;
  fp16Block?: string;
  fp16Mode: 'weights' | 'compute';
  teacher?: string;
  clipWeights?: number;
  clipActivations?: string;
  seed: number;
  threads: number;
}

/**
 * Whether `whittle quantize` takes the MNIST/CIFAR path: IDX/CIFAR --data, a zoo model, or no
 * --data and a model whose one float32 input takes 784 values per sample.
 */
export function usesImageDataset(f: { model: string; data?: string }): boolean {
  if (f.data !== undefined) return !existsSync(f.data) || ['idx', 'cifar'].includes(detectDataSource(f.data));
  if ((ZOO_NAMES as readonly string[]).includes(f.model.split(':')[0] ?? '') && !existsSync(f.model)) return true;
  const inputs = feedInputs(loadModel(f.model).model);
  const per = inputs[0]?.shape.slice(1) ?? [];
  return (
    inputs.length === 1 &&
    inputs[0]?.dtype === 'float32' &&
    per.every((d) => typeof d === 'number') &&
    per.reduce<number>((a, d) => a * (d as number), 1) === 784
  );
}

/** Samples `start ..` of a dataset (views, no copy). */
function dropFirst(ds: TensorDataset, start: number): TensorDataset {
  const inputs = ds.inputs.map((t) => ({ ...t, data: t.data.subarray(start * sizeOf(t.shape)) as TensorData }));
  return { ...ds, count: ds.count - start, inputs, labels: ds.labels?.subarray(start) };
}

const list = (v: string | undefined): string[] | undefined =>
  v
    ?.split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');

/**
 * Quantizes any ONNX model; the result JSON carries `agreement` with the input model (on
 * --eval-data, else the --data samples calibration did not use, else random inputs) and, with
 * labels, accuracy.
 */
export async function quantizeAnyModel(f: AnyModelQuantizeFlags): Promise<Record<string, unknown>> {
  if (f.out === undefined) throw new WhittleError('BAD_ARGUMENT', 'whittle quantize needs --out Q.onnx');
  const scheme = f.scheme as QuantSchemeName;
  const format = f.format as QuantFormat;
  const { bits } = resolveQuantizeOptions({ scheme, format, bits: f.bits, clipWeights: f.clipWeights });
  if (scheme === 'qat' || scheme === 'binary' || scheme === 'ternary')
    throw new WhittleError(
      'BAD_ARGUMENT',
      `--scheme ${scheme} trains on labelled images (IDX/CIFAR --data); for this model use --scheme ptq (with --data) or dynamic, or --format fp16 / int4`,
    );
  if (f.keepFloat === 'auto')
    throw new WhittleError('BAD_ARGUMENT', '--keep-float auto times MNIST/CIFAR batches; name the nodes or op types to keep float with --exclude');
  if (f.teacher !== undefined || f.clipActivations !== undefined)
    throw new WhittleError('BAD_ARGUMENT', '--teacher and --clip-activations belong to training schemes (qat, binary, ternary) on image datasets');
  const needsData = scheme === 'ptq' && format === 'qdq';
  if (needsData && f.data === undefined)
    throw new WhittleError(
      'BAD_ARGUMENT',
      `static int8 (--scheme ptq) calibrates activation ranges on sample inputs: pass --data (.npy, .npz, a directory of .npy, JSONL or images shaped like the model's inputs), or use --scheme dynamic, --format fp16 or --format int4, which need no data`,
    );
  const { model, path } = loadModel(f.model);
  if (path !== undefined && existsSync(f.out) && statSync(f.out).isDirectory())
    throw new WhittleError('BAD_ARGUMENT', `--out ${f.out} is a directory; pass a file name`);
  const t0 = performance.now();
  const data = f.data !== undefined ? loadDataForModel(model, f.data) : undefined;
  const calib = needsData && data !== undefined ? limitTensorDataset(data, f.calibSamples) : undefined;
  // Agreement on samples calibration did not see when there are any.
  let evalSet: TensorDataset;
  let evalFrom: string;
  if (f.evalData !== undefined) [evalSet, evalFrom] = [loadDataForModel(model, f.evalData), 'eval-data'];
  else if (data !== undefined && calib !== undefined && data.count > calib.count)
    [evalSet, evalFrom] = [dropFirst(data, calib.count), 'data (samples after the calibration ones)'];
  else if (data !== undefined) [evalSet, evalFrom] = [data, calib !== undefined ? 'data (the calibration samples themselves)' : 'data'];
  else [evalSet, evalFrom] = [randomTensorDataset(model, { count: f.evalLimit ?? 64, seed: f.seed }), 'random'];
  if (f.evalLimit !== undefined) evalSet = limitTensorDataset(evalSet, f.evalLimit);
  const exclude = list(f.exclude);
  const fp16Block = list(f.fp16Block);
  const result = await quantizeModel(model, {
    scheme,
    format,
    bits,
    perChannel: f.perChannel,
    calibration: { method: f.calibration, percentile: f.percentile },
    samples: calib,
    clipWeights: f.clipWeights,
    blockSize: f.blockSize,
    keepFloat: f.keepFloat === undefined ? undefined : list(f.keepFloat),
    exclude,
    fp16: { mode: f.fp16Mode, block: fp16Block === undefined ? FP16_DEFAULT_BLOCK : [...FP16_DEFAULT_BLOCK, ...fp16Block] },
    threads: f.threads,
  });
  const cmp = await compareModels(result.model, model, evalSet, { threads: f.threads });
  let bytes: number;
  try {
    bytes = saveModel(result.model, f.out, path);
  } catch (e) {
    if (existsSync(f.out) && !(e instanceof WhittleError && e.code === 'BAD_ARGUMENT')) rmSync(f.out, { force: true });
    throw e;
  }
  const inputBytes = path !== undefined ? statSync(path).size : encodeModel(model).length;
  const shownFormat = format === 'qdq' ? (scheme === 'dynamic' ? 'matmulinteger' : 'qdq') : format === 'fp16' ? `fp16-${f.fp16Mode}` : format;
  const r = {
    model: f.model,
    scheme: format === 'qdq' ? scheme : null,
    format: shownFormat,
    bits,
    out: f.out,
    bytes,
    inputBytes,
    sizeRatio: bytes / inputBytes,
    agreement: { inputs: evalFrom === 'random' ? 'random' : 'data', from: evalFrom, samples: cmp.samples, outputs: agreementJson(cmp.outputs) },
    accuracy: cmp.accuracy ?? null,
    baselineAccuracy: cmp.referenceAccuracy ?? null,
    accuracyDrop: cmp.accuracy !== undefined && cmp.referenceAccuracy !== undefined ? cmp.referenceAccuracy - cmp.accuracy : null,
    calibration: calib !== undefined ? { method: f.calibration, samples: calib.count, data: f.data } : null,
    perChannel: f.perChannel,
    exclude: exclude ?? null,
    fp16Block: format === 'fp16' ? [...FP16_DEFAULT_BLOCK, ...(fp16Block ?? [])] : null,
    layers: result.layers.map((l) => ({ name: l.name, op: l.op, bits: l.bits, params: l.params, bytes: l.bytes })),
    skipped: result.skipped ?? [],
    notes: result.notes ?? [],
    seconds: (performance.now() - t0) / 1000,
  };
  process.stderr.write(
    `quantize ${scheme}/${shownFormat}: ${result.layers.length} layers quantized, ${r.skipped.length} left float; ${bytes.toLocaleString('en-US')} bytes (${(100 * r.sizeRatio).toFixed(1)}% of the input file) → ${f.out}\n`,
  );
  for (const n of r.notes) process.stderr.write(`note: ${n}\n`);
  process.stderr.write(
    `agreement with the input model on ${cmp.samples} ${evalFrom === 'random' ? 'random inputs (no --data)' : `samples (${evalFrom})`}${cmp.accuracy !== undefined ? `; accuracy ${(100 * cmp.accuracy).toFixed(2)}% (input model ${(100 * (cmp.referenceAccuracy ?? 0)).toFixed(2)}%)` : ''}:\n${describeAgreement(cmp)}`,
  );
  return r;
}
