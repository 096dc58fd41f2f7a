// Reading and writing .onnx files. The protobuf classes are generated from ONNX's official
// onnx.proto (src/ir/proto/, `npm run gen-proto`); this file only maps between its messages and
// Whittle's IR.
import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import {
  AttributeProto_AttributeType as AT,
  AttributeProtoSchema,
  GraphProtoSchema,
  ModelProtoSchema,
  NodeProtoSchema,
  OperatorSetIdProtoSchema,
  StringStringEntryProtoSchema,
  TensorProtoSchema,
  TensorShapeProto_DimensionSchema,
  TensorShapeProtoSchema,
  TypeProto_TensorSchema,
  TypeProtoSchema,
  ValueInfoProtoSchema,
} from './proto/onnx_pb.js';
import type { AttributeProto, GraphProto, ModelProto, NodeProto, TensorProto, ValueInfoProto } from './proto/onnx_pb.js';
import { WhittleError } from './errors.js';
import type { Attribute, Dim, Model, Node, ValueInfo } from './graph.js';
import { Graph } from './graph.js';
import { allocate, bytesPerElement, dtypeFromOnnx, ONNX_DTYPE, sizeOf, Tensor } from './tensor.js';

const utf8 = new TextEncoder();
const fromUtf8 = new TextDecoder();

function tensorToProto(name: string, t: Tensor): TensorProto {
  const d = t.data;
  const raw = new Uint8Array(d.byteLength);
  raw.set(new Uint8Array(d.buffer, d.byteOffset, d.byteLength));
  return create(TensorProtoSchema, {
    name,
    dims: t.dims.map((x) => BigInt(x)),
    dataType: ONNX_DTYPE[t.dtype],
    rawData: raw,
  });
}

function tensorFromProto(p: TensorProto): Tensor {
  if (p.externalData.length > 0 || p.dataLocation === 1) {
    throw new WhittleError('BAD_ONNX', `tensor "${p.name}" stores its data in an external file; re-save the model with the weights embedded (onnx.save(model, path, save_as_external_data=False))`);
  }
  const dtype = dtypeFromOnnx(p.dataType);
  const dims = p.dims.map((x) => Number(x));
  const n = sizeOf(dims);
  const out = allocate(dtype, n);
  if (p.rawData.length > 0) {
    const want = n * bytesPerElement(dtype);
    if (p.rawData.length !== want) {
      throw new WhittleError('BAD_ONNX', `tensor "${p.name}" of shape [${dims.join(', ')}] should hold ${want} bytes, has ${p.rawData.length}; the file is damaged`);
    }
    new Uint8Array(out.buffer).set(p.rawData);
    return new Tensor(dtype, dims, out);
  }
  const src: ArrayLike<number | bigint> =
    dtype === 'float32' ? p.floatData : dtype === 'float64' ? p.doubleData : dtype === 'int64' ? p.int64Data : p.int32Data;
  if (src.length !== n) {
    throw new WhittleError('BAD_ONNX', `tensor "${p.name}" of shape [${dims.join(', ')}] should hold ${n} values, has ${src.length}; the file is damaged`);
  }
  if (out instanceof BigInt64Array) for (let i = 0; i < n; i++) out[i] = BigInt(src[i] as bigint);
  else for (let i = 0; i < n; i++) out[i] = Number(src[i]);
  return new Tensor(dtype, dims, out);
}

function valueInfoToProto(v: ValueInfo): ValueInfoProto {
  const dim = v.shape.map((d) =>
    create(TensorShapeProto_DimensionSchema, {
      value: typeof d === 'number' ? { case: 'dimValue', value: BigInt(d) } : { case: 'dimParam', value: d },
    }),
  );
  return create(ValueInfoProtoSchema, {
    name: v.name,
    type: create(TypeProtoSchema, {
      value: { case: 'tensorType', value: create(TypeProto_TensorSchema, { elemType: ONNX_DTYPE[v.dtype], shape: create(TensorShapeProtoSchema, { dim }) }) },
    }),
  });
}

function valueInfoFromProto(p: ValueInfoProto): ValueInfo | undefined {
  if (p.type?.value.case !== 'tensorType') return undefined;
  const tt = p.type.value.value;
  let anon = 0;
  const shape: Dim[] = (tt.shape?.dim ?? []).map((d) =>
    d.value.case === 'dimValue' ? Number(d.value.value) : d.value.case === 'dimParam' ? d.value.value : `${p.name}_d${anon++}`,
  );
  return { name: p.name, dtype: dtypeFromOnnx(tt.elemType), shape };
}

function attributeToProto(name: string, a: Attribute): AttributeProto {
  switch (a.type) {
    case 'int':
      return create(AttributeProtoSchema, { name, type: AT.INT, i: BigInt(a.value) });
    case 'float':
      return create(AttributeProtoSchema, { name, type: AT.FLOAT, f: a.value });
    case 'string':
      return create(AttributeProtoSchema, { name, type: AT.STRING, s: utf8.encode(a.value) });
    case 'ints':
      return create(AttributeProtoSchema, { name, type: AT.INTS, ints: a.value.map((x) => BigInt(x)) });
    case 'floats':
      return create(AttributeProtoSchema, { name, type: AT.FLOATS, floats: a.value });
    case 'strings':
      return create(AttributeProtoSchema, { name, type: AT.STRINGS, strings: a.value.map((s) => utf8.encode(s)) });
    case 'tensor':
      return create(AttributeProtoSchema, { name, type: AT.TENSOR, t: tensorToProto('', a.value) });
    case 'graph':
      return create(AttributeProtoSchema, { name, type: AT.GRAPH, g: graphToProto(a.value) });
  }
}

