// Constant folding for imported graphs. PyTorch's exporter computes shapes at run time
// (Shape → Gather → Unsqueeze → Concat → Reshape around every `x.view(x.size(0), -1)`); Whittle's
// transforms and gradient rules want those shapes as constants. This pass evaluates what is
// known before run time, turns it into initializers, and drops the nodes nothing needs anymore.
import type { Dim, Node } from './graph.js';
import { getInt, Graph } from './graph.js';
import type { ShapeRule, TypeShape } from './shape.js';
import { constantValues, typeShapeOf } from './shape.js';
import type { Tensor } from './tensor.js';
import { EVALUATORS, makeTensor, MAX_FOLDED_ELEMENTS, shapeRange, sliceIndices, values } from './fold-eval.js';
import { implicitInputs } from './validate.js';

/** Dimension `axis` of value `value`: known only when the graph runs (typically the batch). */
interface DimRef {
  value: string;
  axis: number;
}
/** An int64 shape value (0-D or 1-D) whose elements are known numbers or run-time dims. */
type Sym =
  | { kind: 'dims'; scalar: boolean; elems: (bigint | DimRef)[] }
  /** Shape(x) where even the rank of x is unknown; Gather with non-negative indices still works. */
  | { kind: 'shapeOf'; value: string };

interface FoldState {
  consts: Map<string, Tensor>;
  syms: Map<string, Sym>;
  types: Map<string, TypeShape>;
}

function symOf(state: FoldState, name: string): Sym | undefined {
  const s = state.syms.get(name);
  if (s !== undefined) return s;
  const t = state.consts.get(name);
  if (t === undefined || t.dtype !== 'int64' || t.dims.length > 1) return undefined;
  return { kind: 'dims', scalar: t.dims.length === 0, elems: values(t) as bigint[] };
}

/** Evaluates one shape-computation node over partly known values; undefined when it cannot. */
function evalSymbolic(node: Node, state: FoldState): Sym | undefined {
  const arg = (i: number): Sym | undefined => symOf(state, node.inputs[i] ?? '');
  const konst = (i: number): number[] | undefined => state.consts.get(node.inputs[i] ?? '')?.toNumbers();
  const dims = (s: Sym | undefined): (bigint | DimRef)[] | undefined => (s?.kind === 'dims' && !s.scalar ? s.elems : undefined);
  switch (node.opType) {
    case 'Shape': {
      const x = node.inputs[0] ?? '';
      const shape = state.types.get(x)?.shape;
      if (shape === undefined)
        return node.attributes['start'] === undefined && node.attributes['end'] === undefined ? { kind: 'shapeOf', value: x } : undefined;
      const [s, e] = shapeRange(node, shape.length);
      const elems = shape.map((d, axis) => (typeof d === 'number' ? BigInt(d) : { value: x, axis }));
      return { kind: 'dims', scalar: false, elems: elems.slice(s, e) };
    }
    case 'Gather': {
      const data = arg(0);
      const idx = state.consts.get(node.inputs[1] ?? '');
      if (data === undefined || idx === undefined || idx.dims.length > 1 || getInt(node, 'axis', 0) !== 0) return undefined;
      const ix = idx.toNumbers();
      let elems: (bigint | DimRef)[];
      if (data.kind === 'shapeOf') {
        if (ix.some((i) => i < 0)) return undefined;
        elems = ix.map((axis) => ({ value: data.value, axis }));
      } else {
        if (data.scalar) return undefined;
        const n = data.elems.length;
        if (ix.some((i) => i < -n || i >= n)) return undefined;
        elems = ix.map((i) => data.elems[i < 0 ? i + n : i] as bigint | DimRef);
      }
      return { kind: 'dims', scalar: idx.dims.length === 0, elems };
    }
    case 'Unsqueeze': {
      const x = arg(0);
      const axes = node.attributes['axes']?.type === 'ints' ? node.attributes['axes'].value : konst(1);
      return x?.kind === 'dims' && x.scalar && axes?.length === 1 && (axes[0] === 0 || axes[0] === -1)
        ? { kind: 'dims', scalar: false, elems: x.elems }
        : undefined;
    }
    case 'Squeeze': {
      const x = arg(0);
      return x?.kind === 'dims' && !x.scalar && x.elems.length === 1 ? { kind: 'dims', scalar: true, elems: x.elems } : undefined;
    }
    case 'Concat': {
      const parts = node.inputs.map((_, i) => dims(arg(i)));
      if (parts.some((p) => p === undefined) || ![0, -1].includes(getInt(node, 'axis', 0))) return undefined;
      return { kind: 'dims', scalar: false, elems: parts.flatMap((p) => p ?? []) };
    }
    case 'Slice': {
      const x = dims(arg(0));
      const [starts, ends, axes, steps] = [1, 2, 3, 4].map((i) => (node.inputs[i] ? konst(i) : undefined));
      if (x === undefined || starts?.length !== 1 || ends?.length !== 1 || (axes !== undefined && axes[0] !== 0 && axes[0] !== -1)) return undefined;
      if (node.inputs.slice(1).some((n, i) => n !== '' && konst(i + 1) === undefined)) return undefined;
      const picked = sliceIndices(x.length, starts[0] as number, ends[0] as number, steps?.[0] ?? 1);
      return { kind: 'dims', scalar: false, elems: picked.map((i) => x[i] as bigint | DimRef) };
    }
    case 'Cast':
      return getInt(node, 'to', 0) === 7 ? arg(0) : undefined; // 7: int64, a no-op on shapes
    case 'Identity':
      return arg(0);
    default:
      return undefined;
  }
}

