import { WhittleError } from './errors.js';
import type { DType } from './tensor.js';
import type { Tensor } from './tensor.js';

/** A dimension: a fixed size, or a symbolic name such as 'N' for the batch. */
export type Dim = number | string;

export interface ValueInfo {
  name: string;
  dtype: DType;
  shape: Dim[];
  /** A tensor whose rank is unknown (the file gave no shape): `shape` is then [] and means nothing. */
  unranked?: boolean;
  /**
   * Set for a value that is not a tensor Whittle can hold: a sequence, optional or map, a
   * tensor of string/complex/float8/4-bit elements, or a value the file gives no type. It reads
   * like onnxruntime's type strings (`seq(tensor(float))`, `tensor(string)`, `unknown`);
   * `dtype`/`shape` then mean nothing and the original type is written back from `typeProto`.
   */
  type?: string;
  /** The serialized ONNX TypeProto for a value with `type` set (empty: no type). */
  typeProto?: Uint8Array;
  /** Serialized ONNX fields Whittle does not model (doc string, metadata), written back as they were. */
  extra?: Uint8Array;
}

export type Attribute =
  | { type: 'int'; value: number }
  | { type: 'float'; value: number }
  | { type: 'string'; value: string }
  | { type: 'ints'; value: number[] }
  | { type: 'floats'; value: number[] }
  | { type: 'strings'; value: string[] }
  | { type: 'tensor'; value: Tensor }
  | { type: 'graph'; value: Graph }
  /** Any other attribute (tensor lists, sparse tensors, types, graph lists, references inside functions): the serialized AttributeProto, written back as it was. */
  | { type: 'opaque'; value: Uint8Array };

export interface Node {
  name: string;
  opType: string;
  /** '' is the default ONNX domain. */
  domain: string;
  inputs: string[];
  outputs: string[];
  attributes: Record<string, Attribute>;
  /** Serialized ONNX fields Whittle does not model (doc string, overload, metadata), written back as they were. */
  extra?: Uint8Array;
  /** The name Whittle made up for a node the file left unnamed; while `name` still equals it, the file gets no name back. */
  generatedName?: string;
}

/** Helpers to write attributes tersely: `{ transB: attr.int(1) }`. */
export const attr = {
  int: (value: number): Attribute => ({ type: 'int', value }),
  float: (value: number): Attribute => ({ type: 'float', value }),
  string: (value: string): Attribute => ({ type: 'string', value }),
  ints: (value: number[]): Attribute => ({ type: 'ints', value }),
  floats: (value: number[]): Attribute => ({ type: 'floats', value }),
  tensor: (value: Tensor): Attribute => ({ type: 'tensor', value }),
  graph: (value: Graph): Attribute => ({ type: 'graph', value }),
};

export function getInt(node: Node, name: string, fallback: number): number {
  const a = node.attributes[name];
  if (a === undefined) return fallback;
  if (a.type !== 'int') throw new WhittleError('INVALID_GRAPH', `${node.opType} "${node.name}": attribute ${name} must be an int, got ${a.type}`);
  return a.value;
}

export function getFloat(node: Node, name: string, fallback: number): number {
  const a = node.attributes[name];
  if (a === undefined) return fallback;
  if (a.type !== 'float' && a.type !== 'int')
    throw new WhittleError('INVALID_GRAPH', `${node.opType} "${node.name}": attribute ${name} must be a float, got ${a.type}`);
  return a.value;
}

export function getInts(node: Node, name: string): number[] | undefined {
  const a = node.attributes[name];
  if (a === undefined) return undefined;
  if (a.type !== 'ints') throw new WhittleError('INVALID_GRAPH', `${node.opType} "${node.name}": attribute ${name} must be a list of ints, got ${a.type}`);
  return a.value;
}

export function getString(node: Node, name: string, fallback: string): string {
  const a = node.attributes[name];
  if (a === undefined) return fallback;
  if (a.type !== 'string') throw new WhittleError('INVALID_GRAPH', `${node.opType} "${node.name}": attribute ${name} must be a string, got ${a.type}`);
  return a.value;
}

/**
 * A computation graph: nodes in topological order, graph inputs/outputs, and initializers
 * (named constant tensors such as weights).
 *
 * ```ts
 * const g = new Graph('mlp');
 * g.inputs.push({ name: 'x', dtype: 'float32', shape: ['N', 784] });
 * ```
 */
export class Graph {
  name: string;
  nodes: Node[] = [];
  inputs: ValueInfo[] = [];
  outputs: ValueInfo[] = [];
  initializers = new Map<string, Tensor>();
  /** Known types and shapes of intermediate values. */
  valueInfo = new Map<string, ValueInfo>();
  /**
   * Initializers a Tensor cannot hold (string, complex, float8, 4-bit elements): the serialized
   * TensorProto by name, written back as it was. Transforms treat them as values of unknown content.
   */
  opaqueInitializers = new Map<string, Uint8Array>();
  /** Serialized ONNX fields of the graph Whittle does not model (doc string, quantization annotations). */
  extra?: Uint8Array;

