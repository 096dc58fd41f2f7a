// Checkpoints: one binary file, written to a temporary name and renamed into place so a kill at
// any moment leaves either the old checkpoint or the new one, never half of one.
//   'WHTLCKPT' | u32 header length | JSON header | raw tensor bytes (little-endian)
import { readFileSync } from 'node:fs';
import { WhittleError } from '../ir/errors.js';
import { writeFileAtomic } from '../ir/io.js';
import type { DType } from '../ir/tensor.js';
import { allocate, bytesPerElement, Tensor } from '../ir/tensor.js';

const MAGIC = 'WHTLCKPT';

export interface CheckpointTensor {
  name: string;
  dtype: DType;
  dims: number[];
  offset: number;
  bytes: number;
}

export interface Checkpoint<M> {
  meta: M;
  tensors: Map<string, Tensor>;
}

// JSON has no Infinity or NaN (it writes null), yet a run's meta holds them: an unset best loss is
// +Infinity. They travel as { $number: 'Infinity' } and come back as numbers.
const NON_FINITE = '$number';

function encodeNonFinite(_key: string, value: unknown): unknown {
  return typeof value === 'number' && !Number.isFinite(value) ? { [NON_FINITE]: String(value) } : value;
}

function decodeNonFinite(_key: string, value: unknown): unknown {
  if (typeof value !== 'object' || value === null) return value;
  const keys = Object.keys(value);
  const v = (value as Record<string, unknown>)[NON_FINITE];
  return keys.length === 1 && (v === 'Infinity' || v === '-Infinity' || v === 'NaN') ? Number(v) : value;
}

/**
 * Writes `meta` (JSON-able) and `tensors` to one file, atomically.
 *
 * ```ts
 * saveCheckpoint('run.ckpt', { epoch: 3 }, new Map([['fc.weight', w]]));
 * ```
 */
export function saveCheckpoint<M>(path: string, meta: M, tensors: ReadonlyMap<string, Tensor>): void {
  const entries: CheckpointTensor[] = [];
  let offset = 0;
  for (const [name, t] of tensors) {
    const bytes = t.data.byteLength;
    entries.push({ name, dtype: t.dtype, dims: [...t.dims], offset, bytes });
    offset += bytes;
  }
  const header = new TextEncoder().encode(JSON.stringify({ version: 1, meta, tensors: entries }, encodeNonFinite));
  const prefix = new Uint8Array(12);
  prefix.set(new TextEncoder().encode(MAGIC));
  new DataView(prefix.buffer).setUint32(8, header.length, true);
  const chunks: Uint8Array[] = [prefix, header];
  for (const t of tensors.values()) chunks.push(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength));
  writeFileAtomic(path, chunks);
}

/**
 * Reads a file written by `saveCheckpoint`; a damaged or foreign file is a BAD_DATA error.
 *
 * ```ts
 * const { meta, tensors } = loadCheckpoint<{ epoch: number }>('run.ckpt');
 * ```
 */
export function loadCheckpoint<M>(path: string): Checkpoint<M> {
  let buf: Buffer;
  try {
    buf = readFileSync(path);
  } catch (e) {
    throw new WhittleError('IO', `cannot read checkpoint ${path}: ${(e as Error).message}`, { cause: e });
  }
  const truncated = (): WhittleError => new WhittleError('BAD_DATA', `checkpoint ${path} is truncated; delete it to start over`);
  const magic = buf.subarray(0, 8).toString('latin1');
  if (magic !== MAGIC.slice(0, magic.length) || buf.length === 0) {
    throw new WhittleError('BAD_DATA', `${path} is not a Whittle checkpoint; delete it to start over, or pass the right checkpoint path`);
  }
  if (buf.length < 12) throw truncated();
  const hlen = buf.readUInt32LE(8);
  const base = 12 + hlen;
  if (base > buf.length) throw truncated();
  let header: { meta: M; tensors: CheckpointTensor[] };
  try {
    header = JSON.parse(buf.subarray(12, base).toString('utf8'), decodeNonFinite) as { meta: M; tensors: CheckpointTensor[] };
  } catch (e) {
    throw new WhittleError('BAD_DATA', `checkpoint ${path} has a damaged header (${(e as Error).message}); delete it to start over`, { cause: e });
  }
  if (!Array.isArray(header?.tensors)) throw new WhittleError('BAD_DATA', `checkpoint ${path} has a damaged header (no tensor list); delete it to start over`);
  const tensors = new Map<string, Tensor>();
  for (const e of header.tensors) {
    if (base + e.offset + e.bytes > buf.length) throw truncated();
    const data = allocate(e.dtype, e.bytes / bytesPerElement(e.dtype));
    new Uint8Array(data.buffer).set(buf.subarray(base + e.offset, base + e.offset + e.bytes));
    tensors.set(e.name, new Tensor(e.dtype, e.dims, data));
  }
  return { meta: header.meta, tensors };
}
