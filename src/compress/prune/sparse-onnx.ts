// Unstructured-sparse models as .onnx files with ONNX's own sparse form: each sparse weight is a
// SparseTensorProto (nonzero values + their flat int32 positions) in graph.sparse_initializer,
// which onnxruntime densifies when it loads the model. No custom container, no custom op.
import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import { ModelProtoSchema, SparseTensorProtoSchema, TensorProtoSchema } from '../../ir/proto/onnx_pb.js';
import type { TensorProto } from '../../ir/proto/onnx_pb.js';
import { WhittleError } from '../../ir/errors.js';
import type { Model } from '../../ir/graph.js';
import { decodeModel, encodeModel } from '../../ir/onnx.js';
import { loadModelFile } from '../../ir/io.js';
import { ONNX_DTYPE } from '../../ir/tensor.js';

const INT32 = 6;

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
 * Reads an .onnx file whose graph may hold sparse initializers, densifying them (decodeModel
 * does that for every model now; kept for callers of this name).
 *
 * ```ts
 * const model = decodeSparseOnnx(readFileSync('sparse.onnx'));
 * ```
 */
export function decodeSparseOnnx(bytes: Uint8Array, source?: string): Model {
  return decodeModel(bytes, source);
}

/**
 * Reads an .onnx file, densifying sparse initializers (what `loadModelFile` does).
 *
 * ```ts
 * const model = loadSparseOnnxFile('lenet-sparse.onnx');
 * ```
 */
export function loadSparseOnnxFile(path: string): Model {
  return loadModelFile(path);
}
