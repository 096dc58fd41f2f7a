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

export function saveCheckpoint<M>(path: string, meta: M, tensors: ReadonlyMap<string, Tensor>): void {
  const entries: CheckpointTensor[] = [];
  let offset = 0;
  for (const [name, t] of tensors) {
    const bytes = t.data.byteLength;
    entries.push({ name, dtype: t.dtype, dims: [...t.dims], offset, bytes });
    offset += bytes;
  }
  const header = new TextEncoder().encode(JSON.stringify({ version: 1, meta, tensors: entries }));
  const prefix = new Uint8Array(12);
  prefix.set(new TextEncoder().encode(MAGIC));
  new DataView(prefix.buffer).setUint32(8, header.length, true);
  const chunks: Uint8Array[] = [prefix, header];
  for (const t of tensors.values()) chunks.push(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength));
  writeFileAtomic(path, chunks);
}

export function loadCheckpoint<M>(path: string): Checkpoint<M> {
  let buf: Buffer;
  try {
    buf = readFileSync(path);
  } catch (e) {
    throw new WhittleError('IO', `cannot read checkpoint ${path}: ${(e as Error).message}`, { cause: e });
  }
  if (buf.length < 12 || buf.subarray(0, 8).toString('latin1') !== MAGIC) {
    throw new WhittleError('BAD_DATA', `${path} is not a Whittle checkpoint; delete it to start over, or pass the right --checkpoint`);
  }
  const hlen = buf.readUInt32LE(8);
  const header = JSON.parse(buf.subarray(12, 12 + hlen).toString('utf8')) as { meta: M; tensors: CheckpointTensor[] };
  const base = 12 + hlen;
  const tensors = new Map<string, Tensor>();
  for (const e of header.tensors) {
    const data = allocate(e.dtype, e.bytes / bytesPerElement(e.dtype));
    if (base + e.offset + e.bytes > buf.length) throw new WhittleError('BAD_DATA', `checkpoint ${path} is truncated; delete it to start over`);
    new Uint8Array(data.buffer).set(buf.subarray(base + e.offset, base + e.offset + e.bytes));
    tensors.set(e.name, new Tensor(e.dtype, e.dims, data));
  }
  return { meta: header.meta, tensors };
}