/** Whether run-time dim `ref` equals dim `axis` of `value`, so Reshape may copy it with a 0. */
function sameDim(state: FoldState, ref: DimRef, value: string, axis: number): boolean {
  if (ref.value === value && ref.axis === axis) return true;
  const a = state.types.get(ref.value)?.shape[ref.axis];
  return typeof a === 'string' && a === state.types.get(value)?.shape[axis];
}

/**
 * `Reshape(x, Concat(Unsqueeze(Gather(Shape(x), 0)), [-1]))` keeps dim 0 of x: with
 * allowzero = 0 the shape `[0, -1]` says exactly that, and it is a constant.
 */
function constantReshapeTarget(node: Node, state: FoldState): Tensor | undefined {
  const target = state.syms.get(node.inputs[1] ?? '');
  if (node.opType !== 'Reshape' || getInt(node, 'allowzero', 0) !== 0 || target?.kind !== 'dims' || target.scalar) return undefined;
  const data = node.inputs[0] ?? '';
  const out: bigint[] = [];
  for (const [i, e] of target.elems.entries()) {
    if (typeof e === 'bigint') out.push(e);
    else if (sameDim(state, e, data, i)) out.push(0n);
    else return undefined;
  }
  return makeTensor('int64', [out.length], out);
}

/** Type and shape from the op's rule when it has one, merged with what the file recorded. */
function inferNode(node: Node, state: FoldState, rules: ReadonlyMap<string, ShapeRule>, recorded: Graph['valueInfo']): (TypeShape | undefined)[] {
  let inferred: TypeShape[] = [];
  const rule = rules.get(node.opType);
  const inputs = node.inputs.map((n) => (n === '' ? undefined : state.types.get(n)));
  if (rule !== undefined && node.domain === '' && inputs.every((t, i) => t !== undefined || node.inputs[i] === '')) {
    try {
      inferred = rule({ node, inputs, constant: (i) => state.consts.get(node.inputs[i] ?? '') });
    } catch {
      // A rule that cannot cope with a foreign graph only costs us shape knowledge here.
      inferred = [];
    }
  }
  return node.outputs.map((o, i) => {
    const a = inferred[i];
    const b = typeShapeOf(recorded.get(o));
    if (a === undefined) return b === undefined ? undefined : { dtype: b.dtype, shape: [...b.shape] };
    if (b === undefined || b.shape.length !== a.shape.length) return a;
    // Prefer a number over a symbol: either source may know a dim the other does not.
    const shape = a.shape.map((d, k): Dim => {
      const r = b.shape[k];
      return typeof d === 'string' && typeof r === 'number' ? r : d;
    });
    return { dtype: a.dtype, shape };
  });
}

/**
 * Dropout in inference form (no training_mode, or training_mode a constant false) is the
 * identity: bypass it, or turn it into Identity where its output is a graph output or read
 * inside a subgraph. A Dropout whose mask is used is left alone. One pass over the nodes and
 * one over their reads, whatever the number of Dropouts (a chain of them used to be quadratic).
 */
