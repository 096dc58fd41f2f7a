// Short value names in deployment files. Exporters name every intermediate value by its module
// path ("/encoder/layers.0/self_attn/Reshape_output_0"); in a small Transformer those names are a
// quarter of the float32 file and, once fp16 halves the weights, 40% of it. Values inside the
// graph get short names; graph inputs and outputs and bodies' own values keep theirs, node names
// too unless asked to drop them (top level only).
import type { Graph, Model } from '../ir/graph.js';
import { attr } from '../ir/graph.js';

function allNames(g: Graph, into: Set<string>): void {
  for (const v of [...g.inputs, ...g.outputs]) into.add(v.name);
  for (const k of [...g.initializers.keys(), ...g.opaqueInitializers.keys(), ...g.valueInfo.keys()]) into.add(k);
  for (const n of g.nodes) {
    for (const v of [...n.inputs, ...n.outputs]) into.add(v);
    for (const a of Object.values(n.attributes)) if (a.type === 'graph') allNames(a.value, into);
  }
}

/** `g` with values renamed by `map` (a body's own definitions shadow the outer names). */
function renamed(g: Graph, map: ReadonlyMap<string, string>): Graph {
  const out = g.clone();
  const to = (v: string): string => map.get(v) ?? v;
  for (const n of out.nodes) {
    n.inputs = n.inputs.map(to);
    n.outputs = n.outputs.map(to);
    for (const [key, a] of Object.entries(n.attributes)) {
      if (a.type !== 'graph') continue;
      const body = a.value;
      const own = new Set([...body.inputs.map((v) => v.name), ...body.initializers.keys(), ...body.nodes.flatMap((x) => x.outputs)]);
      const inner = new Map([...map].filter(([k]) => !own.has(k)));
      n.attributes[key] = attr.graph(renamed(a.value, inner));
    }
  }
  out.initializers = new Map([...out.initializers].map(([k, t]) => [to(k), t]));
  out.valueInfo = new Map([...out.valueInfo].map(([k, v]) => [to(k), { ...v, name: to(k) }]));
  return out;
}

/**
 * The model with its top-level intermediate values and initializers renamed `_0`, `_1`, … (names
 * no value has already), and with `dropNodeNames` its top-level nodes unnamed; the same
 * computation, a smaller file.
 *
 * ```ts
 * saveModel(compactValueNames(exportFp16(model)), 'model-fp16.onnx');
 * ```
 */
export function compactValueNames(model: Model, o: { dropNodeNames?: boolean } = {}): Model {
  const g = model.graph;
  const taken = new Set<string>();
  allNames(g, taken);
  const keep = new Set([...g.inputs, ...g.outputs].map((v) => v.name));
  const map = new Map<string, string>();
  let next = 0;
  const fresh = (): string => {
    let name = `_${(next++).toString(36)}`;
    while (taken.has(name)) name = `_${(next++).toString(36)}`;
    return name;
  };
  const visit = (v: string): void => {
    if (v === '' || keep.has(v) || map.has(v) || g.opaqueInitializers.has(v)) return;
    map.set(v, fresh());
  };
  for (const k of g.initializers.keys()) visit(k);
  for (const n of g.nodes) for (const o of n.outputs) visit(o);
  const out = renamed(g, map);
  // Node names are optional in ONNX and nothing reads them at run time; an exporter's module paths
  // ("/features/features.1/block/block.1/fc1/Conv") were 2.6% of an int8 MobileNetV3-Small.
  if (o.dropNodeNames === true) for (const n of out.nodes) n.name = '';
  return { ...model, graph: out };
}
