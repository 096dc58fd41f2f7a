// Rewrites of a finished training-step graph that cut whole passes over the weights without
// changing what is computed: fewer, larger kernels (the in-graph update is memory-bound).
import type { Graph, Node } from '../ir/graph.js';
import { attr, getFloat } from '../ir/graph.js';

/** The value of a scalar float initializer, or undefined when `name` is not one. */
function scalarInitializer(g: Graph, name: string): number | undefined {
  const t = g.initializers.get(name);
  if (t === undefined || t.size !== 1 || (t.dtype !== 'float32' && t.dtype !== 'float64')) return undefined;
  return t.data[0] as number;
}

/**
 * Momentum folded into the weight gradient's Gemm: `v' = Add(Mul(v, μ), Gemm(A, B))` becomes
 * `v' = Gemm(A, B, C = v, beta = μ)` when the Gemm has no C and feeds only that Add, and `v` has
 * the Gemm output's shape (the state of a fully-connected weight). Gemm computes αAB + βC in one
 * pass: two full passes over the weight-sized tensors (Mul, Add) disappear from every step.
 * Returns how many updates were fused.
 *
 * ```ts
 * fuseMomentumIntoGemm(step.model.graph); // 3 for lenet-300-100 with SGD momentum
 * ```
 */
export function fuseMomentumIntoGemm(g: Graph): number {
  const consumers = new Map<string, Node[]>();
  for (const n of g.nodes) for (const i of n.inputs) if (i !== '') consumers.set(i, [...(consumers.get(i) ?? []), n]);
  const producer = new Map<string, Node>();
  for (const n of g.nodes) for (const o of n.outputs) producer.set(o, n);
  const graphOutputs = new Set(g.outputs.map((o) => o.name));
  const inputs = new Map(g.inputs.map((v) => [v.name, v]));
  const only = (value: string, n: Node): boolean => !graphOutputs.has(value) && (consumers.get(value) ?? []).every((c) => c === n);
  const removed = new Set<Node>();
  let fused = 0;
  for (const add of g.nodes) {
    if (add.opType !== 'Add' || add.domain !== '' || add.inputs.length !== 2) continue;
    for (const [mulSide, gemmSide] of [
      [0, 1],
      [1, 0],
    ] as const) {
      const mul = producer.get(add.inputs[mulSide] as string);
      const gemm = producer.get(add.inputs[gemmSide] as string);
      if (mul?.opType !== 'Mul' || gemm?.opType !== 'Gemm' || gemm.domain !== '' || mul.domain !== '') continue;
      if (gemm.inputs.length > 2 && gemm.inputs[2] !== '') continue;
      if (!only(mul.outputs[0] as string, add) || !only(gemm.outputs[0] as string, add)) continue;
      // Mul(v, μ) with v a graph input (the momentum state) and μ a scalar constant.
      const [m0, m1] = mul.inputs as [string, string];
      const [state, mu] = inputs.has(m0) && scalarInitializer(g, m1) !== undefined ? [m0, m1] : [m1, m0];
      const v = inputs.get(state);
      const muValue = scalarInitializer(g, mu);
      const out = g.valueInfo.get(add.outputs[0] as string);
      if (v === undefined || muValue === undefined || v.shape.length !== 2 || v.shape.some((d) => typeof d !== 'number')) continue;
      if (out !== undefined && out.shape.join() !== v.shape.join()) continue;
      if (getFloat(gemm, 'beta', 1) !== 1 && gemm.inputs.length > 2) continue;
      gemm.inputs = [gemm.inputs[0] as string, gemm.inputs[1] as string, state];
      gemm.attributes['beta'] = attr.float(muValue);
      gemm.outputs = [add.outputs[0] as string];
      removed.add(add);
      removed.add(mul);
      fused++;
      break;
    }
  }
  if (fused > 0) g.nodes = g.nodes.filter((n) => !removed.has(n));
  // Constants only the removed Muls read are dropped (onnxruntime warns about unused initializers).
  const read = new Set(g.nodes.flatMap((n) => n.inputs));
  for (const n of removed) for (const i of n.inputs) if (g.initializers.has(i) && !read.has(i)) g.initializers.delete(i);
  return fused;
}
