// Thinning: physically removes channels, given the groups from dependencyGroups and which
// channels of each to keep. Every member slice goes at once, so the result is a smaller graph
// with the same structure that ONNX Runtime loads as it is.
import { WhittleError } from '../ir/errors.js';
import type { Graph, Model } from '../ir/graph.js';
import { inferShapes } from '../ir/shape.js';
import { Tensor } from '../ir/tensor.js';
import { SHAPE_RULES } from '../ops/index.js';
import { shapeRules } from './channel-rules.js';
import type { PruneGroup } from './dependency.js';
import { dependencyGroups } from './dependency.js';

/** Keeps the listed indices of `axis`. */
export function gatherAxis(t: Tensor, axis: number, keep: readonly number[]): Tensor {
  const dims = [...t.dims];
  const outer = dims.slice(0, axis).reduce((a, d) => a * d, 1);
  const inner = dims.slice(axis + 1).reduce((a, d) => a * d, 1);
  const n = dims[axis] as number;
  dims[axis] = keep.length;
  const out = new Tensor(t.dtype, dims);
  const src = t.data as unknown as { [i: number]: number | bigint; subarray(a: number, b: number): ArrayLike<number> };
  const dst = out.data as unknown as { set(a: ArrayLike<number>, o: number): void };
  for (let o = 0; o < outer; o++) {
    keep.forEach((k, j) => {
      const from = (o * n + k) * inner;
      dst.set(src.subarray(from, from + inner), (o * keep.length + j) * inner);
    });
  }
  return out;
}

/**
 * Flattening Reshapes ([N, C, H, W] → [N, C·H·W]) with a constant target shape must follow a new
 * feature count after channels were removed or added: their shape becomes [N, −1] ([0, −1]).
 * `before` is the graph whose shapes the constants were written for; `g` is edited in place.
 */
export function followFlattenReshapes(before: Graph, g: Graph): void {
  const shapes = inferShapes(before.clone(), shapeRules(SHAPE_RULES), undefined, { unknown: 'skip' });
  for (const n of g.nodes) {
    if (n.opType !== 'Reshape') continue;
    const s = g.initializers.get(n.inputs[1] ?? '');
    const inShape = shapes.get(n.inputs[0] ?? '')?.shape;
    if (s === undefined || s.dims.length !== 1 || s.size !== 2 || inShape === undefined || inShape.length < 2) continue;
    const [a, b] = s.toNumbers() as [number, number];
    const rest = inShape.slice(1);
    if (b === -1 || !rest.every((d) => typeof d === 'number') || rest.reduce<number>((x, d) => x * (d as number), 1) !== b) continue;
    g.initializers.set(n.inputs[1] as string, Tensor.int64(a === -1 ? [0, -1] : [a, -1]));
  }
}

/**
 * Removes every channel of each group not listed in `keep` (group id → kept channel indices).
 * Returns a new model; the input is untouched.
 *
 * ```ts
 * const groups = dependencyGroups(model.graph).filter((g) => g.prunable);
 * const thin = thinChannels(model, groups, new Map([[groups[0]!.id, [0, 2, 5]]]));
 * ```
 */
