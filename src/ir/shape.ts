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

export interface InferOptions {
  /**
   * Types and shapes learned elsewhere (onnxruntime's probe, see runtime/probe.ts), used for the
   * outputs of ops without a rule; where a rule exists, the rule wins.
   */
  known?: ReadonlyMap<string, TypeShape>;
  /**
   * `throw` (default): an op whose outputs neither a rule nor `known` nor the file's value_info
   * gives is an UNSUPPORTED_OP error naming the node, for transforms that need every shape.
   * `skip`: leave those values out of the result (for reports such as `whittle info`).
   */
  unknown?: 'throw' | 'skip';
}

/** Type and shape as a ValueInfo states it; undefined for non-tensor or unranked values. */
export function typeShapeOf(v: ValueInfo | undefined): TypeShape | undefined {
  return v === undefined || v.type !== undefined || v.unranked ? undefined : { dtype: v.dtype, shape: v.shape };
}

/**
 * Infers the type and shape of every value, in node order, and records them in
 * `graph.valueInfo`. Ops without a rule take their outputs' types from `options.known` or from
 * the file's value_info; failing both, UNSUPPORTED_OP (or, with `unknown: 'skip'`, the values
 * are left out).
 *
 * ```ts
 * const shapes = inferShapes(graph, SHAPE_RULES);
 * ```
 */
export function inferShapes(
  graph: Graph,
  rules: ReadonlyMap<string, ShapeRule>,
  constants = constantValues(graph),
  options: InferOptions = {},
): Map<string, TypeShape> {
  const skip = options.unknown === 'skip';
  const known = new Map<string, TypeShape>();
  const produced = new Set<string>([...graph.opaqueInitializers.keys(), ...graph.inputs.map((v) => v.name)]);
  for (const v of graph.inputs) {
    const ts = typeShapeOf(v) ?? options.known?.get(v.name);
    if (ts !== undefined) known.set(v.name, ts);
  }
  for (const [k, t] of graph.initializers) known.set(k, { dtype: t.dtype, shape: [...t.dims] });
  const fromElsewhere = (o: string): TypeShape | undefined =>
    options.known?.get(o) ?? typeShapeOf(graph.valueInfo.get(o)) ?? typeShapeOf(graph.outputs.find((v) => v.name === o));
  for (const node of graph.nodes) {
    const rule = rules.get(opKey(node));
    let unknownInput: string | undefined;
    const inputs = node.inputs.map((name) => {
      if (name === '') return undefined;
      const ts = known.get(name);
      if (ts === undefined) {
        if (!produced.has(name) && !graph.initializers.has(name) && !skip)
          throw new WhittleError('INVALID_GRAPH', `${node.opType} "${node.name}" reads "${name}", which no node, input or initializer produces`);
        unknownInput ??= name;
      }
      return ts;
    });
    let outs: (TypeShape | undefined)[] | undefined;
    if (rule !== undefined && unknownInput === undefined) {
      try {
        outs = rule({ node, inputs, constant: (i) => constants.get(node.inputs[i] ?? '') });
      } catch (e) {
        if (!skip) throw e;
      }
    }
    outs ??= node.outputs.map(fromElsewhere);
    node.outputs.forEach((o, i) => {
      if (o !== '') produced.add(o);
      const ts = outs[i];
      if (o === '') return;
      if (ts === undefined) {
        if (skip) return;
        const why =
          rule === undefined
            ? `is not an op Whittle has a shape rule for${node.domain ? ` (domain ${node.domain})` : ''}`
            : `reads "${unknownInput}", whose type and shape are unknown`;
        throw new WhittleError(
          'UNSUPPORTED_OP',
          `${node.opType} "${node.name}" ${why}, and the file does not record the shape of its output "${o}"; run shape inference with onnxruntime first (inferShapesWithRuntime), or drop the node`,
        );
      }
      known.set(o, ts);
      const extra = graph.valueInfo.get(o)?.extra;
      graph.valueInfo.set(o, { name: o, dtype: ts.dtype, shape: ts.shape, ...(extra !== undefined ? { extra } : {}) });
    });
  }
  return known;
}

export function valueInfo(name: string, ts: TypeShape): ValueInfo {
  return { name, dtype: ts.dtype, shape: [...ts.shape] };
}