function removeInferenceDropout(graph: Graph): void {
  if (!graph.nodes.some((n) => n.opType === 'Dropout' && n.domain === '')) return;
  const consts = constantValues(graph);
  const outputs = new Set(graph.outputs.map((v) => v.name));
  const readInSubgraph = new Set(graph.nodes.flatMap(implicitInputs));
  const read = new Set(graph.nodes.flatMap((n) => n.inputs));
  // A bypassed Dropout's output → its input (which may itself be a bypassed Dropout's output).
  const bypassed = new Map<string, string>();
  const kept: Node[] = [];
  for (const node of graph.nodes) {
    const [x, , mode] = node.inputs;
    const [y, mask] = node.outputs;
    if (node.opType !== 'Dropout' || node.domain !== '' || x === undefined || y === undefined) {
      kept.push(node);
      continue;
    }
    const training = mode !== undefined && mode !== '' && (consts.get(mode) === undefined || values(consts.get(mode) as Tensor).some((v) => Number(v) !== 0));
    const maskUsed = mask !== undefined && mask !== '' && (outputs.has(mask) || read.has(mask) || readInSubgraph.has(mask));
    if (training || maskUsed) kept.push(node);
    else if (outputs.has(y) || readInSubgraph.has(y)) kept.push({ name: node.name, opType: 'Identity', domain: '', inputs: [x], outputs: [y], attributes: {} });
    else bypassed.set(y, x);
  }
  const source = (name: string): string => {
    let s = name;
    // At most one step per bypassed Dropout: a malformed file may make a cycle (Dropout(a) → a).
    for (let k = 0, next = bypassed.get(s); next !== undefined && k <= bypassed.size; k++, next = bypassed.get(s)) s = next;
    // Shortcut the chain for later reads of the same name.
    if (s !== name) bypassed.set(name, s);
    return s;
  };
  if (bypassed.size > 0) for (const n of kept) n.inputs = n.inputs.map((i) => (bypassed.has(i) ? source(i) : i));
  graph.nodes = kept;
}

/**
 * Returns a new graph in which everything computable before run time is an initializer:
 * Constant nodes, shape computations (Shape of values whose gathered dims are static, Gather,
 * Unsqueeze, Squeeze, Concat, Cast, Slice, int arithmetic, ConstantOfShape, Identity), and
 * `Reshape(x, [x.size(0), -1])` targets (as `[0, -1]`). Inference-mode Dropout is bypassed;
 * nodes, initializers and value infos nothing needs are dropped; graph outputs stay.
 * `shapeRules` (pass `SHAPE_RULES` from ops/) supplies the shapes Shape nodes read; ops
 * without a rule fall back to the shapes recorded in the file.
 *
 * ```ts
 * const folded = foldConstants(decodeModel(bytes).graph, SHAPE_RULES);
 * ```
 */
export function foldConstants(
  graph: Graph,
  shapeRules: ReadonlyMap<string, ShapeRule>,
  options: { keep?: ReadonlySet<string>; shareAliases?: boolean } = {},
): Graph {
  const g = graph.clone();
  removeInferenceDropout(g);
  if (options.shareAliases === true) aliasSharedInitializers(g);
  const state: FoldState = { consts: new Map(g.initializers), syms: new Map(), types: new Map() };
  for (const v of g.inputs) {
    const ts = typeShapeOf(v);
    if (ts !== undefined) state.types.set(v.name, ts);
  }
  for (const [k, t] of g.initializers) state.types.set(k, { dtype: t.dtype, shape: [...t.dims] });

  const folded = new Set<Node>();
  const created = new Map<string, Tensor>();
  for (const node of g.nodes) {
    // `keep`: op types left as they are even on constant inputs (DequantizeLinear of int8 weights: the file as shipped).
    const evaluate = node.domain === '' && options.keep?.has(node.opType) !== true ? EVALUATORS.get(node.opType) : undefined;
    const ins = node.inputs.map((n) => (n === '' ? undefined : state.consts.get(n)));
    let outs: Tensor[] | undefined;
    if (evaluate !== undefined && ins.every((t, i) => t !== undefined || node.inputs[i] === '')) {
      try {
        outs = evaluate(node, ins);
      } catch {
        // Out-of-range axes and the like: leave the node for onnxruntime to report.
        outs = undefined;
      }
    }
    if (outs === undefined && node.domain === '') {
      const sym = evalSymbolic(node, state);
      const out = node.outputs[0];
      if (sym?.kind === 'dims' && sym.elems.every((e) => typeof e === 'bigint')) outs = [makeTensor('int64', sym.scalar ? [] : [sym.elems.length], sym.elems)];
      else if (sym !== undefined && out !== undefined) state.syms.set(out, sym);
    }
    // The size cap is for computed values; a Constant node's tensor is already in the file (Paddle's exporter stores every weight so).
    const stored = node.opType === 'Constant' && node.domain === '';
    if (outs !== undefined && outs.length === node.outputs.length && (stored || outs.every((t) => t.size <= MAX_FOLDED_ELEMENTS))) {
      folded.add(node);
      node.outputs.forEach((o, i) => {
        const t = outs[i] as Tensor;
        state.consts.set(o, t);
        state.types.set(o, { dtype: t.dtype, shape: [...t.dims] });
      });
      continue;
    }
    const target = constantReshapeTarget(node, state);
    if (target !== undefined) {
      const name = freshName(g, created, `${node.inputs[1]}_folded`);
      created.set(name, target);
      state.consts.set(name, target);
      node.inputs[1] = name;
    }
    inferNode(node, state, shapeRules, g.valueInfo).forEach((ts, i) => {
      const o = node.outputs[i];
      if (ts !== undefined && o !== undefined && o !== '') state.types.set(o, ts);
    });
  }
  return prune(g, folded, state.consts);
}

