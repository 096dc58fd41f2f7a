// Reading and writing .onnx files. The protobuf classes are generated from ONNX's official
// onnx.proto (src/ir/proto/, `npm run gen-proto`); this file only maps between its messages and
// Whittle's IR.
// Whatever the IR does not model (doc strings, functions, training info, non-tensor types,
// unusual attributes and tensors) travels as serialized protobuf beside it, so load → save keeps it.
import { create, fromBinary, isFieldSet, toBinary } from '@bufbuild/protobuf';
import type { DescMessage, MessageShape, UnknownField } from '@bufbuild/protobuf';
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
import type { AttributeProto, GraphProto, ModelProto, NodeProto, TypeProto, ValueInfoProto } from './proto/onnx_pb.js';
import { WhittleError } from './errors.js';
import type { Attribute, Dim, Model, Node, ValueInfo } from './graph.js';
import { Graph } from './graph.js';
import type { DecodeContext, ExternalWriter } from './onnx-tensor.js';
import { densify, opaqueTensorBytes, tensorFromProto, tensorToProto } from './onnx-tensor.js';
import { dtypeFromOnnx, isHoldable, ONNX_DTYPE, ONNX_TYPE_NAMES } from './tensor.js';
import type { DType } from './tensor.js';

export { decodeTensor } from './onnx-tensor.js';
export type { ExternalReader, ExternalWriter } from './onnx-tensor.js';

const utf8 = new TextEncoder();

const counts = { encodes: 0, decodes: 0 };
/** How many models this process has serialized and parsed: whole-model passes, counted so tests can guard how often a command pays for one. */
export function codecCounts(): { encodes: number; decodes: number } {
  return { ...counts };
}
const fromUtf8 = new TextDecoder();

const fieldsBySchema = new WeakMap<DescMessage, Map<string, DescMessage['fields'][number]>>();
function fieldOf(schema: DescMessage, key: string): DescMessage['fields'][number] | undefined {
  let m = fieldsBySchema.get(schema);
  if (m === undefined) fieldsBySchema.set(schema, (m = new Map(schema.fields.map((f) => [f.localName, f]))));
  return m.get(key);
}

/**
 * Serializes the fields Whittle does not model (`keys` of `msg`, those the file set, plus fields
 * unknown to this onnx.proto); undefined when there are none.
 */
function extraOf<D extends DescMessage>(schema: D, msg: MessageShape<D>, keys: readonly string[], emptyKeys: readonly string[] = []): Uint8Array | undefined {
  const src = msg as unknown as Record<string, unknown> & { $unknown?: UnknownField[] };
  const set = keys.filter((key) => {
    const field = fieldOf(schema, key);
    return field !== undefined && isFieldSet(msg, field);
  });
  // Modeled strings the file set to '' explicitly (withExtra never writes ''): remembered here.
  const empty = emptyKeys.filter((key) => {
    const field = fieldOf(schema, key);
    return field !== undefined && isFieldSet(msg, field) && src[key] === '';
  });
  const unknown = src.$unknown !== undefined && src.$unknown.length > 0;
  // The usual case (a node with nothing beyond what Whittle models) costs no message.
  if (set.length === 0 && empty.length === 0 && !unknown) return undefined;
  const m = create(schema) as Record<string, unknown> & { $unknown?: UnknownField[] };
  for (const key of set) m[key] = src[key];
  for (const key of empty) m[key] = '';
  if (unknown) m.$unknown = src.$unknown;
  const bytes = toBinary(schema, m as MessageShape<D>);
  return bytes.length > 0 ? bytes : undefined;
}

/**
 * A message built from its extra fields (if any) plus the modeled ones. Empty strings are left
 * unset: onnx.proto is proto2, where a set empty string is written, and files rarely set them.
 */
function withExtra<D extends DescMessage>(schema: D, extra: Uint8Array | undefined, modeled: Partial<MessageShape<D>>): MessageShape<D> {
  const m = extra === undefined ? create(schema) : fromBinary(schema, extra);
  for (const [k, v] of Object.entries(modeled)) if (v !== '' && v !== undefined) (m as Record<string, unknown>)[k] = v;
  return m;
}

