// Sparse storage of unstructured-pruned weights and honest byte accounting. Each float tensor is
// stored in the smallest of three forms, chosen per tensor: dense, a bitmap of nonzeros plus the
// nonzero values, or relative indices (Han et al.: an 8-bit gap before each nonzero, with a zero
// filler entry when a gap exceeds 255) plus the values. Bytes counted are the bytes encodeSparse
// writes, so `sparseBytes` is what a file in this form needs for the weights.
import { WhittleError } from '../../ir/errors.js';
import type { Model } from '../../ir/graph.js';
import type { DType } from '../../ir/tensor.js';
import { bytesPerElement, Tensor } from '../../ir/tensor.js';

export type SparseForm = 'dense' | 'bitmap' | 'relative';

const FORM_CODE: Record<SparseForm, number> = { dense: 0, bitmap: 1, relative: 2 };
const MAX_GAP = 255;

export interface TensorStorage {
  name: string;
  dims: number[];
  params: number;
  nonzero: number;
  denseBytes: number;
  sparseBytes: number;
  form: SparseForm;
}

export interface SparseStats {
  params: number;
  nonzeroParams: number;
  /** Bytes of every initializer stored dense. */
  denseBytes: number;
  /** Bytes of every initializer in its smallest form (encodeSparse's output, 1-byte form tag + 4-byte count included). */
  sparseBytes: number;
  tensors: TensorStorage[];
}

type Floats = Float32Array | Float64Array;
const isFloat = (d: DType): boolean => d === 'float32' || d === 'float64';

function relativeEntries(d: Floats): number {
  let entries = 0;
  let last = -1;
  for (let i = 0; i < d.length; i++) {
    if (d[i] === 0) continue;
    const gap = i - last - 1;
    entries += 1 + Math.floor(gap / (MAX_GAP + 1));
    last = i;
  }
  return entries;
}

/** Bytes of each form for one tensor (header excluded). */
function formBytes(t: Tensor): Record<SparseForm, number> {
  const bpe = bytesPerElement(t.dtype);
  const dense = t.size * bpe;
  if (!isFloat(t.dtype)) return { dense, bitmap: Infinity, relative: Infinity };
  const d = t.data as Floats;
  let nz = 0;
  for (let i = 0; i < d.length; i++) if (d[i] !== 0) nz++;
  return { dense, bitmap: Math.ceil(t.size / 8) + nz * bpe, relative: relativeEntries(d) * (1 + bpe) };
}

function bestForm(t: Tensor): { form: SparseForm; bytes: number } {
  const b = formBytes(t);
  let form: SparseForm = 'dense';
  for (const f of ['bitmap', 'relative'] as const) if (b[f] < b[form]) form = f;
  return { form, bytes: b[form] };
}

/**
 * Encodes a tensor in its smallest form: [form u8][count u32 LE][payload].
 *
 * ```ts
 * const bytes = encodeSparse(model.graph.initializers.get('fc1.weight')!);
 * ```
 */
export function encodeSparse(t: Tensor): Uint8Array {
  const { form, bytes } = bestForm(t);
  const out = new Uint8Array(5 + bytes);
  const view = new DataView(out.buffer);
  out[0] = FORM_CODE[form];
  const raw = new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
  const bpe = bytesPerElement(t.dtype);
  if (form === 'dense') {
    view.setUint32(1, t.size, true);
    out.set(raw, 5);
    return out;
  }
  const d = t.data as Floats;
  const put = (at: number, v: number): void => (bpe === 8 ? view.setFloat64(at, v, true) : view.setFloat32(at, v, true));
  if (form === 'bitmap') {
    let nz = 0;
    let at = 5 + Math.ceil(t.size / 8);
    for (let i = 0; i < d.length; i++) {
      if (d[i] === 0) continue;
      out[5 + (i >> 3)] = (out[5 + (i >> 3)] as number) | (1 << (i & 7));
      put(at, d[i] as number);
      at += bpe;
      nz++;
    }
    view.setUint32(1, nz, true);
    return out;
  }
  let at = 5;
  let entries = 0;
  let last = -1;
  for (let i = 0; i < d.length; i++) {
    if (d[i] === 0) continue;
    let gap = i - last - 1;
    while (gap > MAX_GAP) {
      out[at] = MAX_GAP;
      put(at + 1, 0);
      at += 1 + bpe;
      entries++;
      gap -= MAX_GAP + 1;
    }
    out[at] = gap;
    put(at + 1, d[i] as number);
    at += 1 + bpe;
    entries++;
    last = i;
  }
  view.setUint32(1, entries, true);
  return out;
}

/** Inverse of encodeSparse. */
export function decodeSparse(bytes: Uint8Array, dtype: DType, dims: readonly number[]): Tensor {
  const t = new Tensor(dtype, dims);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const bpe = bytesPerElement(dtype);
  const form = bytes[0];
  const count = view.getUint32(1, true);
  if (form === FORM_CODE.dense) {
    new Uint8Array(t.data.buffer).set(bytes.subarray(5, 5 + t.size * bpe));
    return t;
  }
  const d = t.data as Floats;
  const get = (at: number): number => (bpe === 8 ? view.getFloat64(at, true) : view.getFloat32(at, true));
  if (form === FORM_CODE.bitmap) {
    let at = 5 + Math.ceil(t.size / 8);
    for (let i = 0; i < t.size; i++) {
      if (((bytes[5 + (i >> 3)] as number) >> (i & 7)) & 1) {
        d[i] = get(at);
        at += bpe;
      }
    }
    return t;
  }
  if (form !== FORM_CODE.relative) throw new WhittleError('BAD_DATA', `unknown sparse form ${String(form)}`);
  let pos = -1;
  for (let e = 0, at = 5; e < count; e++, at += 1 + bpe) {
    pos += (bytes[at] as number) + 1;
    d[pos] = get(at + 1);
  }
  return t;
}

/**
 * Parameters, nonzeros, dense bytes and sparse bytes of every initializer.
 *
 * ```ts
 * const s = sparseStats(model);
 * console.log(s.nonzeroParams, s.denseBytes, s.sparseBytes);
 * ```
 */
export function sparseStats(model: Model): SparseStats {
  const tensors: TensorStorage[] = [];
  for (const [name, t] of model.graph.initializers) {
    const dense = t.size * bytesPerElement(t.dtype);
    const { form, bytes } = bestForm(t);
    let nz = 0;
    for (let i = 0; i < t.size; i++) if (t.data[i] !== 0 && t.data[i] !== 0n) nz++;
    tensors.push({
      name,
      dims: [...t.dims],
      params: isFloat(t.dtype) ? t.size : 0,
      nonzero: isFloat(t.dtype) ? nz : 0,
      denseBytes: dense,
      sparseBytes: 5 + bytes,
      form,
    });
  }
  const sum = (f: (x: TensorStorage) => number): number => tensors.reduce((a, x) => a + f(x), 0);
  return {
    params: sum((x) => x.params),
    nonzeroParams: sum((x) => x.nonzero),
    denseBytes: sum((x) => x.denseBytes),
    sparseBytes: sum((x) => x.sparseBytes),
    tensors,
  };
}
