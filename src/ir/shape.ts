// Shape inference driver. The per-op rules live in ops/ (which ir/ may not import), so the
// caller passes the rule table in.
import { WhittleError } from './errors.js';
import type { Dim, Graph, Node, ValueInfo } from './graph.js';
import type { DType, Tensor } from './tensor.js';

export interface TypeShape {
  dtype: DType;
  shape: Dim[];
}

export interface ShapeContext {
  node: Node;
  /** Type and shape of each input; undefined for an omitted optional input. */
  inputs: (TypeShape | undefined)[];
  /** The value of input i when it is a constant (initializer or folded), else undefined. */
  constant(i: number): Tensor | undefined;
}

export type ShapeRule = (ctx: ShapeContext) => TypeShape[];

/** The key of a node's op in rule tables: `Conv` for the default domain, `com.microsoft:MatMulNBits` otherwise. */
export function opKey(node: Pick<Node, 'opType' | 'domain'>): string {
  return node.domain === '' ? node.opType : `${node.domain}:${node.opType}`;
}

/** Values known at graph-build time: initializers and Constant outputs. */
export function constantValues(graph: Graph): Map<string, Tensor> {
  const m = new Map(graph.initializers);
  for (const n of graph.nodes) {
    if (n.opType === 'Constant' && n.outputs[0] !== undefined) {
      const v = n.attributes['value'];
      if (v?.type === 'tensor') m.set(n.outputs[0], v.value);
    }
  }
  return m;
}

/**
 * Infers the type and shape of every value, in node order, and records them in
 * `graph.valueInfo`. Throws UNSUPPORTED_OP for an op without a rule.
 */
export function inferShapes(graph: Graph, rules: ReadonlyMap<string, ShapeRule>, constants = constantValues(graph)): Map<string, TypeShape> {
  const known = new Map<string, TypeShape>();
  for (const v of graph.inputs) known.set(v.name, { dtype: v.dtype, shape: v.shape });
  for (const [k, t] of graph.initializers) known.set(k, { dtype: t.dtype, shape: [...t.dims] });
  for (const node of graph.nodes) {
    const rule = rules.get(opKey(node));
    if (rule === undefined) {
      throw new WhittleError('UNSUPPORTED_OP', `${node.opType} "${node.name}"${node.domain ? ` (domain ${node.domain})` : ''} is not an op Whittle supports yet; supported: ${[...rules.keys()].sort().join(', ')}`);
    }
    const inputs = node.inputs.map((name) => {
      if (name === '') return undefined;
      const ts = known.get(name);
      if (ts === undefined) throw new WhittleError('INVALID_GRAPH', `${node.opType} "${node.name}" reads "${name}", which no node, input or initializer produces`);
      return ts;
    });
    const outs = rule({ node, inputs, constant: (i) => constants.get(node.inputs[i] ?? '') });
    node.outputs.forEach((o, i) => {
      const ts = outs[i];
      if (o === '' || ts === undefined) return;
      known.set(o, ts);
      graph.valueInfo.set(o, { name: o, dtype: ts.dtype, shape: ts.shape });
    });
  }
  return known;
}

export function valueInfo(name: string, ts: TypeShape): ValueInfo {
  return { name, dtype: ts.dtype, shape: [...ts.shape] };
}
