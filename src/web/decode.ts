// The browser's container decoder: model.wtl → ONNX bytes in memory, ready for an onnxruntime-web
// InferenceSession. No Node built-ins: the graph is inflated by the platform's DecompressionStream
// and the weights are appended as protobuf fields, so no protobuf library ships to the page.
import { parseContainer } from '../compress/codec/parse.js';
import type { ContainerBreakdown } from '../compress/codec/parse.js';
import { crc32 } from '../compress/codec/crc32.js';

/**
 * Raw-deflate decompression with the platform's DecompressionStream (browsers, Node ≥ 20).
 *
 * ```ts
 * const testSet = await inflateRaw(new Uint8Array(await (await fetch('test-set.bin')).arrayBuffer()));
 * ```
 */
export async function inflateRaw(bytes: Uint8Array): Promise<Uint8Array> {
  const stream = new Blob([bytes as Uint8Array<ArrayBuffer>]).stream().pipeThrough(new DecompressionStream('deflate-raw'));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

class ProtoWriter {
  #parts: Uint8Array[] = [];
  length = 0;

  raw(b: Uint8Array): void {
    this.#parts.push(b);
    this.length += b.length;
  }

  varint(v: number): void {
    const out: number[] = [];
    while (v >= 0x80) {
      out.push((v % 0x80) | 0x80);
      v = Math.floor(v / 0x80);
    }
    out.push(v);
    this.raw(Uint8Array.from(out));
  }

  /** A length-delimited field (wire type 2). */
  field(num: number, body: Uint8Array): void {
    this.varint((num << 3) | 2);
    this.varint(body.length);
    this.raw(body);
  }

  finish(): Uint8Array {
    const out = new Uint8Array(this.length);
    let o = 0;
    for (const p of this.#parts) out.set(p, o), (o += p.length);
    return out;
  }
}

const ONNX_FLOAT = 1;

/** An ONNX TensorProto: dims (1), data_type (2), name (8), raw_data (9, little-endian float32). */
function tensorProto(name: string, dims: readonly number[], values: Float32Array): Uint8Array {
  const w = new ProtoWriter();
  for (const d of dims) {
    w.varint((1 << 3) | 0);
    w.varint(d);
  }
  w.varint((2 << 3) | 0);
  w.varint(ONNX_FLOAT);
  w.field(8, new TextEncoder().encode(name));
  const raw = new Uint8Array(values.length * 4);
  const dv = new DataView(raw.buffer);
  for (let i = 0; i < values.length; i++) dv.setFloat32(4 * i, values[i] as number, true);
  w.field(9, raw);
  return w.finish();
}

export interface DecodedOnnx {
  /** A complete ONNX model (the graph with every weight as an initializer). */
  onnx: Uint8Array;
  breakdown: ContainerBreakdown;
}

/**
 * Decodes a Deep Compression container into ONNX bytes. Protobuf merges repeated occurrences of a
 * message field, so each weight is appended to the stored ModelProto as its own
 * `graph { initializer { ... } }` field: ONNX Runtime reads the graph with every weight in it.
 * Throws WhittleError BAD_CONTAINER on a damaged file.
 *
 * ```ts
 * const { onnx } = await containerToOnnx(new Uint8Array(await (await fetch('model.wtl')).arrayBuffer()));
 * const session = await ort.InferenceSession.create(onnx);
 * ```
 */
export async function containerToOnnx(bytes: Uint8Array, o: { source?: string; inflate?: (b: Uint8Array) => Promise<Uint8Array> } = {}): Promise<DecodedOnnx> {
  const source = o.source ?? 'model.wtl';
  const parsed = parseContainer(bytes, source, crc32);
  let graph: Uint8Array;
  try {
    graph = await (o.inflate ?? inflateRaw)(parsed.graph);
  } catch (e) {
    throw Object.assign(new Error(`${source}: the stored graph is corrupt (${(e as Error).message})`), { code: 'BAD_CONTAINER' });
  }
  const w = new ProtoWriter();
  w.raw(graph);
  for (const t of parsed.tensors) {
    const g = new ProtoWriter();
    g.field(5, tensorProto(t.name, t.dims, t.values));
    w.field(7, g.finish());
  }
  return { onnx: w.finish(), breakdown: parsed.breakdown };
}