/**
 * Identity nodes of initializers (how exporters give a shared parameter its second name: a tied
 * weight, MobileNetV3's shared biases): their readers read the initializer itself, so the weight
 * stays one tensor through folding, transforms and saving instead of becoming two copies. Kept
 * where the name is a graph output or read from inside a subgraph. Only on request
 * (`shareAliases`): exporters also deduplicate parameters that merely have equal values (fresh
 * BatchNorm statistics across layers), which training and channel pruning must treat as separate
 * tensors — without it each Identity folds into its own copy.
 */
function aliasSharedInitializers(g: Graph): void {
  const keep = new Set([...g.outputs.map((v) => v.name), ...g.nodes.flatMap((n) => implicitInputs(n))]);
  const alias = new Map<string, string>();
  g.nodes = g.nodes.filter((n) => {
    n.inputs = n.inputs.map((i) => alias.get(i) ?? i);
    const src = n.inputs[0] ?? '';
    const out = n.outputs[0] ?? '';
    if (n.opType !== 'Identity' || n.domain !== '' || !g.initializers.has(src) || out === '' || keep.has(out)) return true;
    alias.set(out, src);
    return false;
  });
}

/** Graphs' names, scanned once per fold (a scan per folded Reshape target was quadratic). */
const namesOf = new WeakMap<Graph, Set<string>>();

function freshName(g: Graph, taken: ReadonlyMap<string, unknown>, hint: string): string {
  let all = namesOf.get(g);
  if (all === undefined) namesOf.set(g, (all = g.allNames()));
  let name = hint;
  for (let k = 1; all.has(name) || taken.has(name); k++) name = `${hint}_${k}`;
  return name;
}

/**
 * Keeps the nodes graph outputs need; folded values they read become initializers. `g` is the
 * fold's own copy: its nodes and lists are reused, not copied again.
 */
function prune(g: Graph, folded: ReadonlySet<Node>, consts: ReadonlyMap<string, Tensor>): Graph {
  const needed = new Set(g.outputs.map((v) => v.name));
  const live = new Set<Node>();
  for (let i = g.nodes.length - 1; i >= 0; i--) {
    const node = g.nodes[i] as Node;
    if (folded.has(node) || !node.outputs.some((o) => needed.has(o))) continue;
    live.add(node);
    for (const n of node.inputs) if (n !== '') needed.add(n);
    for (const n of implicitInputs(node)) if (n !== '') needed.add(n);
  }
  const graphOutputs = new Set(g.outputs.map((v) => v.name));
  const out = new Graph(g.name);
  out.inputs = g.inputs;
  out.outputs = g.outputs;
  out.opaqueInitializers = g.opaqueInitializers;
  out.extra = g.extra;
  for (const node of g.nodes) {
    if (live.has(node)) out.nodes.push(node);
    // A graph output computed entirely from constants stays a node output, as a Constant.
    else if (folded.has(node)) {
      for (const o of node.outputs.filter((o) => graphOutputs.has(o))) {
        out.nodes.push({
          name: `${node.name}_${o}`,
          opType: 'Constant',
          domain: '',
          inputs: [],
          outputs: [o],
          attributes: { value: { type: 'tensor', value: consts.get(o) as Tensor } },
        });
      }
    }
  }
  const produced = new Set<string>();
  for (const n of out.nodes) for (const o of n.outputs) produced.add(o);
  const inputs = new Set(out.inputs.map((v) => v.name));
  // Original initializers first, then folded values in node order: readable diffs of saved files.
  for (const [name, t] of consts) {
    if (needed.has(name) && !produced.has(name) && !inputs.has(name)) out.initializers.set(name, t);
  }
  for (const [k, v] of g.valueInfo) if (produced.has(k)) out.valueInfo.set(k, v);
  return out;
}
