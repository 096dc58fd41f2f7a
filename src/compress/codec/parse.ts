// Reading the Deep Compression container (.wtl) without Node built-ins, so the same code decodes
// it in Node and in the browser: the caller inflates the graph and supplies the CRC-32.
import { WhittleError } from '../../ir/errors.js';
import { checkedSize } from '../../ir/limits.js';
import { printable } from '../../ir/text.js';
import { ByteReader } from './bytes.js';
import { BitReader, HuffmanDecoder } from './huffman.js';

export const CONTAINER_MAGIC = 'WTLC';
/** 2: a stream whose Huffman table has one symbol stores no bits (a dense shared weight pays no
 * gap bits); version 1 files, which spent one bit per entry there, still decode. */
export const CONTAINER_VERSION = 3;
/** 3: a flags byte (bit 0: a SHA-256 content hash of the decoded model follows) and the graph's
 * inflated length, so inflation stops there. */
export const READABLE_VERSIONS = [1, 2, 3];
/** Version 3 flag: the header holds the SHA-256 of the decoded model's ONNX bytes. */
export const FLAG_CONTENT_HASH = 1;
/** deflate cannot expand more than this (its best case, runs of one byte): the cap on a v1/v2 graph. */
export const DEFLATE_MAX_RATIO = 1032;
/** Most index bits per shared weight (codebook sizes and symbol counts are stored in 16 bits). */
export const MAX_INDEX_BITS = 12;
export const KIND_DENSE = 1;
export const KIND_SHARED = 2;

/** A weight after pruning and k-means sharing: its values are `codebook[assignment[i]]`, or 0 where pruned. */
export interface SharedWeight {
  dims: number[];
  /** Index bits: the codebook has at most 2^bits entries. */
  bits: number;
  codebook: Float32Array;
  /** Per element (row-major): cluster index, or -1 where the weight is pruned (exactly zero). */
  assignment: Int32Array;
}

/** The dense float32 values a shared weight stands for. */
export function sharedValues(w: SharedWeight): Float32Array {
  const out = new Float32Array(w.assignment.length);
  w.assignment.forEach((c, i) => {
    if (c >= 0) out[i] = w.codebook[c] as number;
  });
  return out;
}

/** Where the bytes of one stored tensor went. */
export interface TensorBytes {
  name: string;
  kind: 'dense' | 'shared';
  dims: number[];
  /** Name, shape and counts. */
  header: number;
  /** Dense float32 values (biases and anything not shared). */
  values: number;
  codebook: number;
  huffmanTables: number;
  /** The Huffman-coded relative and cluster indices. */
  indices: number;
  total: number;
  bits?: number;
  gapBits?: number;
  nonzeros?: number;
  /** Stored entries: nonzeros plus filler zeros for gaps that overflow `gapBits`. */
  entries?: number;
  fillers?: number;
}

export interface ContainerBreakdown {
  /** Total bytes: equal to the file's size. */
  bytes: number;
  /** Magic, version, tensor count, checksum. */
  framing: number;
  /** The deflated ONNX graph without its weights. */
  graph: number;
  tensors: TensorBytes[];
}

/** One stored tensor, decoded to dense float32 values. */
export interface ParsedTensor {
  name: string;
  dims: number[];
  values: Float32Array;
  /** The pruned + shared form, for shared weights. */
  shared?: SharedWeight;
}

/** A container taken apart: the graph still deflated (ONNX without its weights), and the weights. */
export interface ParsedContainer {
  version: number;
  /** Raw-deflated ONNX ModelProto bytes of the graph without the stored tensors. */
  graph: Uint8Array;
  /** The graph's inflated length (version 3), else undefined: inflate no further than this. */
  graphInflated?: number;
  /** SHA-256 of the decoded model's ONNX bytes, when the writer stored one (version 3). */
  contentHash?: Uint8Array;
  tensors: ParsedTensor[];
  breakdown: ContainerBreakdown;
}

