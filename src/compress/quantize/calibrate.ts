// Calibration: runs the float model on sample inputs, records each activation's range and
// histogram, and picks the range to quantize by min-max, percentile, MSE or entropy (KL).
import { WhittleError } from '../../ir/errors.js';
import type { Model } from '../../ir/graph.js';
import { GraphBuilder } from '../../ir/graph.js';
import { Tensor } from '../../ir/tensor.js';
import type { Feeds } from '../../runtime/session.js';
import { Session } from '../../runtime/session.js';
import type { QuantScheme } from '../../export/affine.js';
import { quantizeValue, quantRange, rangeToParams } from '../../export/affine.js';
import type { ModelData } from './feeds.js';
import { collectFeeds } from './feeds.js';

export const CALIBRATION_METHODS = ['minmax', 'percentile', 'mse', 'entropy'] as const;
export type CalibrationMethod = (typeof CALIBRATION_METHODS)[number];

export interface CalibrationOptions {
  method: CalibrationMethod;
  /** For 'percentile': the share of values kept inside the range, in percent; default 99.99. */
  percentile?: number;
  /** Histogram bins per sign; default 2048. */
  bins?: number;
  batchSize?: number;
  threads?: number;
}

/** What calibration learned about one activation. */
export interface ActivationRange {
  min: number;
  max: number;
  /** The range chosen to quantize (inside [min, max]). */
  lo: number;
  hi: number;
}

/** Counts over [−amax, amax] in 2·bins equal bins. */
interface Histogram {
  min: number;
  max: number;
  amax: number;
  counts: Float64Array;
}

/** Throws SHAPE_MISMATCH unless `samples` is [N, ...the model input's per-sample dims]. */
export function checkCalibrationShape(model: Model, samples: Tensor): void {
  const info = model.graph.inputs[0];
  if (info === undefined) throw new WhittleError('INVALID_GRAPH', 'the model has no input to calibrate');
  const per = info.shape.slice(1);
  const have = samples.dims.slice(1);
  const fixed = per.every((d): d is number => typeof d === 'number');
  const mismatch = samples.dims.length !== info.shape.length || (fixed && per.some((d, i) => d !== have[i]));
  if (mismatch || samples.dtype !== 'float32' || (samples.dims[0] ?? 0) < 1) {
    throw new WhittleError(
      'SHAPE_MISMATCH',
      `calibration data must be float32 [N, ${per.join(', ')}] for model input "${info.name}", got ${samples.dtype} [${samples.dims.join(', ')}]; pass samples of the data the model was trained on`,
    );
  }
}

/**
 * Runs the batches with each named value as an extra output, flattened: a Reshape to [-1] gives
 * every tap a rank-1 output whatever the value's rank, so no shape rule is needed for any op and
 * onnxruntime's own shape inference is never contradicted.
 */
async function forEachBatch(
  model: Model,
  batches: readonly Feeds[],
  names: readonly string[],
  o: CalibrationOptions,
  visit: (name: string, data: Float32Array) => void,
): Promise<void> {
  const g = model.graph.clone();
  const b = new GraphBuilder(g, 'calib');
  const flat = b.constant(Tensor.int64([-1]), 'flat');
  const taps = names.map((n) => b.op1('Reshape', [n, flat]));
  g.outputs = taps.map((t, i) => ({ name: t, dtype: 'float32', shape: [`calib_${i}`] }));
  const session = await Session.create({ ...model, graph: g }, { threads: o.threads });
  try {
    for (const feeds of batches) {
      const r = await session.run(feeds, taps);
      names.forEach((name, i) => visit(name, r[taps[i] as string]?.data as Float32Array));
    }
  } finally {
    await session.release();
  }
}

/**
 * Runs `samples` (one float32 [N, ...] tensor, or batches of named inputs) through `model` and
 * returns the range to quantize for each named activation.
 *
 * ```ts
 * const ranges = await calibrate(model, samples, ['relu1'], { method: 'entropy' });
 * ```
 */
export async function calibrate(
  model: Model,
  samples: ModelData,
  names: readonly string[],
  o: CalibrationOptions,
  scheme: QuantScheme = { bits: 8, signed: false, symmetric: false },
): Promise<Map<string, ActivationRange>> {
  if (samples instanceof Tensor) checkCalibrationShape(model, samples);
  const batches = await collectFeeds(model, samples, o.batchSize ?? 256);
  if (names.length === 0) return new Map();
  const bins = o.bins ?? 2048;
  const hist = new Map<string, Histogram>();
  for (const n of names) hist.set(n, { min: Infinity, max: -Infinity, amax: 0, counts: new Float64Array(2 * bins) });
  await forEachBatch(model, batches, names, o, (name, d) => {
    const h = hist.get(name) as Histogram;
    for (let i = 0; i < d.length; i++) {
      const v = d[i] as number;
      if (v < h.min) h.min = v;
      if (v > h.max) h.max = v;
    }
  });
  const out = new Map<string, ActivationRange>();
  if (o.method === 'minmax') {
    for (const [name, h] of hist) out.set(name, { min: h.min, max: h.max, lo: h.min, hi: h.max });
    return out;
  }
  for (const h of hist.values()) h.amax = Math.max(Math.abs(h.min), Math.abs(h.max), 1e-12);
  await forEachBatch(model, batches, names, o, (name, d) => {
    const h = hist.get(name) as Histogram;
    const k = bins / h.amax;
    for (let i = 0; i < d.length; i++) {
      const b = Math.min(2 * bins - 1, Math.max(0, Math.floor((d[i] as number) * k) + bins));
      h.counts[b] = (h.counts[b] as number) + 1;
    }
  });
  for (const [name, h] of hist) {
    const [lo, hi] = o.method === 'percentile' ? percentileRange(h, o.percentile ?? 99.99) : o.method === 'mse' ? mseRange(h, scheme) : entropyRange(h, scheme);
    out.set(name, { min: h.min, max: h.max, lo: Math.max(h.min, Math.min(lo, 0)), hi: Math.min(h.max, Math.max(hi, 0)) });
  }
  return out;
}

