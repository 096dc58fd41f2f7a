// The Deep Compression container (.wtl): the graph without its weights (deflated ONNX), then
// each weight either dense (float32, or float16 when that is exact) or sparse + shared — relative indices (gaps of `gapBits`,
// filler entries when a gap overflows) and cluster indices, both Huffman coded, with the
// codebook — and a CRC-32 of everything before it. Every byte is attributed in the breakdown.
import { createHash } from 'node:crypto';
import { crc32, deflateRawSync, inflateRawSync } from 'node:zlib';
import { readFileSync } from 'node:fs';
import { WhittleError } from '../../ir/errors.js';
import type { Model } from '../../ir/graph.js';
import { writeFileAtomic } from '../../ir/io.js';
import { decodeModel, encodeModel } from '../../ir/onnx.js';
import { sizeOf, Tensor } from '../../ir/tensor.js';
import { ByteWriter } from './bytes.js';
import { halfExact } from '../../ir/half.js';
import { BitWriter, canonicalCodes, codedBits, huffmanCodeLengths } from './huffman.js';
import type { ContainerBreakdown, SharedWeight, TensorBytes } from './parse.js';
import { checkedBytes, readLimits } from '../../ir/limits.js';
import { printable } from '../../ir/text.js';
import {
  CONTAINER_MAGIC,
  CONTAINER_VERSION,
  DEFLATE_MAX_RATIO,
  FLAG_CONTENT_HASH,
  KIND_DENSE,
  KIND_SHARED,
  loneSymbol,
  MAX_INDEX_BITS,
  parseContainer,
} from './parse.js';

export { CONTAINER_MAGIC, CONTAINER_VERSION, MAX_INDEX_BITS, sharedValues } from './parse.js';
export type { ContainerBreakdown, SharedWeight, TensorBytes } from './parse.js';

export interface EncodeOptions {
  /** Bits per relative index (1–8), or 'auto' (default): the width that codes smallest. */
  gapBits?: number | 'auto' | ReadonlyMap<string, number>;
  /** Store the SHA-256 of the decoded model in the header, for `decodeContainer(..., { verify: true })` (default true). */
  contentHash?: boolean;
}

export interface DecodeOptions {
  /** Check the decoded model against the content hash in the header; refuse a container without one. */
  verify?: boolean;
}

/** SHA-256 of a model's ONNX bytes: what a container's content hash is. */
export function modelHash(model: Model): Uint8Array {
  return createHash('sha256').update(encodeModel(model)).digest();
}

function writeTable(w: ByteWriter, lengths: Uint8Array): void {
  let n = lengths.length;
  while (n > 0 && lengths[n - 1] === 0) n--;
  const max = Math.max(0, ...lengths.subarray(0, n));
  const nibbles = max <= 15;
  w.u16(n);
  w.u8(nibbles ? 4 : 8);
  if (nibbles) {
    const b = new Uint8Array(Math.ceil(n / 2));
    for (let i = 0; i < n; i++) b[i >> 1]! |= (lengths[i] as number) << (i & 1 ? 0 : 4);
    w.bytes(b);
  } else w.bytes(lengths.subarray(0, n));
}

function tableBytes(lengths: Uint8Array): number {
  const w = new ByteWriter();
  writeTable(w, lengths);
  return w.length;
}

/** The (gap, symbol) entries of a shared weight for one gap width; symbol K marks a filler zero. */
function sparseEntries(w: SharedWeight, gapBits: number): { gaps: Uint16Array; syms: Uint16Array; fillers: number } {
  const K = w.codebook.length;
  const maxGap = 2 ** gapBits - 1;
  const gaps: number[] = [];
  const syms: number[] = [];
  let fillers = 0;
  let last = -1;
  w.assignment.forEach((c, p) => {
    if (c < 0) return;
    let d = p - last - 1;
    while (d > maxGap) {
      gaps.push(maxGap);
      syms.push(K);
      fillers++;
      last += maxGap + 1;
      d = p - last - 1;
    }
    gaps.push(d);
    syms.push(c);
    last = p;
  });
  return { gaps: Uint16Array.from(gaps), syms: Uint16Array.from(syms), fillers };
}

/** Stream bits of one table's symbols: none when the table has one symbol. */
function streamBits(counts: ArrayLike<number>, lengths: ArrayLike<number>): number {
  return loneSymbol(lengths) === undefined ? codedBits(counts, lengths) : 0;
}