export function thinChannels(model: Model, groups: readonly PruneGroup[], keep: ReadonlyMap<number, readonly number[]>): Model {
  // Per (tensor, axis): the original indices to drop, collected over all groups first because
  // one axis can hold several groups (a Gemm after a Concat).
  const drops = new Map<string, Map<number, Set<number>>>();
  for (const g of groups) {
    const kept = keep.get(g.id);
    if (kept === undefined) continue;
    if (!g.prunable) throw new WhittleError('BAD_ARGUMENT', `channels of "${g.name}" cannot be removed: ${g.reason ?? 'not prunable'}`);
    if (kept.length === 0) throw new WhittleError('BAD_ARGUMENT', `removing every channel of "${g.name}" would disconnect the graph; keep at least one`);
    const keptSet = new Set(kept);
    for (const k of kept)
      if (!Number.isInteger(k) || k < 0 || k >= g.channels)
        throw new WhittleError('BAD_ARGUMENT', `channel ${k} of "${g.name}" does not exist (it has ${g.channels})`);
    for (const m of g.members) {
      const byAxis = drops.get(m.tensor) ?? new Map<number, Set<number>>();
      drops.set(m.tensor, byAxis);
      const set = byAxis.get(m.axis) ?? new Set<number>();
      byAxis.set(m.axis, set);
      for (let c = 0; c < g.channels; c++) {
        if (keptSet.has(c)) continue;
        for (let r = 0; r < m.repeat; r++) set.add(m.offset + c * m.repeat + r);
      }
    }
  }
  const g = model.graph.clone();
  for (const [name, byAxis] of drops) {
    let t = g.initializers.get(name);
    if (t === undefined) throw new WhittleError('INVALID_GRAPH', `initializer "${name}" vanished while thinning`);
    for (const [axis, drop] of byAxis) {
      const n = t.dims[axis] as number;
      const kept: number[] = [];
      for (let i = 0; i < n; i++) if (!drop.has(i)) kept.push(i);
      t = gatherAxis(t, axis, kept);
    }
    g.initializers.set(name, t);
  }
  // Node inputs that depend on the channel count (reshape targets, zero initial states).
  let rewritten = false;
  for (const grp of groups) {
    const kept = keep.get(grp.id);
    if (kept === undefined) continue;
    for (const r of grp.rewrites) {
      const n = g.nodes.find((x) => x.name === r.node);
      if (n === undefined) throw new WhittleError('INVALID_GRAPH', `node "${r.node}" vanished while thinning`);
      const t = r.value(kept.length);
      const inputs = [...n.inputs];
      if (t === undefined) inputs[r.input] = '';
      else {
        let name = `${r.node}/thinned_input${r.input}`;
        for (let k = 1; g.initializers.has(name); k++) name = `${r.node}/thinned_input${r.input}_${k}`;
        g.initializers.set(name, t);
        inputs[r.input] = name;
      }
      n.inputs = inputs;
      rewritten = true;
    }
  }
  // Attributes that restate a weight's size: a recurrent op's hidden_size.
  for (const n of g.nodes) {
    if (!/^(LSTM|GRU|RNN)$/.test(n.opType) || !drops.has(n.inputs[2] ?? '')) continue;
    const r = g.initializers.get(n.inputs[2] as string);
    if (r !== undefined) n.attributes = { ...n.attributes, hidden_size: { type: 'int', value: r.dims[2] as number } };
  }
  // A GroupNormalization with one channel per group: num_groups follows the channel count.
  for (const n of g.nodes) {
    if (n.opType !== 'GroupNormalization' || !drops.has(n.inputs[1] ?? '')) continue;
    const scale = g.initializers.get(n.inputs[1] as string);
    if (scale !== undefined) n.attributes = { ...n.attributes, num_groups: { type: 'int', value: scale.dims[0] as number } };
  }
  if (rewritten) removeDeadNodes(g);
  // A depthwise Conv has one group per channel: its group count follows the channel count.
  for (const n of g.nodes) {
    if (n.opType !== 'Conv' || !drops.has(n.inputs[1] ?? '')) continue;
    const before = model.graph.initializers.get(n.inputs[1] as string);
    const after = g.initializers.get(n.inputs[1] as string);
    const group = n.attributes['group'];
    if (before === undefined || after === undefined || group?.type !== 'int' || group.value === 1) continue;
    if (group.value === before.dims[0] && before.dims[1] === 1) n.attributes = { ...n.attributes, group: { type: 'int', value: after.dims[0] as number } };
  }
  followFlattenReshapes(model.graph, g);
  g.valueInfo.clear();
  const rules = shapeRules(SHAPE_RULES);
  try {
    inferShapes(g.clone(), rules);
  } catch (e) {
    // An op without a shape rule is no inconsistency; anything else the rules find is.
    if (!(e instanceof WhittleError && e.code === 'UNSUPPORTED_OP'))
      throw new WhittleError('INVALID_GRAPH', `thinning produced an inconsistent graph: ${(e as Error).message}`, { cause: e });
  }
  inferShapes(g, rules, undefined, { unknown: 'skip' });
  // Keep the value info the file had (with the new shapes), and the outputs of ops whose shapes
  // only value info gives; the rest is recomputed on load and would only grow the file.
  const kept = new Set(model.graph.valueInfo.keys());
  for (const n of g.nodes) if (!SHAPE_RULES.has(n.opType)) for (const o of n.outputs) kept.add(o);
  for (const name of [...g.valueInfo.keys()]) if (!kept.has(name)) g.valueInfo.delete(name);
  return { ...model, graph: g, metadata: { ...model.metadata } };
}

/** Drops nodes none of whose outputs is read (the shape arithmetic a rewrite replaced), and initializers nothing reads any more. */
export function removeDeadNodes(g: Graph): void {
  // Subgraph bodies read outer values by name: leave graphs with them alone.
  if (g.nodes.some((n) => Object.values(n.attributes).some((a) => a.type === 'graph' || a.type === 'opaque'))) return;
  const live = new Set(g.outputs.map((o) => o.name));
  const keep: boolean[] = [];
  for (let k = g.nodes.length - 1; k >= 0; k--) {
    const n = g.nodes[k] as (typeof g.nodes)[number];
    const used = n.outputs.some((o) => o !== '' && live.has(o));
    keep[k] = used;
    if (used) for (const i of n.inputs) if (i) live.add(i);
  }
  const before = g.nodes.length;
  g.nodes = g.nodes.filter((_, k) => keep[k]);
  if (g.nodes.length === before) return;
  for (const name of [...g.initializers.keys()]) if (!live.has(name)) g.initializers.delete(name);
}

/**
 * The same model with the inputs thinning would rewrite (attention reshape targets computed
 * from Shape, zero initial states) already rewritten for every channel kept: outputs are
 * unchanged, and shapes that were symbolic become static, so FLOP counts see them.
 *
 * ```ts
 * const flopsBefore = modelStats(withConstantShapes(model), SHAPE_RULES).flops;
 * ```
 */
export function withConstantShapes(model: Model): Model {
  const groups = dependencyGroups(model.graph).filter((g) => g.prunable && g.rewrites.length > 0);
  if (groups.length === 0) return model;
  return thinChannels(model, groups, new Map(groups.map((g) => [g.id, Array.from({ length: g.channels }, (_, i) => i)])));
}