/** ONNX's spelling of a type, as onnxruntime prints it: `tensor(float)`, `seq(tensor(int64))`. */
function describeType(t: TypeProto | undefined): string {
  const v = t?.value;
  switch (v?.case) {
    case 'tensorType':
      return `tensor(${ONNX_TYPE_NAMES[v.value.elemType] ?? v.value.elemType})`;
    case 'sparseTensorType':
      return `sparse_tensor(${ONNX_TYPE_NAMES[v.value.elemType] ?? v.value.elemType})`;
    case 'sequenceType':
      return `seq(${describeType(v.value.elemType)})`;
    case 'optionalType':
      return `optional(${describeType(v.value.elemType)})`;
    case 'mapType':
      return `map(${ONNX_TYPE_NAMES[v.value.keyType] ?? v.value.keyType},${describeType(v.value.valueType)})`;
    default:
      return 'unknown';
  }
}

/** The innermost element type a Tensor could hold, for the `dtype` of a non-tensor value. */
function innerDtype(t: TypeProto | undefined): DType {
  const v = t?.value;
  if (v?.case === 'tensorType' || v?.case === 'sparseTensorType') return isHoldable(v.value.elemType) ? dtypeFromOnnx(v.value.elemType) : 'uint8';
  if (v?.case === 'sequenceType' || v?.case === 'optionalType') return innerDtype(v.value.elemType);
  if (v?.case === 'mapType') return innerDtype(v.value.valueType);
  return 'float32';
}

function valueInfoToProto(v: ValueInfo): ValueInfoProto {
  let type: TypeProto | undefined;
  if (v.type !== undefined) {
    type = v.typeProto !== undefined && v.typeProto.length > 0 ? fromBinary(TypeProtoSchema, v.typeProto) : undefined;
  } else {
    const dim = v.shape.map((d) =>
      create(TensorShapeProto_DimensionSchema, {
        value: typeof d === 'number' ? { case: 'dimValue', value: BigInt(d) } : { case: 'dimParam', value: d },
      }),
    );
    const shape = v.unranked ? undefined : create(TensorShapeProtoSchema, { dim });
    type = create(TypeProtoSchema, { value: { case: 'tensorType', value: create(TypeProto_TensorSchema, { elemType: ONNX_DTYPE[v.dtype], shape }) } });
  }
  return withExtra(ValueInfoProtoSchema, v.extra, { name: v.name, type });
}

/** Whether a tensor type maps onto dtype + shape without losing anything. */
function plainTensorType(t: TypeProto | undefined): boolean {
  if (t?.value.case !== 'tensorType' || t.denotation !== '' || !isHoldable(t.value.value.elemType)) return false;
  return (t.value.value.shape?.dim ?? []).every((d) => d.denotation === '');
}

function valueInfoFromProto(p: ValueInfoProto): ValueInfo {
  const extra = extraOf(ValueInfoProtoSchema, p, ['docString', 'metadataProps']);
  const base = { name: p.name, ...(extra ? { extra } : {}) };
  if (p.type === undefined || p.type.value.case !== 'tensorType' || !plainTensorType(p.type)) {
    return {
      ...base,
      dtype: innerDtype(p.type),
      shape: [],
      type: describeType(p.type),
      typeProto: p.type === undefined ? new Uint8Array() : toBinary(TypeProtoSchema, p.type),
    };
  }
  const tt = p.type.value.value;
  let anon = 0;
  const shape: Dim[] = (tt.shape?.dim ?? []).map((d, axis) => {
    if (d.value.case !== 'dimValue') return d.value.case === 'dimParam' && d.value.value !== '' ? d.value.value : `${p.name}_d${anon++}`;
    const n = Number(d.value.value);
    // Past 2^53 no tensor has such a dim, and the number cannot be written back exactly.
    if (!Number.isSafeInteger(n))
      throw new WhittleError(
        'BAD_ONNX',
        `value "${p.name}" declares dim ${d.value.value} on axis ${axis}, larger than any tensor can have; the file is damaged or its exporter wrote the shape wrongly: fix that shape`,
      );
    return n;
  });
  return { ...base, dtype: dtypeFromOnnx(tt.elemType), shape, ...(tt.shape === undefined ? { unranked: true } : {}) };
}

