// Element types of every value in a graph, for any op: quantization and fp16 must know which
// values are float32 activations (an Add of int64 shape values is not one) without needing a
// shape rule for every op. Declared value info wins; else a small table of the ops whose output
// type differs from their first input's.
import type { Attribute, Graph, Model, Node } from './graph.js';
import type { DType } from './tensor.js';
import { dtypeFromOnnx } from './tensor.js';

const INT64_OUT = new Set(['Shape', 'Size', 'NonZero', 'ArgMax', 'ArgMin', 'NonMaxSuppression']);
const BOOL_OUT = new Set(['Equal', 'Less', 'Greater', 'LessOrEqual', 'GreaterOrEqual', 'Not', 'And', 'Or', 'Xor', 'IsNaN', 'IsInf']);
const INT32_OUT = new Set(['MatMulInteger', 'ConvInteger']);
const FLOAT_OUT = new Set([
  'DequantizeLinear',
  'RandomNormal',
  'RandomUniform',
  'EyeLike',
  'MatMulIntegerToFloat',
  'DynamicQuantizeMatMul',
  'DynamicQuantizeLSTM',
  'MatMulNBits',
]);

function onnxType(code: number): DType | undefined {
  try {
    return dtypeFromOnnx(code);
  } catch {
    return undefined;
  }
}

function attrDtype(a: Attribute | undefined): DType | undefined {
  if (a === undefined) return undefined;
  if (a.type === 'tensor') return a.value.dtype;
  if (a.type === 'int') return onnxType(a.value);
  return undefined;
}

/** The output types of one node, given the types of its inputs. */
function outputTypes(node: Node, typeOf: (v: string) => DType | undefined): (DType | undefined)[] {
  const first = node.inputs.map((i) => (i === '' ? undefined : typeOf(i))).find((t) => t !== undefined);
  const all = (t: DType | undefined): (DType | undefined)[] => node.outputs.map(() => t);
  const op = node.opType;
  if (INT64_OUT.has(op)) return all('int64');
  if (BOOL_OUT.has(op)) return all('bool');
  if (INT32_OUT.has(op)) return all('int32');
  if (FLOAT_OUT.has(op)) return all('float32');
  switch (op) {
    case 'Cast':
      return all(attrDtype(node.attributes['to']));
    case 'CastLike':
      return all(typeOf(node.inputs[1] ?? ''));
    case 'Constant': {
      const a = node.attributes;
      if (a['value']?.type === 'tensor') return all(a['value'].value.dtype);
      if (a['value_float'] !== undefined || a['value_floats'] !== undefined) return all('float32');
      if (a['value_int'] !== undefined || a['value_ints'] !== undefined) return all('int64');
      return all(undefined);
    }
    case 'ConstantOfShape':
      return all(node.attributes['value']?.type === 'tensor' ? node.attributes['value'].value.dtype : 'float32');
    case 'RandomNormalLike':
    case 'RandomUniformLike':
      return all(attrDtype(node.attributes['dtype']) ?? first);
    case 'Where':
      return all(typeOf(node.inputs[1] ?? ''));
    case 'OneHot':
      return all(typeOf(node.inputs[2] ?? ''));
    case 'QuantizeLinear':
      return all(node.inputs[2] ? typeOf(node.inputs[2]) : 'uint8');
    case 'DynamicQuantizeLinear':
      return ['uint8', 'float32', 'uint8'];
    case 'MaxPool':
    case 'TopK':
      return [first, 'int64'];
    case 'If':
    case 'Loop':
    case 'Scan':
      // Subgraph outputs: only declared value info knows them.
      return all(undefined);
    default:
      return all(first);
  }
}

/**
 * The element type of every value of the model's main graph (undefined where unknown).
 *
 * ```ts
 * const types = valueTypes(model);
 * const isActivation = types.get('/conv1/Conv_output_0') === 'float32';
 * ```
 */
export function valueTypes(model: Model): Map<string, DType | undefined> {
  return graphValueTypes(model.graph);
}

/** `valueTypes` of one graph; `outer` holds the types of the enclosing graphs' values (subgraphs). */
export function graphValueTypes(g: Graph, outer: ReadonlyMap<string, DType | undefined> = new Map()): Map<string, DType | undefined> {
  const types = new Map<string, DType | undefined>(outer);
  for (const v of g.inputs) types.set(v.name, v.dtype);
  for (const [k, t] of g.initializers) types.set(k, t.dtype);
  const declared = new Map<string, DType>();
  for (const v of [...g.valueInfo.values(), ...g.outputs]) declared.set(v.name, v.dtype);
  const typeOf = (v: string): DType | undefined => types.get(v) ?? declared.get(v);
  for (const node of g.nodes) {
    const out = outputTypes(node, typeOf);
    node.outputs.forEach((o, i) => {
      if (o !== '') types.set(o, declared.get(o) ?? out[i]);
    });
  }
  return types;
}