function readTable(r: ByteReader, alphabet: number, what: string): Uint8Array {
  const n = r.u16(`${what} size`);
  const packing = r.u8(`${what} packing`);
  if (n > alphabet) throw new WhittleError('BAD_CONTAINER', `bad ${what}: ${n} symbols but the alphabet has ${alphabet}`);
  if (packing !== 4 && packing !== 8) throw new WhittleError('BAD_CONTAINER', `bad ${what}: packing ${packing} (expected 4 or 8 bits per length)`);
  const lengths = new Uint8Array(alphabet);
  if (packing === 4) {
    const b = r.bytes(Math.ceil(n / 2), what);
    for (let i = 0; i < n; i++) lengths[i] = ((b[i >> 1] as number) >> (i & 1 ? 0 : 4)) & 15;
  } else lengths.set(r.bytes(n, what));
  return lengths;
}

/** The symbol of a one-symbol table (coded with zero bits from version 2), else undefined. */
export function loneSymbol(lengths: ArrayLike<number>): number | undefined {
  let found: number | undefined;
  for (let s = 0; s < lengths.length; s++) {
    if ((lengths[s] as number) === 0) continue;
    if (found !== undefined) return undefined;
    found = s;
  }
  return found;
}

function readWidth(r: ByteReader, source: string, name: string): 2 | 4 {
  const width = r.u8(`the float width of "${name}"`);
  if (width !== 2 && width !== 4)
    throw new WhittleError('BAD_CONTAINER', `${source}: tensor "${name}" stores ${width}-byte floats (expected 2 or 4); the file is corrupt`);
  return width;
}

function readFloats(r: ByteReader, n: number, width: 2 | 4, what: string): Float32Array {
  return width === 2 ? r.f16s(n, what) : r.f32s(n, what);
}

/**
 * Parses a container's framing and weights and checks its CRC-32 (`crc32` of the bytes before
 * it). Throws BAD_CONTAINER on bad magic, version, truncation, a bad Huffman table or a checksum
 * mismatch; the graph inside is left deflated for the caller.
 *
 * ```ts
 * const { graph, tensors } = parseContainer(bytes, 'model.wtl', crc32);
 * ```
 */