function histogram(values: Uint16Array, size: number): Float64Array {
  const h = new Float64Array(size);
  for (const v of values) h[v]!++;
  return h;
}

function planShared(w: SharedWeight, gapBits: number) {
  const { gaps, syms, fillers } = sparseEntries(w, gapBits);
  const gapCounts = histogram(gaps, 2 ** gapBits);
  const symCounts = histogram(syms, w.codebook.length + 1);
  const gapLengths = huffmanCodeLengths(gapCounts);
  const symLengths = huffmanCodeLengths(symCounts);
  const bits = streamBits(gapCounts, gapLengths) + streamBits(symCounts, symLengths);
  const cost = Math.ceil(bits / 8) + tableBytes(gapLengths) + tableBytes(symLengths);
  return { gapBits, gaps, syms, fillers, gapLengths, symLengths, cost };
}

function checkShared(name: string, w: SharedWeight): void {
  const K = w.codebook.length;
  if (!(Number.isInteger(w.bits) && w.bits >= 1 && w.bits <= MAX_INDEX_BITS))
    throw new WhittleError('BAD_ARGUMENT', `weight "${name}": ${w.bits} index bits is unsupported; use 1–${MAX_INDEX_BITS}`);
  if (K < 1 || K > 2 ** w.bits)
    throw new WhittleError('BAD_ARGUMENT', `weight "${name}": a codebook of ${K} entries does not fit ${w.bits} bits (at most ${2 ** w.bits})`);
  if (w.assignment.length !== sizeOf(w.dims))
    throw new WhittleError('SHAPE_MISMATCH', `weight "${name}": ${w.assignment.length} assignments for shape [${w.dims.join(', ')}]`);
  for (const c of w.assignment)
    if (c >= K || c < -1) throw new WhittleError('BAD_ARGUMENT', `weight "${name}": cluster index ${c} is outside the codebook of ${K}`);
}

/** Bytes per stored float: 2 when every value is exactly a float16, else 4. */
function writeFloatsWidth(values: Float32Array): 2 | 4 {
  return halfExact(values) ? 2 : 4;
}

function writeFloats(w: ByteWriter, values: Float32Array, width: 2 | 4): void {
  if (width === 2) w.f16s(values);
  else w.f32s(values);
}

function writeHeader(w: ByteWriter, kind: number, name: string, dims: readonly number[]): void {
  const nameBytes = new TextEncoder().encode(name);
  if (nameBytes.length > 255) throw new WhittleError('BAD_ARGUMENT', `tensor name "${name}" is longer than 255 bytes`);
  if (dims.length > 255) throw new WhittleError('BAD_ARGUMENT', `tensor "${name}" has rank ${dims.length}`);
  w.u8(kind);
  w.u8(nameBytes.length);
  w.bytes(nameBytes);
  w.u8(dims.length);
  for (const d of dims) w.u32(d);
}

/**
 * Encodes a model whose weights in `shared` are pruned and k-means shared; every other float
 * initializer (biases, ...) is stored dense. The graph keeps everything else.
 *
 * ```ts
 * const { bytes, breakdown } = encodeContainer(model, new Map([['fc1.weight', fc1]]));
 * ```
 */