const binWidth = (h: Histogram): number => h.amax / (h.counts.length / 2);

/** The central `p` percent of the values. */
function percentileRange(h: Histogram, p: number): [number, number] {
  if (!(p > 0 && p <= 100)) throw new WhittleError('BAD_ARGUMENT', `percentile must be in (0, 100], got ${p}`);
  const total = h.counts.reduce((a, b) => a + b, 0);
  // Non-negative activations (after ReLU) lose only their upper tail.
  const tail = (total * (100 - p)) / 100 / (h.min >= 0 ? 1 : 2);
  const w = binWidth(h);
  const half = h.counts.length / 2;
  let acc = 0;
  let lo = h.min;
  for (let i = 0; i < h.counts.length; i++) {
    acc += h.counts[i] as number;
    if (acc > tail) {
      lo = (i - half) * w;
      break;
    }
  }
  acc = 0;
  let hi = h.max;
  for (let i = h.counts.length - 1; i >= 0; i--) {
    acc += h.counts[i] as number;
    if (acc > tail) {
      hi = (i + 1 - half) * w;
      break;
    }
  }
  return [h.min >= 0 ? 0 : lo, hi];
}

/** The shrink of [min, max] whose quantization error over the histogram is least. */
function mseRange(h: Histogram, scheme: QuantScheme): [number, number] {
  const [qmin, qmax] = quantRange(scheme);
  const w = binWidth(h);
  const half = h.counts.length / 2;
  let best: [number, number] = [h.min, h.max];
  let bestErr = Infinity;
  for (let k = 1; k <= 100; k++) {
    const a = k / 100;
    const lo = h.min * a;
    const hi = h.max * a;
    const { scale, zeroPoint } = rangeToParams(lo, hi, scheme);
    let err = 0;
    for (let i = 0; i < h.counts.length; i++) {
      const n = h.counts[i] as number;
      if (n === 0) continue;
      const c = (i + 0.5 - half) * w;
      const d = c - (quantizeValue(c, scale, zeroPoint, qmin, qmax) - zeroPoint) * scale;
      err += n * d * d;
    }
    if (err < bestErr) {
      bestErr = err;
      best = [lo, hi];
    }
  }
  return best;
}

/** TensorRT's entropy calibration: the |x| threshold whose quantized histogram is closest in KL. */
function entropyRange(h: Histogram, scheme: QuantScheme): [number, number] {
  const half = h.counts.length / 2;
  const abs = new Float64Array(half);
  for (let i = 0; i < half; i++) abs[i] = (h.counts[half + i] as number) + (h.counts[half - 1 - i] as number);
  // Levels available on the side that matters: all 2^bits for non-negative data, half otherwise.
  const levels = h.min >= 0 ? 2 ** scheme.bits : 2 ** (scheme.bits - 1);
  let bestT = half;
  let bestKl = Infinity;
  const step = Math.max(1, Math.floor((half - levels) / 256));
  for (let t = Math.min(levels, half); t <= half; t += step) {
    const p = abs.slice(0, t);
    let outliers = 0;
    for (let i = t; i < half; i++) outliers += abs[i] as number;
    p[t - 1] = (p[t - 1] as number) + outliers;
    const q = new Float64Array(t);
    for (let j = 0; j < levels; j++) {
      const a = Math.floor((j * t) / levels);
      const b = Math.max(a + 1, Math.floor(((j + 1) * t) / levels));
      let sum = 0;
      let nonzero = 0;
      for (let i = a; i < b && i < t; i++) {
        sum += abs[i] as number;
        if ((abs[i] as number) > 0) nonzero++;
      }
      for (let i = a; i < b && i < t; i++) if ((abs[i] as number) > 0) q[i] = sum / nonzero;
    }
    const kl = klDivergence(p, q);
    if (kl < bestKl) {
      bestKl = kl;
      bestT = t;
    }
  }
  const threshold = bestT * binWidth(h);
  return [-threshold, threshold];
}

function klDivergence(p: Float64Array, q: Float64Array): number {
  let ps = 0;
  let qs = 0;
  for (let i = 0; i < p.length; i++) {
    ps += p[i] as number;
    qs += q[i] as number;
  }
  if (ps === 0 || qs === 0) return Infinity;
  let kl = 0;
  for (let i = 0; i < p.length; i++) {
    const pi = (p[i] as number) / ps;
    if (pi === 0) continue;
    const qi = (q[i] as number) / qs;
    // A value the quantized histogram cannot represent: penalize heavily rather than infinitely.
    kl += pi * Math.log(pi / (qi > 0 ? qi : 1e-10));
  }
  return kl;
}
