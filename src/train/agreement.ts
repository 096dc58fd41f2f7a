// How closely one model's outputs follow another's: pure arithmetic over output arrays, fed batch
// by batch, so a compressed model can be judged against its original without labels.
import { checkLabelRange } from '../data/index.js';

/** Agreement of one output of a model with the same output of a reference. */
export interface OutputAgreement {
  name: string;
  /** Elements compared. */
  values: number;
  /**
   * Share of positions whose arg-max over axis 1 (the classes of [N, C] or [N, C, ...] float
   * scores) is the same; undefined when the output is not class scores.
   */
  top1: number | undefined;
  /** Mean over samples of the cosine similarity of each sample's flattened output (1 when both are zero). */
  cosine: number;
  maxAbsError: number;
  meanAbsError: number;
  /** 10·log10(Σ ref² / Σ (out − ref)²) over all values; Infinity when they are identical. */
  sqnrDb: number;
  /** True when every value is identical. */
  exact: boolean;
}

/**
 * Accumulates agreement figures over batches of one output.
 *
 * ```ts
 * const m = new AgreementMeter('logits', true);
 * m.add(outBatch, refBatch, [32, 10]);
 * const { top1, cosine, sqnrDb } = m.result();
 * ```
 */
export class AgreementMeter {
  readonly name: string;
  readonly #classScores: boolean;
  #values = 0;
  #samples = 0;
  #cosineSum = 0;
  #maxAbs = 0;
  #absSum = 0;
  #signal = 0;
  #noise = 0;
  #positions = 0;
  #agree = 0;

  /** `classScores`: the output holds float class scores on axis 1, so top-1 agreement applies. */
  constructor(name: string, classScores: boolean) {
    this.name = name;
    this.#classScores = classScores;
  }

  /** Adds one batch: `out` and `ref` in C order, laid out `dims` (axis 0 = samples). */
  add(out: ArrayLike<number>, ref: ArrayLike<number>, dims: readonly number[]): void {
    if (out.length !== ref.length) throw new RangeError(`output "${this.name}": ${out.length} values against the reference's ${ref.length}`);
    const n = dims.length === 0 ? 1 : (dims[0] as number);
    const per = n === 0 ? 0 : out.length / n;
    for (let s = 0; s < n; s++) {
      let dot = 0;
      let na = 0;
      let nb = 0;
      for (let i = s * per; i < (s + 1) * per; i++) {
        const a = out[i] as number;
        const b = ref[i] as number;
        const d = Math.abs(a - b);
        dot += a * b;
        na += a * a;
        nb += b * b;
        if (d > this.#maxAbs || Number.isNaN(d)) this.#maxAbs = d;
        this.#absSum += d;
        this.#noise += d * d;
      }
      this.#signal += nb;
      this.#cosineSum += na === 0 && nb === 0 ? 1 : na === 0 || nb === 0 ? 0 : dot / Math.sqrt(na * nb);
    }
    this.#samples += n;
    this.#values += out.length;
    if (this.#classScores && dims.length >= 2) {
      const c = dims[1] as number;
      const inner = per / c;
      for (let s = 0; s < n; s++) {
        for (let j = 0; j < inner; j++) {
          const base = s * per + j;
          if (argmaxStrided(out, base, c, inner) === argmaxStrided(ref, base, c, inner)) this.#agree++;
          this.#positions++;
        }
      }
    }
  }

  result(): OutputAgreement {
    const exact = this.#noise === 0 && this.#maxAbs === 0;
    return {
      name: this.name,
      values: this.#values,
      top1: this.#classScores ? (this.#positions === 0 ? undefined : this.#agree / this.#positions) : undefined,
      cosine: this.#samples === 0 ? Number.NaN : this.#cosineSum / this.#samples,
      maxAbsError: this.#maxAbs,
      meanAbsError: this.#values === 0 ? 0 : this.#absSum / this.#values,
      sqnrDb: exact ? Number.POSITIVE_INFINITY : 10 * Math.log10(this.#signal / this.#noise),
      exact,
    };
  }
}

/** Index of the largest of `count` values at `base`, `base + stride`, ... (the first on ties, as ONNX ArgMax). */
export function argmaxStrided(values: ArrayLike<number>, base: number, count: number, stride: number): number {
  let best = 0;
  let bestValue = values[base] as number;
  for (let k = 1; k < count; k++) {
    const v = values[base + k * stride] as number;
    if (v > bestValue) (best = k), (bestValue = v);
  }
  return best;
}

/**
 * Agreement of two whole outputs at once (a one-batch `AgreementMeter`).
 *
 * ```ts
 * outputAgreement('y', Float32Array.of(1, 2), Float32Array.of(1, 2.5), [1, 2], true).maxAbsError; // 0.5
 * ```
 */
export function outputAgreement(name: string, out: ArrayLike<number>, ref: ArrayLike<number>, dims: readonly number[], classScores: boolean): OutputAgreement {
  const m = new AgreementMeter(name, classScores);
  m.add(out, ref, dims);
  return m.result();
}

/**
 * Counts predictions (arg-max over axis 1 of [N, C] scores) equal to the labels.
 *
 * ```ts
 * correctPredictions(Float32Array.of(0.1, 0.9, 0.8, 0.2), [2, 2], Int32Array.of(1, 1)); // 1
 * ```
 */
export function correctPredictions(scores: ArrayLike<number>, dims: readonly number[], labels: ArrayLike<number>): number {
  const n = dims[0] as number;
  const c = dims[1] as number;
  checkLabelRange(Array.prototype.slice.call(labels, 0, n) as number[], c, 'the data');
  let correct = 0;
  for (let s = 0; s < n; s++) if (argmaxStrided(scores, s * c, c, 1) === labels[s]) correct++;
  return correct;
}