  constructor(name = 'main') {
    this.name = name;
  }

  /** Deep-enough copy: nodes, lists and maps are new; tensors are shared (treat them as immutable). */
  clone(): Graph {
    const g = new Graph(this.name);
    g.nodes = this.nodes.map((n) => ({ ...n, inputs: [...n.inputs], outputs: [...n.outputs], attributes: { ...n.attributes } }));
    g.inputs = this.inputs.map((v) => ({ ...v, shape: [...v.shape] }));
    g.outputs = this.outputs.map((v) => ({ ...v, shape: [...v.shape] }));
    g.initializers = new Map(this.initializers);
    g.valueInfo = new Map([...this.valueInfo].map(([k, v]) => [k, { ...v, shape: [...v.shape] }]));
    g.opaqueInitializers = new Map(this.opaqueInitializers);
    g.extra = this.extra;
    return g;
  }

  /** The node that produces `value`, if any. */
  producerOf(value: string): Node | undefined {
    return this.nodes.find((n) => n.outputs.includes(value));
  }

  /** Nodes that read `value`. */
  consumersOf(value: string): Node[] {
    return this.nodes.filter((n) => n.inputs.includes(value));
  }

  /** Names of every value in the graph, to pick fresh names from. */
  allNames(): Set<string> {
    const s = new Set<string>();
    for (const v of this.inputs) s.add(v.name);
    for (const k of this.initializers.keys()) s.add(k);
    for (const k of this.opaqueInitializers.keys()) s.add(k);
    for (const n of this.nodes) {
      s.add(n.name);
      for (const o of n.outputs) s.add(o);
    }
    return s;
  }
}

export interface OpsetImport {
  domain: string;
  version: number;
}

/** A model: a graph plus the model-level fields of an .onnx file. */
export interface Model {
  graph: Graph;
  opsetImports: OpsetImport[];
  irVersion: number;
  producerName: string;
  producerVersion: string;
  /** ONNX metadata_props; Whittle records e.g. `whittle.normalize` here. */
  metadata: Record<string, string>;
  /**
   * Serialized ONNX model fields Whittle does not model (doc string, domain, model version,
   * model-local functions, training info), written back as they were.
   */
  extra?: Uint8Array;
}

export const DEFAULT_OPSET = 17;
export const DEFAULT_IR_VERSION = 8;

export function makeModel(graph: Graph, metadata: Record<string, string> = {}): Model {
  return {
    graph,
    opsetImports: [{ domain: '', version: DEFAULT_OPSET }],
    irVersion: DEFAULT_IR_VERSION,
    producerName: 'whittle',
    producerVersion: '0.1.0',
    metadata: { ...metadata },
  };
}

/** The default-domain opset a model imports. */
export function opsetOf(model: Model): number {
  return model.opsetImports.find((o) => o.domain === '' || o.domain === 'ai.onnx')?.version ?? DEFAULT_OPSET;
}

/**
 * Emits nodes into a graph with fresh, readable names: the one way transforms and gradient
 * rules add nodes.
 *
 * ```ts
 * const b = new GraphBuilder(g, 'grad');
 * const [y] = b.op('Relu', [x]);
 * ```
 */
export class GraphBuilder {
  readonly graph: Graph;
  readonly prefix: string;
  #used: Set<string>;
  #counter = 0;

  /**
   * `used`: the graph's names, shared with (and added to by) other builders over the same graph,
   * so a transform that makes one builder per layer does not scan every name for each.
   */
  constructor(graph: Graph, prefix = 'n', used?: Set<string>) {
    this.graph = graph;
    this.prefix = prefix;
    this.#used = used ?? graph.allNames();
  }

  fresh(hint: string): string {
    let name = `${this.prefix}/${hint}`;
    while (this.#used.has(name)) name = `${this.prefix}/${hint}_${++this.#counter}`;
    this.#used.add(name);
    return name;
  }

  /** Appends a node; returns its output names (`outputs` names them, or a count of fresh ones). */
  op(opType: string, inputs: string[], attributes: Record<string, Attribute> = {}, outputs: number | string[] = 1): string[] {
    const outs = typeof outputs === 'number' ? Array.from({ length: outputs }, (_, i) => this.fresh(`${opType}${outputs > 1 ? `_out${i}` : ''}`)) : outputs;
    for (const o of outs) this.#used.add(o);
    this.graph.nodes.push({ name: this.fresh(opType + '_node'), opType, domain: '', inputs, outputs: outs, attributes });
    return outs;
  }

  /** Like `op` with exactly one output. */
  op1(opType: string, inputs: string[], attributes: Record<string, Attribute> = {}): string {
    return this.op(opType, inputs, attributes, 1)[0] as string;
  }

  /** Adds an initializer and returns its name. */
  constant(t: Tensor, hint = 'const'): string {
    const name = this.fresh(hint);
    this.graph.initializers.set(name, t);
    return name;
  }
}