function attributeFromProto(p: AttributeProto, owner: string): Attribute {
  switch (p.type) {
    case AT.INT:
      return { type: 'int', value: Number(p.i) };
    case AT.FLOAT:
      return { type: 'float', value: p.f };
    case AT.STRING:
      return { type: 'string', value: fromUtf8.decode(p.s) };
    case AT.INTS:
      return { type: 'ints', value: p.ints.map((x) => Number(x)) };
    case AT.FLOATS:
      return { type: 'floats', value: [...p.floats] };
    case AT.STRINGS:
      return { type: 'strings', value: p.strings.map((s) => fromUtf8.decode(s)) };
    case AT.TENSOR:
      if (p.t === undefined) break;
      return { type: 'tensor', value: tensorFromProto(p.t) };
    case AT.GRAPH:
      if (p.g === undefined) break;
      return { type: 'graph', value: graphFromProto(p.g) };
    default:
      break;
  }
  throw new WhittleError('BAD_ONNX', `${owner}: attribute "${p.name}" has type ${AT[p.type] ?? p.type}, which Whittle does not read`);
}

function nodeToProto(n: Node): NodeProto {
  return create(NodeProtoSchema, {
    name: n.name,
    opType: n.opType,
    domain: n.domain,
    input: n.inputs,
    output: n.outputs,
    attribute: Object.entries(n.attributes).map(([k, a]) => attributeToProto(k, a)),
  });
}

function graphToProto(g: Graph): GraphProto {
  return create(GraphProtoSchema, {
    name: g.name,
    node: g.nodes.map(nodeToProto),
    input: g.inputs.map(valueInfoToProto),
    output: g.outputs.map(valueInfoToProto),
    initializer: [...g.initializers].map(([k, t]) => tensorToProto(k, t)),
    valueInfo: [...g.valueInfo.values()].map(valueInfoToProto),
  });
}

function graphFromProto(p: GraphProto): Graph {
  const g = new Graph(p.name);
  for (const t of p.initializer) g.initializers.set(t.name, tensorFromProto(t));
  if (p.sparseInitializer.length > 0) {
    throw new WhittleError('BAD_ONNX', `graph "${p.name}" has sparse initializers, which Whittle does not read yet; densify them before loading`);
  }
  for (const v of p.input) {
    // Old exporters list initializers among the inputs too; they are constants, not feeds.
    if (g.initializers.has(v.name)) continue;
    const vi = valueInfoFromProto(v);
    if (vi === undefined) throw new WhittleError('BAD_ONNX', `graph input "${v.name}" is not a tensor; Whittle handles tensor inputs only`);
    g.inputs.push(vi);
  }
  for (const v of p.output) {
    const vi = valueInfoFromProto(v);
    if (vi === undefined) throw new WhittleError('BAD_ONNX', `graph output "${v.name}" is not a tensor; Whittle handles tensor outputs only`);
    g.outputs.push(vi);
  }
  for (const v of p.valueInfo) {
    const vi = valueInfoFromProto(v);
    if (vi !== undefined) g.valueInfo.set(vi.name, vi);
  }
  g.nodes = p.node.map((n, i) => {
    const name = n.name || `${n.opType}_${i}`;
    const attributes: Record<string, Attribute> = {};
    for (const a of n.attribute) attributes[a.name] = attributeFromProto(a, `${n.opType} "${name}"`);
    return { name, opType: n.opType, domain: n.domain === 'ai.onnx' ? '' : n.domain, inputs: [...n.input], outputs: [...n.output], attributes };
  });
  return g;
}

/** Serializes a model to the bytes of an .onnx file. */
export function encodeModel(model: Model): Uint8Array {
  const proto = create(ModelProtoSchema, {
    irVersion: BigInt(model.irVersion),
    producerName: model.producerName,
    producerVersion: model.producerVersion,
    opsetImport: model.opsetImports.map((o) => create(OperatorSetIdProtoSchema, { domain: o.domain, version: BigInt(o.version) })),
    graph: graphToProto(model.graph),
    metadataProps: Object.entries(model.metadata).map(([key, value]) => create(StringStringEntryProtoSchema, { key, value })),
  });
  return toBinary(ModelProtoSchema, proto);
}

/**
 * Parses the bytes of an .onnx file.
 *
 * ```ts
 * const model = decodeModel(readFileSync('lenet.onnx'));
 * ```
 */
export function decodeModel(bytes: Uint8Array, source = 'model'): Model {
  let proto: ModelProto;
  try {
    proto = fromBinary(ModelProtoSchema, bytes);
  } catch (e) {
    throw new WhittleError('BAD_ONNX', `${source} is not a valid ONNX file (${(e as Error).message}); is it truncated, or not an .onnx model?`, { cause: e });
  }
  if (proto.graph === undefined || (proto.graph.node.length === 0 && proto.graph.output.length === 0)) {
    throw new WhittleError('BAD_ONNX', `${source} holds no ONNX graph; is it really an .onnx model?`);
  }
  const metadata: Record<string, string> = {};
  for (const e of proto.metadataProps) metadata[e.key] = e.value;
  return {
    graph: graphFromProto(proto.graph),
    opsetImports: proto.opsetImport.map((o) => ({ domain: o.domain === 'ai.onnx' ? '' : o.domain, version: Number(o.version) })),
    irVersion: Number(proto.irVersion),
    producerName: proto.producerName,
    producerVersion: proto.producerVersion,
    metadata,
  };
}