export function encodeContainer(
  model: Model,
  shared: ReadonlyMap<string, SharedWeight>,
  options: EncodeOptions = {},
): { bytes: Uint8Array; breakdown: ContainerBreakdown } {
  const g = model.graph.clone();
  const stored: [string, Tensor][] = [];
  for (const [name, t] of g.initializers) {
    if (shared.has(name) || (t.dtype === 'float32' && t.dims.length > 0)) {
      stored.push([name, t]);
      g.initializers.delete(name);
    }
  }
  for (const name of shared.keys())
    if (!model.graph.initializers.has(name)) throw new WhittleError('BAD_ARGUMENT', `shared weight "${name}" is not an initializer of the model`);
  const w = new ByteWriter();
  w.bytes(new TextEncoder().encode(CONTAINER_MAGIC));
  w.u8(CONTAINER_VERSION);
  const hashed = options.contentHash !== false;
  w.u8(hashed ? FLAG_CONTENT_HASH : 0);
  // The hash is of the decoded model, known only once the rest is written: 32 zeros now, patched below.
  const hashAt = w.length;
  if (hashed) w.bytes(new Uint8Array(32));
  const graphRaw = encodeModel({ ...model, graph: g });
  w.u32(graphRaw.length);
  const graphBytes = deflateRawSync(graphRaw, { level: 9 });
  w.u32(graphBytes.length);
  w.bytes(graphBytes);
  w.u16(stored.length);
  const tensors: TensorBytes[] = [];
  for (const [name, t] of stored) {
    const start = w.length;
    const sw = shared.get(name);
    if (sw === undefined) {
      writeHeader(w, KIND_DENSE, name, t.dims);
      const values = t.data as Float32Array;
      const width = writeFloatsWidth(values);
      w.u8(width);
      const header = w.length - start;
      writeFloats(w, values, width);
      tensors.push({
        name,
        kind: 'dense',
        dims: [...t.dims],
        header,
        values: width * t.size,
        codebook: 0,
        huffmanTables: 0,
        indices: 0,
        total: w.length - start,
      });
      continue;
    }
    checkShared(name, sw);
    if (sizeOf(sw.dims) !== t.size)
      throw new WhittleError('SHAPE_MISMATCH', `shared weight "${name}" has shape [${sw.dims.join(', ')}] but the model's is [${t.dims.join(', ')}]`);
    const opt = options.gapBits;
    const fixed = typeof opt === 'number' ? opt : opt instanceof Map ? opt.get(name) : undefined;
    if (fixed !== undefined && !(Number.isInteger(fixed) && fixed >= 1 && fixed <= 8))
      throw new WhittleError('BAD_ARGUMENT', `gap bits must be an integer in 1–8, got ${fixed}`);
    let plan = planShared(sw, fixed ?? 8);
    if (fixed === undefined)
      for (let b = 1; b < 8; b++) {
        const p = planShared(sw, b);
        if (p.cost < plan.cost) plan = p;
      }
    writeHeader(w, KIND_SHARED, name, sw.dims);
    w.u8(sw.bits);
    w.u8(plan.gapBits);
    w.u16(sw.codebook.length);
    w.u32(plan.gaps.length);
    const width = writeFloatsWidth(sw.codebook);
    w.u8(width);
    const header = w.length - start;
    writeFloats(w, sw.codebook, width);
    const t0 = w.length;
    writeTable(w, plan.gapLengths);
    writeTable(w, plan.symLengths);
    const huffmanTables = w.length - t0;
    const gapCodes = canonicalCodes(plan.gapLengths);
    const symCodes = canonicalCodes(plan.symLengths);
    const gapsCoded = loneSymbol(plan.gapLengths) === undefined;
    const symsCoded = loneSymbol(plan.symLengths) === undefined;
    const bits = new BitWriter();
    for (let i = 0; i < plan.gaps.length; i++) {
      const gp = plan.gaps[i] as number;
      const sy = plan.syms[i] as number;
      if (gapsCoded) bits.write(gapCodes[gp] as number, plan.gapLengths[gp] as number);
      if (symsCoded) bits.write(symCodes[sy] as number, plan.symLengths[sy] as number);
    }
    const stream = bits.finish();
    w.u32(stream.length);
    w.bytes(stream);
    const nonzeros = plan.gaps.length - plan.fillers;
    tensors.push({
      name,
      kind: 'shared',
      dims: [...sw.dims],
      header: header + 4,
      values: 0,
      codebook: width * sw.codebook.length,
      huffmanTables,
      indices: stream.length,
      total: w.length - start,
      bits: sw.bits,
      gapBits: plan.gapBits,
      nonzeros,
      entries: plan.gaps.length,
      fillers: plan.fillers,
    });
  }
  const body = w.finish();
  const bytes = new Uint8Array(body.length + 4);
  bytes.set(body);
  new DataView(bytes.buffer).setUint32(body.length, crc32(body), true);
  if (hashed) {
    bytes.set(modelHash(decodeContainer(bytes).model), hashAt);
    new DataView(bytes.buffer).setUint32(body.length, crc32(bytes.subarray(0, body.length)), true);
  }
  const graph = 4 + graphBytes.length;
  const framing = 4 + 1 + 1 + (hashed ? 32 : 0) + 4 + 2 + 4;
  const breakdown: ContainerBreakdown = { bytes: bytes.length, framing, graph, tensors };
  return { bytes, breakdown };
}

