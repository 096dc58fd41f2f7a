// Thinning: physically removes channels, given the groups from dependencyGroups and which
// channels of each to keep. Every member slice goes at once, so the result is a smaller graph
// with the same structure that ONNX Runtime loads as it is.
import { WhittleError } from '../../ir/errors.js';
import type { Graph, Model } from '../../ir/graph.js';
import { inferShapes } from '../../ir/shape.js';
import { Tensor } from '../../ir/tensor.js';
import { SHAPE_RULES } from '../../ops/index.js';
import type { PruneGroup } from './dependency.js';

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
  const shapes = inferShapes(before.clone(), SHAPE_RULES);
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
  try {
    inferShapes(g, SHAPE_RULES);
  } catch (e) {
    throw new WhittleError('INVALID_GRAPH', `thinning produced an inconsistent graph: ${(e as Error).message}`, { cause: e });
  }
  return { ...model, graph: g, metadata: { ...model.metadata } };
}
