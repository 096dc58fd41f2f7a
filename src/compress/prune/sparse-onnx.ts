// Unstructured-sparse models as .onnx files with ONNX's own sparse form: each sparse weight is a
// SparseTensorProto (nonzero values + their flat int32 positions) in graph.sparse_initializer,
// which onnxruntime densifies when it loads the model. No custom container, no custom op.
import { readFileSync } from 'node:fs';
import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import { ModelProtoSchema, SparseTensorProtoSchema, TensorProtoSchema } from '../../ir/proto/onnx_pb.js';
import type { TensorProto } from '../../ir/proto/onnx_pb.js';
import { WhittleError } from '../../ir/errors.js';
import type { Model } from '../../ir/graph.js';
import { decodeModel, encodeModel } from '../../ir/onnx.js';
import { ONNX_DTYPE } from '../../ir/tensor.js';

const INT32 = 6;

/** A fresh, exactly sized copy: the bytes may be a view into a larger (Node Buffer) allocation. */
function ownBuffer(u: Uint8Array): ArrayBuffer {
  const c = new Uint8Array(u.length);
  c.set(u);
  return c.buffer;
}
const INT64 = 7;

export interface SparseOnnxOptions {
  /** Store a float32 initializer sparse when at least this fraction is zero; default 0.5 (where the form starts to pay: 8 bytes per nonzero). */
  minSparsity?: number;
}

/**
 * Encodes a model with its sparse float32 weights as ONNX sparse initializers.
 *
 * ```ts
 * writeFileSync('sparse.onnx', encodeSparseOnnx(prunedModel));
 * ```
 */
export function encodeSparseOnnx(model: Model, o: SparseOnnxOptions = {}): Uint8Array {
  const min = o.minSparsity ?? 0.5;
  const proto = fromBinary(ModelProtoSchema, encodeModel(model));
  const graph = proto.graph;
  if (graph === undefined) throw new WhittleError('INVALID_GRAPH', 'the model has no graph');
  const keep: TensorProto[] = [];
  for (const init of graph.initializer) {
    const t = model.graph.initializers.get(init.name);
    if (t === undefined || t.dtype !== 'float32' || t.size >= 2 ** 31) {
      keep.push(init);
      continue;
    }
    const d = t.data as Float32Array;
    let nz = 0;
    for (let i = 0; i < d.length; i++) if (d[i] !== 0) nz++;
    if (1 - nz / Math.max(1, d.length) < min) {
      keep.push(init);
      continue;
    }
    const values = new Float32Array(nz);
    const indices = new Int32Array(nz);
    for (let i = 0, j = 0; i < d.length; i++) {
      if (d[i] === 0) continue;
      values[j] = d[i] as number;
      indices[j++] = i;
    }
    graph.sparseInitializer.push(
      create(SparseTensorProtoSchema, {
        dims: t.dims.map((x) => BigInt(x)),
        values: create(TensorProtoSchema, { name: init.name, dataType: ONNX_DTYPE.float32, dims: [BigInt(nz)], rawData: new Uint8Array(values.buffer) }),
        indices: create(TensorProtoSchema, { name: `${init.name}.indices`, dataType: INT32, dims: [BigInt(nz)], rawData: new Uint8Array(indices.buffer) }),
      }),
    );
  }
  graph.initializer = keep;
  return toBinary(ModelProtoSchema, proto);
}

/**
 * Reads an .onnx file whose graph may hold sparse initializers (flat int32/int64 indices),
 * densifying them.
 *
 * ```ts
 * const model = decodeSparseOnnx(readFileSync('sparse.onnx'));
 * ```
 */
export function decodeSparseOnnx(bytes: Uint8Array, source?: string): Model {
  let proto;
  try {
    proto = fromBinary(ModelProtoSchema, bytes);
  } catch {
    return decodeModel(bytes, source);
  }
  const graph = proto.graph;
  if (graph === undefined || graph.sparseInitializer.length === 0) return decodeModel(bytes, source);
  for (const s of graph.sparseInitializer) {
    const v = s.values;
    const ix = s.indices;
    if (v === undefined || ix === undefined || v.dataType !== ONNX_DTYPE.float32 || (ix.dataType !== INT32 && ix.dataType !== INT64) || ix.dims.length !== 1) {
      throw new WhittleError('BAD_ONNX', `sparse initializer "${v?.name ?? '?'}": Whittle reads float32 values with flat int32/int64 indices`);
    }
    const size = s.dims.reduce((a, x) => a * Number(x), 1);
    const dense = new Float32Array(size);
    const vals = v.rawData.length > 0 ? new Float32Array(ownBuffer(v.rawData)) : Float32Array.from(v.floatData);
    const raw = ownBuffer(ix.rawData);
    const idx: ArrayLike<number | bigint> = ix.rawData.length > 0 ? (ix.dataType === INT32 ? new Int32Array(raw) : new BigInt64Array(raw)) : ix.dataType === INT32 ? Int32Array.from(ix.int32Data) : ix.int64Data;
    for (let j = 0; j < vals.length; j++) dense[Number(idx[j])] = vals[j] as number;
    graph.initializer.push(create(TensorProtoSchema, { name: v.name, dataType: ONNX_DTYPE.float32, dims: s.dims, rawData: new Uint8Array(dense.buffer) }));
  }
  graph.sparseInitializer = [];
  return decodeModel(toBinary(ModelProtoSchema, proto), source);
}

/**
 * Reads an .onnx file, densifying sparse initializers (what `loadModelFile` does for dense ones).
 *
 * ```ts
 * const model = loadSparseOnnxFile('lenet-sparse.onnx');
 * ```
 */
export function loadSparseOnnxFile(path: string): Model {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    throw new WhittleError('IO', `cannot read ${path}: ${(e as Error).message}`, { cause: e });
  }
  return decodeSparseOnnx(bytes, path);
}
