// Canonical Huffman coding: optimal code lengths from symbol counts, codes assigned in
// (length, symbol) order so a table is just its lengths, and a decoder that rejects tables
// that are not a complete prefix code.
import { WhittleError } from '../../ir/errors.js';

/** Longest code the container accepts (counts below 2^32 can never need more). */
export const MAX_CODE_LENGTH = 32;

/**
 * Optimal (Huffman) code lengths for symbol counts; unused symbols get 0, a lone symbol gets 1.
 *
 * ```ts
 * huffmanCodeLengths([1, 1, 2, 4, 8]); // Uint8Array [4, 4, 3, 2, 1]
 * ```
 */
export function huffmanCodeLengths(counts: ArrayLike<number>): Uint8Array {
  const n = counts.length;
  const lengths = new Uint8Array(n);
  // Nodes 0..n-1 are leaves; internal nodes follow. Ties break by node id, so results are deterministic.
  const weight: number[] = [];
  const parent: number[] = [];
  const heap: number[] = [];
  const less = (a: number, b: number): boolean => (weight[a] as number) < (weight[b] as number) || (weight[a] === weight[b] && a < b);
  const push = (v: number): void => {
    heap.push(v);
    for (let i = heap.length - 1; i > 0; ) {
      const p = (i - 1) >> 1;
      if (!less(heap[i] as number, heap[p] as number)) break;
      [heap[i], heap[p]] = [heap[p] as number, heap[i] as number];
      i = p;
    }
  };
  const pop = (): number => {
    const top = heap[0] as number;
    const last = heap.pop() as number;
    if (heap.length > 0) {
      heap[0] = last;
      for (let i = 0; ; ) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < heap.length && less(heap[l] as number, heap[m] as number)) m = l;
        if (r < heap.length && less(heap[r] as number, heap[m] as number)) m = r;
        if (m === i) break;
        [heap[i], heap[m]] = [heap[m] as number, heap[i] as number];
        i = m;
      }
    }
    return top;
  };
  const used: number[] = [];
  for (let s = 0; s < n; s++) {
    weight.push(counts[s] as number);
    parent.push(-1);
    if ((counts[s] as number) > 0) {
      used.push(s);
      push(s);
    }
  }
  if (used.length === 0) return lengths;
  if (used.length === 1) {
    lengths[used[0] as number] = 1;
    return lengths;
  }
  while (heap.length > 1) {
    const a = pop();
    const b = pop();
    const id = weight.length;
    weight.push((weight[a] as number) + (weight[b] as number));
    parent.push(-1);
    parent[a] = id;
    parent[b] = id;
    push(id);
  }
  for (const s of used) {
    let d = 0;
    for (let v = s; parent[v] !== -1; v = parent[v] as number) d++;
    if (d > MAX_CODE_LENGTH) throw new WhittleError('BAD_ARGUMENT', `a Huffman code of ${d} bits is longer than the ${MAX_CODE_LENGTH} the container allows`);
    lengths[s] = d;
  }
  return lengths;
}

/** Canonical codes for the lengths: shorter codes first, equal lengths in symbol order. */
export function canonicalCodes(lengths: ArrayLike<number>): Uint32Array {
  const codes = new Uint32Array(lengths.length);
  const order = Array.from({ length: lengths.length }, (_, s) => s)
    .filter((s) => (lengths[s] as number) > 0)
    .sort((a, b) => (lengths[a] as number) - (lengths[b] as number) || a - b);
  let code = 0;
  let len = 0;
  for (const s of order) {
    const l = lengths[s] as number;
    code *= 2 ** (l - len);
    len = l;
    codes[s] = code;
    code++;
  }
  return codes;
}

/** Writes bits most-significant first. */
export class BitWriter {
  #bytes: number[] = [];
  #acc = 0;
  #n = 0;

  write(code: number, length: number): void {
    for (let i = length - 1; i >= 0; i--) {
      this.#acc = (this.#acc << 1) | (Math.floor(code / 2 ** i) & 1);
      if (++this.#n === 8) {
        this.#bytes.push(this.#acc);
        this.#acc = 0;
        this.#n = 0;
      }
    }
  }

