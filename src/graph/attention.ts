// Multi-head attention as PyTorch exports nn.MultiheadAttention: one in-projection MatMul to
// [..., 3E] (+ bias), three Slices (or a Split) into Q, K, V, Reshapes that fold the heads into
// a batch axis, Q·Kᵀ / √d, Softmax, ·V, and a Reshape back to [..., E] read by the output
// projection. Heads cannot be traced op by op (they move into the batch axis), so the block is
// matched as a whole: head h is the columns [h·d, (h+1)·d) of each of Q, K and V and the rows
// [h·d, (h+1)·d) of the output projection, one group whose unit is a head. The Reshape
// targets are rewritten for the heads kept. The two products may also be Einsums of the common
// attention equations ('bhqd,bhkd->bhqk', 'bihd,bjhd->bhij' and their ·V forms): two operands,
// one contracted letter, the batch and head letters kept.
import type { Graph, Node } from '../ir/graph.js';
import { getInt, getString } from '../ir/graph.js';
import type { TypeShape } from '../ir/shape.js';
import { Tensor } from '../ir/tensor.js';
import type { ChannelRule } from '../ops/index.js';

export interface AttentionMatch {
  /** Channel rules that replace the ops' own for the nodes of matched blocks. */
  rules: Map<string, ChannelRule>;
  /** Sources created by those rules whose channels are heads. */
  units: Map<number, 'head'>;
}

const INSIDE = new Set(['Reshape', 'Transpose', 'Div', 'Mul', 'MatMul', 'Einsum', 'Softmax', 'Add', 'Cast', 'Dropout', 'Identity', 'Squeeze', 'Unsqueeze']);

/**
 * Whether an Einsum is a batched matrix product per head: two operands of equal rank ≥ 4
 * without ellipsis or repeated letters, exactly one letter summed away, and every other letter
 * of the output kept from the operands, at least two (batch and head) from both.
 */
export function isAttentionEinsum(node: Node): boolean {
  const eq = getString(node, 'equation', '').replace(/\s+/g, '');
  const m = /^([a-zA-Z]+),([a-zA-Z]+)->([a-zA-Z]+)$/.exec(eq);
  if (m === null || node.inputs.length !== 2) return false;
  const [a, b, out] = [m[1] as string, m[2] as string, m[3] as string];
  const distinct = (t: string): boolean => new Set(t).size === t.length;
  if (!distinct(a) || !distinct(b) || !distinct(out) || a.length !== b.length || a.length < 4 || out.length !== a.length) return false;
  const summed = [...new Set(a + b)].filter((c) => !out.includes(c));
  const shared = [...out].filter((c) => a.includes(c) && b.includes(c));
  return (
    summed.length === 1 &&
    a.includes(summed[0] as string) &&
    b.includes(summed[0] as string) &&
    shared.length >= 2 &&
    [...out].every((c) => a.includes(c) || b.includes(c))
  );
}

/**
 * Finds PyTorch-style multi-head attention blocks and returns channel rules that make each
 * block's heads one prunable group.
 *
 * ```ts
 * const { rules } = matchAttention(graph, inferShapes(graph.clone(), SHAPE_RULES), constantValues(graph));
 * ```
 */
