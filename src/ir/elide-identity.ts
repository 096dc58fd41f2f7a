// The graph a runtime session gets: the model's own graph without its Identity nodes. An Identity
// computes nothing, but onnxruntime still builds, type-checks and then removes every one when it
// loads a model (about 14 µs each: 1.4 s of CPU for a 100,000-node chain, on every session).
// Whittle keeps Identity nodes in the model it saves (load → save is lossless); only the bytes a
// session is built from leave them out, so what runs is the same computation with the same feeds
// and the same graph outputs.
import type { Graph, Model, Node } from './graph.js';

const isIdentity = (n: Node): boolean =>
  n.opType === 'Identity' && (n.domain === '' || n.domain === 'ai.onnx') && n.inputs.length === 1 && n.outputs.length === 1 && n.inputs[0] !== '';

/** Whether a node holds a subgraph (If/Loop/Scan bodies may read outer values by name). */
const hasSubgraph = (n: Node): boolean => Object.values(n.attributes).some((a) => a.type === 'graph' || a.type === 'opaque');

/**
 * `model` with its Identity nodes bypassed: a reader of `y = Identity(x)` reads `x`; where `y` is a
 * graph output, the node that produces `x` writes `y` instead (when `x` is not itself a graph input,
 * initializer or output, the Identity stays). A graph with subgraphs is returned as it is (their
 * bodies may name outer values), as is one with no Identity node. The input model is not changed.
 *
 * ```ts
 * const bytes = encodeModel(withoutIdentities(model)); // same outputs, fewer nodes to load
 * ```
 */
export function withoutIdentities(model: Model): Model {
  const g = model.graph;
  if (!g.nodes.some(isIdentity) || g.nodes.some(hasSubgraph)) return model;
  const graphOutputs = new Set(g.outputs.map((v) => v.name));
  const alias = new Map<string, string>();
  const resolve = (name: string): string => alias.get(name) ?? name;
  // Pass 1: readers of an Identity's output read its input (resolved through chains as we go,
  // since nodes are in topological order); Identities writing a graph output stay for pass 2.
  const kept: Node[] = [];
  for (const n of g.nodes) {
    const inputs = n.inputs.map((i) => (i === '' ? i : resolve(i)));
    const out = n.outputs[0] ?? '';
    if (isIdentity(n) && !graphOutputs.has(out)) {
      alias.set(out, inputs[0] ?? '');
      continue;
    }
    kept.push(inputs.every((v, i) => v === n.inputs[i]) ? n : { ...n, inputs });
  }
  // Pass 2: an Identity that writes a graph output y from a value x some node computes (and that
  // no one outside the nodes sees) goes too, its producer writing y and x's readers reading y.
  const produced = new Set<string>();
  for (const n of kept) for (const o of n.outputs) if (o !== '') produced.add(o);
  const external = new Set([...g.inputs.map((v) => v.name), ...g.initializers.keys(), ...g.opaqueInitializers.keys(), ...graphOutputs]);
  const rename = new Map<string, string>();
  const dropped = new Set<Node>();
  for (const n of kept) {
    if (!isIdentity(n)) continue;
    const x = n.inputs[0] ?? '';
    const y = n.outputs[0] ?? '';
    if (!produced.has(x) || external.has(x) || rename.has(x)) continue;
    rename.set(x, y);
    dropped.add(n);
  }
  const nodes: Node[] = [];
  for (const n of kept) {
    if (dropped.has(n)) continue;
    const inputs = n.inputs.map((i) => rename.get(i) ?? i);
    const outputs = n.outputs.map((o) => rename.get(o) ?? o);
    const same = inputs.every((v, i) => v === n.inputs[i]) && outputs.every((v, i) => v === n.outputs[i]);
    nodes.push(same ? n : { ...n, inputs, outputs });
  }
  const graph: Graph = Object.assign(Object.create(Object.getPrototypeOf(g) as object) as Graph, g, {
    nodes,
    valueInfo: new Map([...g.valueInfo].filter(([name]) => !alias.has(name) && !rename.has(name))),
  });
  return { ...model, graph };
}