  /** The bytes, the last one padded with zero bits. */
  finish(): Uint8Array {
    const out = Uint8Array.from(this.#n > 0 ? [...this.#bytes, this.#acc << (8 - this.#n)] : this.#bytes);
    return out;
  }
}

/** Reads bits most-significant first; running past the end is a truncated stream. */
export class BitReader {
  readonly #bytes: Uint8Array;
  #pos = 0;

  constructor(
    bytes: Uint8Array,
    readonly what = 'bit stream',
  ) {
    this.#bytes = bytes;
  }

  bit(): number {
    const byte = this.#bytes[this.#pos >> 3];
    if (byte === undefined)
      throw new WhittleError('BAD_CONTAINER', `${this.what} is truncated: it ends after ${this.#bytes.length} bytes but more codes were expected`);
    const b = (byte >> (7 - (this.#pos & 7))) & 1;
    this.#pos++;
    return b;
  }
}

/**
 * A decoder for a canonical code given by its lengths; throws on tables that are
 * over-subscribed (not prefix-free) or incomplete (bit patterns that decode to nothing).
 *
 * ```ts
 * const dec = new HuffmanDecoder([1, 2, 2]);
 * dec.decode(new BitReader(Uint8Array.of(0b10110000))); // 1
 * ```
 */
export class HuffmanDecoder {
  readonly #count: number[];
  readonly #symbols: number[];
  readonly #maxLen: number;

  constructor(lengths: ArrayLike<number>, what = 'Huffman table') {
    let maxLen = 0;
    for (let s = 0; s < lengths.length; s++) maxLen = Math.max(maxLen, lengths[s] as number);
    if (maxLen > MAX_CODE_LENGTH)
      throw new WhittleError('BAD_CONTAINER', `bad ${what}: a code of ${maxLen} bits is longer than the ${MAX_CODE_LENGTH} allowed`);
    const count = new Array<number>(maxLen + 1).fill(0);
    for (let s = 0; s < lengths.length; s++) count[lengths[s] as number]!++;
    count[0] = 0;
    const used = lengths.length - [...Array.from(lengths)].filter((l) => l === 0).length;
    if (used === 0) throw new WhittleError('BAD_CONTAINER', `bad ${what}: it codes no symbol`);
    // Kraft: the codes must fill the code space exactly (one lone 1-bit code is the exception).
    let left = 1;
    for (let len = 1; len <= maxLen; len++) {
      left = left * 2 - (count[len] as number);
      if (left < 0) throw new WhittleError('BAD_CONTAINER', `bad ${what}: over-subscribed (more codes of ${len} bits than fit; not a prefix code)`);
    }
    if (left > 0 && !(used === 1 && maxLen === 1)) throw new WhittleError('BAD_CONTAINER', `bad ${what}: incomplete (some bit patterns decode to no symbol)`);
    this.#count = count;
    this.#maxLen = maxLen;
    this.#symbols = Array.from({ length: lengths.length }, (_, s) => s)
      .filter((s) => (lengths[s] as number) > 0)
      .sort((a, b) => (lengths[a] as number) - (lengths[b] as number) || a - b);
  }

  decode(r: BitReader): number {
    let code = 0;
    let first = 0;
    let index = 0;
    for (let len = 1; len <= this.#maxLen; len++) {
      code += r.bit();
      const c = this.#count[len] as number;
      if (code - first < c) return this.#symbols[index + code - first] as number;
      index += c;
      first = (first + c) * 2;
      code *= 2;
    }
    throw new WhittleError('BAD_CONTAINER', `${r.what}: a bit pattern matches no Huffman code`);
  }
}

/** Bits needed to code `counts` with `lengths`. */
export function codedBits(counts: ArrayLike<number>, lengths: ArrayLike<number>): number {
  let bits = 0;
  for (let s = 0; s < counts.length; s++) bits += (counts[s] as number) * (lengths[s] as number);
  return bits;
}