/**
 * Decodes a container back into a runnable model (dense float32 weights) and the shared
 * weights exactly as encoded. Throws BAD_CONTAINER on bad magic, version, truncation, a bad
 * Huffman table or a checksum mismatch.
 *
 * ```ts
 * const { model } = decodeContainer(readFileSync('model.wtl'));
 * ```
 */
export function decodeContainer(
  bytes: Uint8Array,
  source = 'container',
  options: DecodeOptions = {},
): { model: Model; shared: Map<string, SharedWeight>; breakdown: ContainerBreakdown; contentHash?: Uint8Array } {
  const parsed = parseContainer(bytes, source, crc32);
  if (options.verify === true && parsed.contentHash === undefined)
    throw new WhittleError(
      'BAD_CONTAINER',
      `${source} stores no content hash (written without one, or before version 3); re-encode it with whittle compress to verify it`,
    );
  // The header says how long the graph inflates to (v3); older files get deflate's largest ratio. Never past the byte limit.
  const limit =
    parsed.graphInflated !== undefined
      ? checkedBytes(parsed.graphInflated, 'the inflated graph', source, 'BAD_CONTAINER')
      : Math.min(readLimits().maxBytes, DEFLATE_MAX_RATIO * parsed.graph.length + 64);
  let graphRaw: Uint8Array;
  try {
    graphRaw = inflateRawSync(parsed.graph, { maxOutputLength: Math.max(1, limit) });
  } catch (e) {
    throw new WhittleError(
      'BAD_CONTAINER',
      `${source}: the stored graph does not inflate within ${limit} bytes (${(e as Error).message}); the file is corrupt`,
      { cause: e },
    );
  }
  if (parsed.graphInflated !== undefined && graphRaw.length !== parsed.graphInflated)
    throw new WhittleError(
      'BAD_CONTAINER',
      `${source}: the stored graph inflates to ${graphRaw.length} bytes, the header says ${parsed.graphInflated}; the file is corrupt`,
    );
  let model: Model;
  try {
    model = decodeModel(graphRaw, source);
  } catch (e) {
    throw new WhittleError('BAD_CONTAINER', `${source}: the stored graph is corrupt (${(e as Error).message})`, { cause: e });
  }
  const shared = new Map<string, SharedWeight>();
  for (const t of parsed.tensors) {
    let bad = 0;
    for (const v of t.values) if (v - v !== 0) bad++;
    if (bad > 0)
      throw new WhittleError(
        'BAD_CONTAINER',
        `${source}: tensor "${printable(t.name)}" holds ${bad} non-finite values (NaN/Infinity) of ${t.values.length}; the file is damaged or the model it came from diverged: compress a finite model again`,
      );
    model.graph.initializers.set(t.name, new Tensor('float32', t.dims, t.values));
    if (t.shared !== undefined) shared.set(t.name, t.shared);
  }
  if (options.verify === true && parsed.contentHash !== undefined) {
    const got = modelHash(model);
    if (!got.every((b, i) => b === parsed.contentHash?.[i]))
      throw new WhittleError(
        'BAD_CONTAINER',
        `${source}: the decoded model does not match the content hash in its header (SHA-256 ${Buffer.from(got).toString('hex').slice(0, 16)}… ≠ ${Buffer.from(parsed.contentHash).toString('hex').slice(0, 16)}…); the file was modified`,
      );
  }
  return { model, shared, breakdown: parsed.breakdown, contentHash: parsed.contentHash };
}

/** Encodes and writes atomically; the breakdown's `bytes` is the file's size. */
export function writeContainer(path: string, model: Model, shared: ReadonlyMap<string, SharedWeight>, options: EncodeOptions = {}): ContainerBreakdown {
  const { bytes, breakdown } = encodeContainer(model, shared, options);
  writeFileAtomic(path, [bytes]);
  return breakdown;
}

/** Reads and decodes a container file (`verify`: check its content hash). */
export function readContainer(path: string, options: DecodeOptions = {}): ReturnType<typeof decodeContainer> {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    throw new WhittleError('IO', `cannot read ${path}: ${(e as Error).message}`, { cause: e });
  }
  return decodeContainer(bytes, path, options);
}
