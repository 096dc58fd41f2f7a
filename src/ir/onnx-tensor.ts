// TensorProto ↔ Tensor: every way ONNX stores tensor data (raw_data, the typed fields, external
// files, sparse tensors), read into Whittle's Tensor; written back as raw_data.
import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import { StringStringEntryProtoSchema, TensorProtoSchema } from './proto/onnx_pb.js';
import type { SparseTensorProto, TensorProto } from './proto/onnx_pb.js';
import { WhittleError } from './errors.js';
import { checkedSize } from './limits.js';
import { printable } from './text.js';
import { allocate, bytesPerElement, dtypeFromOnnx, isHoldable, ONNX_DTYPE, ONNX_TYPE_NAMES, sizeOf, Tensor } from './tensor.js';

/** TensorProto.data_location: the bytes live in another file. */
const EXTERNAL = 1;

/**
 * Reads the bytes of one externally stored tensor: `location` relative to the model's folder,
 * `length` undefined for "to the end of the file". Throws naming `tensor` when it cannot.
 */
export type ExternalReader = (tensor: string, location: string, offset: number, length: number | undefined) => Uint8Array;

/** Where `encodeModel` put an initializer's bytes outside the .onnx file (undefined: embed them). */
export type ExternalWriter = (name: string, raw: Uint8Array) => { location: string; offset: number; length: number } | undefined;

export interface DecodeContext {
  /** Resolves external data; without it a model with external data is refused. */
  readExternal?: ExternalReader;
}

function shapeText(dims: readonly number[]): string {
  return `[${dims.join(', ')}]`;
}

/** The bytes of a tensor stored outside the model file, as raw_data. */
function externalBytes(p: TensorProto, ctx: DecodeContext): Uint8Array {
  const entry = new Map(p.externalData.map((e) => [e.key, e.value]));
  const location = entry.get('location');
  if (location === undefined || location === '')
    throw new WhittleError('BAD_ONNX', `tensor "${p.name}" says its data is external but names no location; the file is damaged`);
  if (ctx.readExternal === undefined) {
    throw new WhittleError(
      'BAD_ONNX',
      `tensor "${p.name}" stores its data in the external file "${location}"; load the model from its file (loadModelFile) so Whittle can find it beside the .onnx`,
    );
  }
  const offset = Number(entry.get('offset') ?? 0);
  const length = entry.has('length') ? Number(entry.get('length')) : undefined;
  if (!Number.isSafeInteger(offset) || offset < 0 || (length !== undefined && (!Number.isSafeInteger(length) || length < 0))) {
    throw new WhittleError(
      'BAD_ONNX',
      `tensor "${p.name}": external data offset/length must be non-negative integers, got ${entry.get('offset')}/${entry.get('length')}`,
    );
  }
  return ctx.readExternal(p.name, location, offset, length);
}

/** Copies little-endian bytes into a fresh typed array (the bytes may be unaligned). */
function fromRaw(p: TensorProto, raw: Uint8Array, dims: number[]): Tensor {
  const dtype = dtypeFromOnnx(p.dataType);
  const n = sizeOf(dims);
  const want = n * bytesPerElement(dtype);
  if (raw.length !== want) {
    throw new WhittleError(
      'BAD_ONNX',
      `tensor "${p.name}" of type ${dtype} and shape ${shapeText(dims)} should hold ${want} bytes, has ${raw.length}; the file is damaged`,
    );
  }
  const out = allocate(dtype, n);
  new Uint8Array(out.buffer).set(raw);
  return new Tensor(dtype, dims, out);
}

/** The typed field of TensorProto that holds `dtype`'s values when raw_data is not used. */
function typedField(p: TensorProto): ArrayLike<number | bigint> {
  switch (dtypeFromOnnx(p.dataType)) {
    case 'float32':
      return p.floatData;
    case 'float64':
      return p.doubleData;
    case 'int64':
      return p.int64Data;
    case 'uint32':
    case 'uint64':
      return p.uint64Data;
    default:
      // int32, int16, int8, uint16, uint8, bool, and the bit patterns of float16/bfloat16.
      return p.int32Data;
  }
}

/**
 * A TensorProto as a Tensor; undefined when its element type has no Tensor form (string,
 * complex, float8, 4-bit), which the caller keeps as opaque bytes.
 */
export function tensorFromProto(p: TensorProto, ctx: DecodeContext = {}): Tensor | undefined {
  if (!isHoldable(p.dataType)) return undefined;
  const dims = p.dims.map((x) => Number(x));
  checkedSize(dims, bytesPerElement(dtypeFromOnnx(p.dataType)), `tensor "${printable(p.name)}"`, 'the model', 'BAD_ONNX');
  if (p.dataLocation === EXTERNAL) return fromRaw(p, externalBytes(p, ctx), dims);
  if (p.rawData.length > 0 || sizeOf(dims) === 0) return fromRaw(p, p.rawData, dims);
  const dtype = dtypeFromOnnx(p.dataType);
  const n = sizeOf(dims);
  const src = typedField(p);
  if (src.length !== n) {
    throw new WhittleError(
      'BAD_ONNX',
      `tensor "${p.name}" of type ${dtype} and shape ${shapeText(dims)} should hold ${n} values, has ${src.length}; the file is damaged`,
    );
  }
  const out = allocate(dtype, n);
  if (out instanceof BigInt64Array || out instanceof BigUint64Array) for (let i = 0; i < n; i++) out[i] = BigInt(src[i] as bigint);
  else for (let i = 0; i < n; i++) out[i] = Number(src[i]);
  return new Tensor(dtype, dims, out);
}