function attributeToProto(name: string, a: Attribute, external?: ExternalWriter): AttributeProto {
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
      return create(AttributeProtoSchema, { name, type: AT.GRAPH, g: graphToProto(a.value, false, external) });
    case 'opaque':
      return Object.assign(fromBinary(AttributeProtoSchema, a.value), { name });
  }
}

/** Strings in attributes are bytes in ONNX; keep them opaque unless they are valid UTF-8. */
function utf8Text(b: Uint8Array): string | undefined {
  const s = fromUtf8.decode(b);
  return utf8.encode(s).length === b.length && s.indexOf('\uFFFD') < 0 ? s : undefined;
}

function attributeFromProto(p: AttributeProto, ctx: DecodeContext): Attribute {
  const opaque: Attribute = { type: 'opaque', value: toBinary(AttributeProtoSchema, p) };
  // A reference to a function's attribute, a doc string or fields from a newer ONNX: keep as is.
  if (p.refAttrName !== '' || p.docString !== '' || ((p as { $unknown?: unknown[] }).$unknown?.length ?? 0) > 0) return opaque;
  switch (p.type) {
    case AT.INT:
      return Number.isSafeInteger(Number(p.i)) ? { type: 'int', value: Number(p.i) } : opaque;
    case AT.FLOAT:
      return { type: 'float', value: p.f };
    case AT.STRING: {
      const s = utf8Text(p.s);
      return s === undefined ? opaque : { type: 'string', value: s };
    }
    case AT.INTS:
      return p.ints.every((x) => Number.isSafeInteger(Number(x))) ? { type: 'ints', value: p.ints.map((x) => Number(x)) } : opaque;
    case AT.FLOATS:
      return { type: 'floats', value: [...p.floats] };
    case AT.STRINGS: {
      const s = p.strings.map(utf8Text);
      return s.every((x) => x !== undefined) ? { type: 'strings', value: s as string[] } : opaque;
    }
    case AT.TENSOR: {
      const t = p.t === undefined ? undefined : tensorFromProto(p.t, ctx);
      return t === undefined ? opaque : { type: 'tensor', value: t };
    }
    case AT.GRAPH:
      return p.g === undefined ? opaque : { type: 'graph', value: graphFromProto(p.g, ctx) };
    default:
      return opaque;
  }
}

function nodeToProto(n: Node, external?: ExternalWriter): NodeProto {
  return withExtra(NodeProtoSchema, n.extra, {
    name: n.name === n.generatedName ? '' : n.name,
    opType: n.opType,
    domain: n.domain,
    input: n.inputs,
    output: n.outputs,
    attribute: Object.entries(n.attributes).map(([k, a]) => attributeToProto(k, a, external)),
  });
}

/** `initializersAsInputs`: IR version < 4 requires every initializer to be listed as a graph input too. */
function graphToProto(g: Graph, initializersAsInputs: boolean, external?: ExternalWriter): GraphProto {
  const input = g.inputs.map(valueInfoToProto);
  if (initializersAsInputs) {
    const listed = new Set(g.inputs.map((v) => v.name));
    for (const [name, t] of g.initializers) if (!listed.has(name)) input.push(valueInfoToProto({ name, dtype: t.dtype, shape: [...t.dims] }));
  }
  return withExtra(GraphProtoSchema, g.extra, {
    name: g.name,
    node: g.nodes.map((n) => nodeToProto(n, external)),
    input,
    output: g.outputs.map(valueInfoToProto),
    initializer: [
      ...[...g.initializers].map(([k, t]) => tensorToProto(k, t, external)),
      ...[...g.opaqueInitializers.values()].map((b) => fromBinary(TensorProtoSchema, b)),
    ],
    valueInfo: [...g.valueInfo.values()].map(valueInfoToProto),
  });
}