export function parseContainer(bytes: Uint8Array, source: string, crc32: (b: Uint8Array) => number): ParsedContainer {
  const r = new ByteReader(bytes, source);
  const magic = new TextDecoder().decode(r.bytes(4, 'the magic number'));
  if (magic !== CONTAINER_MAGIC)
    throw new WhittleError(
      'BAD_CONTAINER',
      `${source} is not a Whittle container (magic "${magic.replace(/[^\x20-\x7e]/g, '?')}", expected "${CONTAINER_MAGIC}"); pass a .wtl file written by whittle compress`,
    );
  const version = r.u8('the version');
  if (!READABLE_VERSIONS.includes(version))
    throw new WhittleError(
      'BAD_CONTAINER',
      `${source} is container version ${version}; this Whittle reads versions ${READABLE_VERSIONS.join(' and ')}, upgrade whittle or re-encode it`,
    );
  // The checksum first: a damaged file is refused before any of its counts is believed.
  if (
    bytes.length < 9 ||
    crc32(bytes.subarray(0, bytes.length - 4)) !== new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(bytes.length - 4, true)
  )
    throw new WhittleError('BAD_CONTAINER', `${source}: checksum mismatch, the file is corrupt or truncated`);
  let contentHash: Uint8Array | undefined;
  let graphInflated: number | undefined;
  let framing = 11;
  if (version >= 3) {
    const flags = r.u8('the flags');
    if ((flags & ~FLAG_CONTENT_HASH) !== 0) throw new WhittleError('BAD_CONTAINER', `${source} has unknown flags ${flags}; upgrade whittle or re-encode it`);
    if (flags & FLAG_CONTENT_HASH) contentHash = r.bytes(32, 'the content hash');
    graphInflated = r.u32('the inflated graph length');
    framing += 1 + 4 + (contentHash === undefined ? 0 : 32);
  }
  const graphLen = r.u32('the graph length');
  const graphBytes = r.bytes(graphLen, 'the graph');
  const count = r.u16('the tensor count');
  const parsed: ParsedTensor[] = [];
  const tensors: TensorBytes[] = [];
  for (let k = 0; k < count; k++) {
    const start = r.pos;
    const kind = r.u8('a tensor kind');
    const name = new TextDecoder().decode(r.bytes(r.u8('a tensor name length'), 'a tensor name'));
    const rank = r.u8(`the rank of "${name}"`);
    const dims = Array.from({ length: rank }, () => r.u32(`the shape of "${name}"`));
    const size = checkedSize(dims, 4, `tensor "${printable(name)}"`, source, 'BAD_CONTAINER');
    if (kind === KIND_DENSE) {
      const width = readWidth(r, source, name);
      const header = r.pos - start;
      parsed.push({ name, dims, values: readFloats(r, size, width, `the values of "${name}"`) });
      tensors.push({ name, kind: 'dense', dims, header, values: width * size, codebook: 0, huffmanTables: 0, indices: 0, total: r.pos - start });
      continue;
    }
    if (kind !== KIND_SHARED) throw new WhittleError('BAD_CONTAINER', `${source}: tensor "${name}" has unknown kind ${kind}`);
    const bits = r.u8(`the index bits of "${name}"`);
    const gapBits = r.u8(`the gap bits of "${name}"`);
    const K = r.u16(`the codebook size of "${name}"`);
    const entries = r.u32(`the entry count of "${name}"`);
    if (bits < 1 || bits > MAX_INDEX_BITS || K < 1 || K > 2 ** bits || gapBits < 1 || gapBits > 8) {
      throw new WhittleError(
        'BAD_CONTAINER',
        `${source}: tensor "${name}" has ${bits} index bits, ${K} centroids and ${gapBits} gap bits; the file is corrupt`,
      );
    }
    const width = readWidth(r, source, name);
    const header = r.pos - start + 4;
    const codebook = readFloats(r, K, width, `the codebook of "${name}"`);
    const t0 = r.pos;
    const gapTable = readTable(r, 2 ** gapBits, `Huffman table of the gaps of "${name}"`);
    const symTable = readTable(r, K + 1, `Huffman table of the clusters of "${name}"`);
    // A fully pruned weight has no entries and empty tables; any other needs complete codes.
    const gapDec = entries > 0 ? new HuffmanDecoder(gapTable, `Huffman table of the gaps of "${name}"`) : undefined;
    const symDec = entries > 0 ? new HuffmanDecoder(symTable, `Huffman table of the clusters of "${name}"`) : undefined;
    const huffmanTables = r.pos - t0;
    const gapLone = version >= 2 ? loneSymbol(gapTable) : undefined;
    const symLone = version >= 2 ? loneSymbol(symTable) : undefined;
    const streamLen = r.u32(`the index stream length of "${name}"`);
    // Each entry moves at least one element on, and takes at least one bit unless both tables have one symbol.
    if (entries > size || (entries > 8 * streamLen && (gapLone === undefined || symLone === undefined)))
      throw new WhittleError(
        'BAD_CONTAINER',
        `${source}: tensor "${printable(name)}" claims ${entries} entries for ${size} elements and a ${streamLen}-byte index stream; the file is corrupt`,
      );
    const bitsIn = new BitReader(r.bytes(streamLen, `the index stream of "${name}"`), `the index stream of "${name}"`);
    const assignment = new Int32Array(size).fill(-1);
    let pos = -1;
    let fillers = 0;
    for (let e = 0; e < entries; e++) {
      pos += (gapLone ?? (gapDec as HuffmanDecoder).decode(bitsIn)) + 1;
      const sym = symLone ?? (symDec as HuffmanDecoder).decode(bitsIn);
      if (pos >= size) throw new WhittleError('BAD_CONTAINER', `${source}: the indices of "${name}" run past its ${size} elements; the file is corrupt`);
      if (sym < K) assignment[pos] = sym;
      else fillers++;
    }
    const w: SharedWeight = { dims, bits, codebook, assignment };
    parsed.push({ name, dims, values: sharedValues(w), shared: w });
    tensors.push({
      name,
      kind: 'shared',
      dims,
      header,
      values: 0,
      codebook: width * K,
      huffmanTables,
      indices: streamLen,
      total: r.pos - start,
      bits,
      gapBits,
      nonzeros: entries - fillers,
      entries,
      fillers,
    });
  }
  r.u32('the checksum');
  if (r.remaining !== 0) throw new WhittleError('BAD_CONTAINER', `${source} has ${r.remaining} unexpected bytes after its checksum; the file is corrupt`);
  return { version, graph: graphBytes, graphInflated, contentHash, tensors: parsed, breakdown: { bytes: bytes.length, framing, graph: 4 + graphLen, tensors } };
}