/**
 * A TensorProto Whittle keeps opaque, serialized; external data is read in so the bytes stand
 * alone.
 */
export function opaqueTensorBytes(p: TensorProto, ctx: DecodeContext = {}): Uint8Array {
  if (p.dataLocation === EXTERNAL) {
    const copy = create(TensorProtoSchema, { ...p, rawData: new Uint8Array(externalBytes(p, ctx)), externalData: [], dataLocation: 0 });
    return toBinary(TensorProtoSchema, copy);
  }
  return toBinary(TensorProtoSchema, p);
}

/** Writes a Tensor as a TensorProto with raw_data (or external data when `external` takes it). */
export function tensorToProto(name: string, t: Tensor, external?: ExternalWriter): TensorProto {
  const d = t.data;
  const view = new Uint8Array(d.buffer, d.byteOffset, d.byteLength);
  const dims = t.dims.map((x) => BigInt(x));
  const where = external?.(name, view);
  if (where !== undefined) {
    const entries = { location: where.location, offset: String(where.offset), length: String(where.length) };
    const externalData = Object.entries(entries).map(([key, value]) => create(StringStringEntryProtoSchema, { key, value }));
    return create(TensorProtoSchema, { name, dims, dataType: ONNX_DTYPE[t.dtype], dataLocation: EXTERNAL, externalData });
  }
  return create(TensorProtoSchema, { name, dims, dataType: ONNX_DTYPE[t.dtype], rawData: view.slice() });
}

/**
 * A sparse initializer as a dense Tensor (what onnxruntime does when it loads one): values at
 * flat int32/int64 positions ([NNZ] indices) or at coordinates ([NNZ, rank] indices).
 */
export function densify(s: SparseTensorProto, ctx: DecodeContext = {}): { name: string; tensor: Tensor } {
  const name = s.values?.name ?? '';
  const values = s.values === undefined ? undefined : tensorFromProto(s.values, ctx);
  const indices = s.indices === undefined ? undefined : tensorFromProto(s.indices, ctx);
  if (values === undefined || indices === undefined || (indices.dtype !== 'int64' && indices.dtype !== 'int32')) {
    throw new WhittleError(
      'BAD_ONNX',
      `sparse initializer "${name}" needs values of a numeric type (got ${ONNX_TYPE_NAMES[s.values?.dataType ?? 0] ?? 'none'}) and int32/int64 indices`,
    );
  }
  const dims = s.dims.map((x) => Number(x));
  const out = allocate(values.dtype, checkedSize(dims, bytesPerElement(values.dtype), `sparse initializer "${printable(name)}"`, 'the model', 'BAD_ONNX'));
  const nnz = values.size;
  const ix = indices.toNumbers();
  const rank = dims.length;
  const coordinates = indices.dims.length === 2;
  const strides = dims.map((_, a) => sizeOf(dims.slice(a + 1)));
  for (let j = 0; j < nnz; j++) {
    let at = 0;
    if (coordinates) for (let a = 0; a < rank; a++) at += (ix[j * rank + a] as number) * (strides[a] as number);
    else at = ix[j] as number;
    if (at < 0 || at >= out.length) throw new WhittleError('BAD_ONNX', `sparse initializer "${name}": index ${at} is outside its shape ${shapeText(dims)}`);
    (out as unknown as { [i: number]: number | bigint })[at] = values.data[j] as number | bigint;
  }
  return { name, tensor: new Tensor(values.dtype, dims, out) };
}

/**
 * Parses a serialized TensorProto (an ONNX test's `input_0.pb`, say) into a Tensor.
 *
 * ```ts
 * const x = decodeTensor(readFileSync('test_data_set_0/input_0.pb'));
 * ```
 */
export function decodeTensor(bytes: Uint8Array, source = 'tensor'): Tensor {
  let p: TensorProto;
  try {
    p = fromBinary(TensorProtoSchema, bytes);
  } catch (e) {
    throw new WhittleError('BAD_ONNX', `${source} is not a serialized ONNX TensorProto (${(e as Error).message})`, { cause: e });
  }
  const t = tensorFromProto(p);
  if (t === undefined)
    throw new WhittleError('BAD_ONNX', `${source} holds ${ONNX_TYPE_NAMES[p.dataType] ?? p.dataType} elements, which a Whittle Tensor cannot hold`);
  return t;
}
