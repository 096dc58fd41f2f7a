// Little-endian byte writing and bounds-checked reading for the container.
import { WhittleError } from '../../ir/errors.js';
import { fromHalfBits, toHalfBits } from '../../ir/half.js';

export class ByteWriter {
  #chunks: Uint8Array[] = [];
  #length = 0;

  get length(): number {
    return this.#length;
  }

  bytes(b: Uint8Array): void {
    this.#chunks.push(b);
    this.#length += b.length;
  }

  u8(v: number): void {
    this.bytes(Uint8Array.of(v));
  }

  u16(v: number): void {
    const b = new Uint8Array(2);
    new DataView(b.buffer).setUint16(0, v, true);
    this.bytes(b);
  }

  u32(v: number): void {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setUint32(0, v, true);
    this.bytes(b);
  }

  f32s(values: Float32Array): void {
    const b = new Uint8Array(values.length * 4);
    const dv = new DataView(b.buffer);
    values.forEach((v, i) => dv.setFloat32(4 * i, v, true));
    this.bytes(b);
  }

  f16s(values: Float32Array): void {
    const b = new Uint8Array(values.length * 2);
    const dv = new DataView(b.buffer);
    values.forEach((v, i) => dv.setUint16(2 * i, toHalfBits(v), true));
    this.bytes(b);
  }

  finish(): Uint8Array {
    const out = new Uint8Array(this.#length);
    let o = 0;
    for (const c of this.#chunks) {
      out.set(c, o);
      o += c.length;
    }
    return out;
  }
}

export class ByteReader {
  readonly #bytes: Uint8Array;
  readonly #view: DataView;
  readonly #source: string;
  pos = 0;

  constructor(bytes: Uint8Array, source: string) {
    this.#bytes = bytes;
    this.#view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.#source = source;
  }

  get remaining(): number {
    return this.#bytes.length - this.pos;
  }

  #need(n: number, what: string): void {
    if (this.pos + n > this.#bytes.length) {
      throw new WhittleError(
        'BAD_CONTAINER',
        `${this.#source} is truncated: ${what} needs ${n} bytes at offset ${this.pos} but the file has ${this.#bytes.length}; rewrite it with whittle compress`,
      );
    }
  }

  bytes(n: number, what: string): Uint8Array {
    this.#need(n, what);
    const b = this.#bytes.subarray(this.pos, this.pos + n);
    this.pos += n;
    return b;
  }

  u8(what: string): number {
    this.#need(1, what);
    return this.#view.getUint8(this.pos++);
  }

  u16(what: string): number {
    this.#need(2, what);
    const v = this.#view.getUint16(this.pos, true);
    this.pos += 2;
    return v;
  }

  u32(what: string): number {
    this.#need(4, what);
    const v = this.#view.getUint32(this.pos, true);
    this.pos += 4;
    return v;
  }

  f32s(n: number, what: string): Float32Array {
    this.#need(4 * n, what);
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) out[i] = this.#view.getFloat32(this.pos + 4 * i, true);
    this.pos += 4 * n;
    return out;
  }

  f16s(n: number, what: string): Float32Array {
    this.#need(2 * n, what);
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) out[i] = fromHalfBits(this.#view.getUint16(this.pos + 2 * i, true));
    this.pos += 2 * n;
    return out;
  }
}