function graphFromProto(p: GraphProto, ctx: DecodeContext): Graph {
  const g = new Graph(p.name);
  g.extra = extraOf(GraphProtoSchema, p, ['docString', 'quantizationAnnotation', 'metadataProps'], ['name']);
  for (const t of p.initializer) {
    const tensor = tensorFromProto(t, ctx);
    if (tensor === undefined) g.opaqueInitializers.set(t.name, opaqueTensorBytes(t, ctx));
    else g.initializers.set(t.name, tensor);
  }
  // onnxruntime densifies sparse initializers when it loads a model; Whittle does the same.
  for (const s of p.sparseInitializer) {
    const { name, tensor } = densify(s, ctx);
    g.initializers.set(name, tensor);
  }
  for (const v of p.input) {
    // Old exporters list initializers among the inputs too; they are constants, not feeds.
    if (g.initializers.has(v.name) || g.opaqueInitializers.has(v.name)) continue;
    g.inputs.push(valueInfoFromProto(v));
  }
  for (const v of p.output) g.outputs.push(valueInfoFromProto(v));
  for (const v of p.valueInfo) g.valueInfo.set(v.name, valueInfoFromProto(v));
  g.nodes = p.node.map((n, i) => {
    const name = n.name || `${n.opType}_${i}`;
    const attributes: Record<string, Attribute> = {};
    for (const a of n.attribute) attributes[a.name] = attributeFromProto(a, ctx);
    const extra = extraOf(NodeProtoSchema, n, ['docString', 'overload', 'metadataProps', 'deviceConfigurations'], ['name', 'domain']);
    const node: Node = { name, opType: n.opType, domain: n.domain === 'ai.onnx' ? '' : n.domain, inputs: [...n.input], outputs: [...n.output], attributes };
    if (extra !== undefined) node.extra = extra;
    if (n.name === '') node.generatedName = name;
    return node;
  });
  return g;
}

export interface EncodeOptions {
  /** Takes initializers' bytes out of the file (external data); see `saveModel`. */
  external?: ExternalWriter;
}

/** Serializes a model to the bytes of an .onnx file. */
export function encodeModel(model: Model, options: EncodeOptions = {}): Uint8Array {
  counts.encodes++;
  const proto = withExtra(ModelProtoSchema, model.extra, {
    irVersion: BigInt(model.irVersion),
    producerName: model.producerName,
    producerVersion: model.producerVersion,
    // onnx's make_opsetid always sets the domain, '' included: written the same way.
    opsetImport: model.opsetImports.map((o) => create(OperatorSetIdProtoSchema, { domain: o.domain, version: BigInt(o.version) })),
    graph: graphToProto(model.graph, model.irVersion < 4, options.external),
    metadataProps: Object.entries(model.metadata).map(([key, value]) => create(StringStringEntryProtoSchema, { key, value })),
  });
  return toBinary(ModelProtoSchema, proto);
}

/**
 * Parses the bytes of an .onnx file. `readExternal` resolves tensors stored in other files
 * (`loadModelFile` passes one confined to the model's folder).
 *
 * ```ts
 * const model = decodeModel(readFileSync('lenet.onnx'));
 * ```
 */
export function decodeModel(bytes: Uint8Array, source = 'model', ctx: DecodeContext = {}): Model {
  counts.decodes++;
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
  const extra = extraOf(
    ModelProtoSchema,
    proto,
    ['domain', 'modelVersion', 'docString', 'trainingInfo', 'functions', 'configuration'],
    ['producerName', 'producerVersion'],
  );
  return {
    graph: graphFromProto(proto.graph, ctx),
    opsetImports: proto.opsetImport.map((o) => ({ domain: o.domain === 'ai.onnx' ? '' : o.domain, version: Number(o.version) })),
    irVersion: Number(proto.irVersion),
    producerName: proto.producerName,
    producerVersion: proto.producerVersion,
    metadata,
    ...(extra !== undefined ? { extra } : {}),
  };
}