export function matchAttention(graph: Graph, shapes: ReadonlyMap<string, TypeShape>, consts: ReadonlyMap<string, Tensor>): AttentionMatch {
  const rules = new Map<string, ChannelRule>();
  const units = new Map<number, 'head'>();
  const consumers = new Map<string, Node[]>();
  for (const n of graph.nodes) for (const i of n.inputs) if (i) consumers.set(i, [...(consumers.get(i) ?? []), n]);
  const users = (v: string): Node[] => (consumers.get(v) ?? []).filter((c) => c.opType !== 'Shape');
  const isWeight = (name: string | undefined): boolean => name !== undefined && graph.initializers.get(name)?.dims.length === 2;

  for (const proj of graph.nodes) {
    const W = proj.inputs[1];
    if (proj.opType !== 'MatMul' || !isWeight(W) || rules.has(proj.name)) continue;
    const width = graph.initializers.get(W as string)?.dims[1] as number;
    if (width % 3 !== 0) continue;
    const E = width / 3;
    let v = proj.outputs[0] as string;
    const first = users(v);
    const rank = shapes.get(v)?.shape.length;
    if (rank === undefined || rank < 2) continue;
    if (first.length === 1 && first[0]?.opType === 'Add') {
      const add = first[0];
      const other = add.inputs.find((i) => i !== v);
      if (other === undefined || graph.initializers.get(other)?.size !== width) continue;
      v = add.outputs[0] as string;
    }
    const cuts = users(v);
    let heads: string[];
    if (cuts.length === 3 && cuts.every((c) => c.opType === 'Slice')) {
      const lastAxis = cuts.every((c) => {
        const axes = c.inputs[3] ? consts.get(c.inputs[3])?.toNumbers().map(Number) : undefined;
        return axes !== undefined && axes.length === 1 && (axes[0] === -1 || axes[0] === rank - 1) && !c.inputs[4];
      });
      if (!lastAxis) continue;
      heads = cuts.map((c) => c.outputs[0] as string);
      const bounds = cuts.flatMap((c) => [c.inputs[1], c.inputs[2]].flatMap((i) => (i ? (consts.get(i)?.toNumbers().map(Number) ?? []) : [])));
      if (bounds.some((b) => Math.abs(b) < 2 ** 31 - 1 && (b < 0 || b % E !== 0))) continue;
    } else if (cuts.length === 1 && cuts[0]?.opType === 'Split' && cuts[0].outputs.length === 3 && !cuts[0].attributes['split']) {
      const axis = getInt(cuts[0], 'axis', 0);
      const sizes = cuts[0].inputs[1] ? consts.get(cuts[0].inputs[1])?.toNumbers().map(Number) : undefined;
      if ((axis !== -1 && axis !== rank - 1) || (cuts[0].inputs[1] && sizes?.every((n) => n === E) !== true)) continue;
      heads = [...cuts[0].outputs];
    } else continue;
    // Everything the three projections flow through up to the output projection.
    const inside: Node[] = [];
    const seen = new Set<string>();
    const frontier = [...heads];
    let exit: { value: string; node: Node } | undefined;
    let ok = true;
    while (frontier.length > 0 && ok) {
      const value = frontier.pop() as string;
      for (const c of users(value)) {
        if ((c.opType === 'MatMul' || c.opType === 'Gemm') && c.inputs[0] === value && isWeight(c.inputs[1])) {
          if (exit !== undefined && exit.value !== value) ok = false;
          exit = { value, node: c };
          continue;
        }
        if (!INSIDE.has(c.opType) || graph.outputs.some((o) => c.outputs.includes(o.name))) {
          ok = false;
          break;
        }
        if (seen.has(c.name)) continue;
        seen.add(c.name);
        inside.push(c);
        frontier.push(...c.outputs.filter(Boolean));
      }
    }
    if (!ok || exit === undefined) continue;
    const count = (op: string): number => inside.filter((n) => n.opType === op).length;
    if (inside.some((n) => n.opType === 'Einsum' && !isAttentionEinsum(n))) continue;
    if (count('MatMul') + count('Einsum') !== 2 || count('Softmax') !== 1) continue;
    // The head size from the 1/√d scaling of the scores.
    let hd: number | undefined;
    for (const n of inside) {
      const c = n.inputs.map((i) => consts.get(i)).find((t) => t !== undefined && t.size === 1);
      if (c === undefined || (n.opType !== 'Div' && n.opType !== 'Mul')) continue;
      const s = Number(c.toNumbers()[0]);
      hd = Math.round(n.opType === 'Div' ? s * s : 1 / (s * s));
    }
    if (hd === undefined || hd < 1 || E % hd !== 0) continue;
    const headDim = hd;
    const h = E / hd;
    const exitValue = exit.value;
    const merge = inside.find((n) => n.outputs[0] === exitValue);
    const reshapes = inside.filter((n) => n.opType === 'Reshape');
    const targetRank = (n: Node): number | undefined => {
      const s = shapes.get(n.inputs[1] ?? '')?.shape[0];
      return typeof s === 'number' ? s : undefined;
    };
    if (merge?.opType !== 'Reshape' || reshapes.length !== 4 || reshapes.some((r) => getInt(r, 'allowzero', 0) !== 0 || targetRank(r) === undefined)) continue;
    const mergeRank = targetRank(merge) as number;
    const splits = reshapes.filter((r) => r !== merge);
    if (splits.some((r) => (targetRank(r) as number) < rank || (targetRank(r) as number) > rank + 1)) continue;

    const zeros = (k: number): number[] => Array.from({ length: Math.max(0, k) }, () => 0);
    let src = -1;
    const silent: ChannelRule = () => [];
    for (const n of inside) rules.set(n.name, silent);
    for (const c of cuts) rules.set(c.name, silent);
    rules.set(merge.name, () => [{ axis: mergeRank - 1, segs: [{ src, count: h, repeat: headDim }] }]);
    rules.set(proj.name, (ctx) => {
      const x = ctx.layout(0);
      if (x !== undefined) {
        if (x.axis === rank - 1) ctx.along(x, W as string, 0, 'in');
        else ctx.block(x, `MatMul "${proj.name}" reads them on an axis it does not reduce`);
      }
      const out = ctx.produce(h, rank - 1);
      src = (out.segs[0] as { src: number }).src;
      units.set(src, 'head');
      for (let k = 0; k < 3; k++) ctx.member(src, W as string, 1, k * E, headDim, 'out');
      // Constant Q/K/V bounds (folded from a static shape) move with the heads kept; computed ones follow the new width.
      for (const c of cuts) {
        const inputs = c.opType === 'Slice' ? [1, 2] : [1];
        for (const i of inputs) {
          const t = c.inputs[i] ? consts.get(c.inputs[i] as string) : undefined;
          if (t === undefined) continue;
          const v = t.toNumbers().map(Number);
          ctx.rewriteInput(src, c.name, i, (kept) =>
            Tensor.int64(c.opType === 'Split' ? v.map(() => kept * headDim) : v.map((x) => (Math.abs(x) >= 2 ** 31 - 1 ? x : (x / E) * kept * headDim))),
          );
        }
      }
      for (const r of splits) {
        const t = targetRank(r) as number;
        // [..., E'] → [..., heads·?, d] with the heads folded by −1: 0 copies the leading dims.
        const target = [...zeros(t === rank ? rank - 2 : rank - 1), -1, headDim];
        ctx.rewriteInput(src, r.name, 1, () => Tensor.int64(target));
      }
      ctx.rewriteInput(src, merge.name, 1, (kept) => Tensor.int64(mergeRank === 2 ? [-1, kept * headDim] : [...zeros(mergeRank - 2), -1, kept * headDim]));
      const seg = { src, count: h, repeat: headDim };
      return [{ axis: rank - 1, segs: [seg, seg, seg] }];
    });
  }
  return { rules, units };
}
