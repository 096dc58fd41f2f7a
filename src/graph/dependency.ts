// Dependency analysis for structured pruning (after Torch-Pruning's DepGraph): which slices of
// which initializers must be removed together when one output channel (conv filter, neuron,
// attention head, recurrent unit) goes. Channels are traced forward through the graph as a
// layout (an axis and segments along it, each naming the source that created those channels);
// each op's channel rule (src/ops/<op>.ts, or channel-rules.ts for ops without a file yet) says
// how it moves, ties or creates them. Channels that reach a graph output, a graph input, or an
// op with no channel rule are not prunable, and the group says which op blocked it.
import type { Graph, Node } from '../ir/graph.js';
import type { TypeShape } from '../ir/shape.js';
import { constantValues, inferShapes, typeShapeOf } from '../ir/shape.js';
import type { Tensor } from '../ir/tensor.js';
import type { ChannelContext, ChannelLayout, ChannelRole, ChannelRule, ChannelSegment } from '../ops/index.js';
import { SHAPE_RULES } from '../ops/index.js';
import { matchAttention } from './attention.js';
import { channelRules, shapeRules } from './channel-rules.js';

export interface GroupMember {
  /** Initializer sliced when the group loses a channel. */
  tensor: string;
  axis: number;
  /** Channel c of the group is indices [offset + c·repeat, offset + (c+1)·repeat) of `axis`. */
  offset: number;
  repeat: number;
  /** 'out': a producer's output channels; 'in': a consumer's input columns; 'norm': a normalization's parameters; 'const': a per-channel constant. */
  role: ChannelRole;
  node: string;
}

/** A node input that thinning replaces (a reshape target, a zero initial state): `value(kept)` gives the new one, undefined drops it. */
export interface InputRewrite {
  node: string;
  input: number;
  value: (kept: number) => Tensor | undefined;
}

export interface PruneGroup {
  id: number;
  /** The group's name: the first layer producing its channels (e.g. 'conv1', 'layer1.0.conv2'). */
  name: string;
  channels: number;
  /** What one channel is: a filter/neuron ('channel'), an attention head, or a recurrent unit. */
  unit: 'channel' | 'head' | 'hidden';
  members: GroupMember[];
  /** Nodes whose output channels are this group (more than one across a residual addition). */
  producers: string[];
  prunable: boolean;
  /** Why the group cannot be pruned. */
  reason: string | undefined;
  /** A value carrying exactly the group's channels on axis 1, post-activation where possible (for activation statistics). */
  probe: string | undefined;
  /** Node inputs that change with the number of channels kept. */
  rewrites: InputRewrite[];
}

// Ops whose output is the post-activation value preferred for activation statistics.
const ACTIVATIONS = new Set(['Relu', 'LeakyRelu', 'Sigmoid', 'Tanh', 'Clip', 'Elu', 'Selu', 'HardSwish', 'Softplus']);

class UnionFind {
  #parent: number[] = [];
  add(): number {
    this.#parent.push(this.#parent.length);
    return this.#parent.length - 1;
  }
  find(x: number): number {
    let r = x;
    while (this.#parent[r] !== r) r = this.#parent[r] as number;
    while (this.#parent[x] !== r) {
      const next = this.#parent[x] as number;
      this.#parent[x] = r;
      x = next;
    }
    return r;
  }
  union(a: number, b: number): void {
    const ra = this.find(a);
    const rb = this.find(b);
    if (ra !== rb) this.#parent[Math.max(ra, rb)] = Math.min(ra, rb);
  }
}

const sameSegmentation = (a: readonly ChannelSegment[], b: readonly ChannelSegment[]): boolean =>
  a.length === b.length && a.every((s, i) => s.count === b[i]?.count && s.repeat === b[i]?.repeat);

/**
 * Finds the coupled groups of a graph: each group lists every initializer slice that goes when
 * one of its channels is removed.
 *
 * ```ts
 * const groups = dependencyGroups(createModel('resnet-cifar', { blocks: 1 }).graph);
 * groups.filter((g) => g.prunable).map((g) => g.name); // ['conv1', 'layer1.0.conv1', ...]
 * ```
 */
export function dependencyGroups(graph: Graph): PruneGroup[] {
  const known = new Map<string, TypeShape>();
  for (const [k, v] of graph.valueInfo) {
    const ts = typeShapeOf(v);
    if (ts !== undefined) known.set(k, ts);
  }
  const shapes = inferShapes(graph.clone(), shapeRules(SHAPE_RULES), undefined, { known, unknown: 'skip' });
  const consts = constantValues(graph);
  const rules = channelRules();
  const producerOf = new Map<string, Node>();
  for (const n of graph.nodes) for (const o of n.outputs) if (o) producerOf.set(o, n);
  const uf = new UnionFind();
  const members = new Map<number, GroupMember[]>();
  const producers = new Map<number, string[]>();
  const blocked = new Map<number, string>();
  const counts = new Map<number, number>();
  const units = new Map<number, PruneGroup['unit']>();
  const rewrites = new Map<number, InputRewrite[]>();
  const probes = new Map<number, { value: string; activated: boolean }[]>();
  const layouts = new Map<string, ChannelLayout>();

  const newSource = (count: number, producer?: string): number => {
    const s = uf.add();
    counts.set(s, count);
    members.set(s, []);
    producers.set(s, producer !== undefined ? [producer] : []);
    rewrites.set(s, []);
    return s;
  };
  const block = (l: ChannelLayout | undefined, reason: string): void => {
    for (const s of l?.segs ?? []) if (!blocked.has(s.src)) blocked.set(s.src, reason);
  };
  const setLayout = (value: string | undefined, l: ChannelLayout, n: Node): void => {
    if (!value) return;
    layouts.set(value, l);
    const only = l.segs.length === 1 ? l.segs[0] : undefined;
    if (only !== undefined && only.repeat === 1 && l.axis === 1) {
      const list = probes.get(only.src) ?? [];
      list.push({ value, activated: ACTIVATIONS.has(n.opType) });
      probes.set(only.src, list);
    }
  };

  for (const v of graph.inputs) {
    const c = shapes.get(v.name)?.shape[1];
    if (typeof c !== 'number') continue;
    const s = newSource(c);
    blocked.set(s, `its channels come from the graph input "${v.name}"`);
    layouts.set(v.name, { axis: 1, segs: [{ src: s, count: c, repeat: 1 }] });
  }

  const attention = matchAttention(graph, shapes, consts);
  for (const n of graph.nodes) {
    const traced = n.inputs.flatMap((i, k) => (i && layouts.has(i) ? [k] : []));
    const ctx: ChannelContext = {
      node: n,
      graph,
      layout: (i) => layouts.get(n.inputs[i] ?? ''),
      traced,
      inputs: n.inputs.map((i) => (i ? shapes.get(i) : undefined)),
      outputs: n.outputs.map((o) => (o ? shapes.get(o) : undefined)),
      constant: (i) => consts.get(n.inputs[i] ?? ''),
      isInitializer: (i) => graph.initializers.has(n.inputs[i] ?? ''),
      producer: (i) => producerOf.get(n.inputs[i] ?? ''),
      produce(count, axis, why) {
        const s = newSource(count, n.name);
        if (why !== undefined) blocked.set(s, why);
        return { axis, segs: [{ src: s, count, repeat: 1 }] };
      },
      along(l, tensor, axis, role, repeatScale = 1) {
        let offset = 0;
        for (const s of l.segs) {
          members.get(s.src)?.push({ tensor, axis, offset, repeat: s.repeat * repeatScale, role, node: n.name });
          offset += s.count * s.repeat * repeatScale;
        }
      },
      member(src, tensor, axis, offset, repeat, role) {
        members.get(src)?.push({ tensor, axis, offset, repeat, role, node: n.name });
      },
      block,
      unify(a, b) {
        if (!sameSegmentation(a.segs, b.segs)) return false;
        a.segs.forEach((s, k) => uf.union(s.src, (b.segs[k] as ChannelSegment).src));
        return true;
      },
      rewriteInput(src, node, input, value) {
        rewrites.get(src)?.push({ node, input, value });
      },
    };
    const rule: ChannelRule | undefined = attention.rules.get(n.name) ?? rules.get(n.opType);
    if (rule === undefined) {
      for (const i of traced) block(layouts.get(n.inputs[i] as string), `${n.opType} "${n.name}" reads them, and Whittle has no channel rule for ${n.opType}`);
      continue;
    }
    const outs = rule(ctx);
    outs.forEach((l, k) => {
      if (l !== undefined) setLayout(n.outputs[k], l, n);
    });
  }
  for (const [src, unit] of attention.units) units.set(src, unit);
  for (const o of graph.outputs) block(layouts.get(o.name), `they are the graph output "${o.name}"`);

  const groups = new Map<number, PruneGroup>();
  for (let s = 0; s < counts.size; s++) {
    const r = uf.find(s);
    let g = groups.get(r);
    if (g === undefined) {
      g = {
        id: groups.size,
        name: '',
        channels: counts.get(r) as number,
        unit: 'channel',
        members: [],
        producers: [],
        prunable: true,
        reason: undefined,
        probe: undefined,
        rewrites: [],
      };
      groups.set(r, g);
    }
    g.members.push(...(members.get(s) ?? []));
    g.producers.push(...(producers.get(s) ?? []));
    g.rewrites.push(...(rewrites.get(s) ?? []));
    const unit = units.get(s) ?? (g.members.some((m) => m.role === 'out' && /^(LSTM|GRU|RNN)$/.test(opType(graph, m.node))) ? 'hidden' : undefined);
    if (unit !== undefined) g.unit = unit;
    const why = blocked.get(s);
    if (why !== undefined && g.reason === undefined) {
      g.prunable = false;
      g.reason = why;
    }
  }
  for (const [r, g] of groups) {
    g.name = g.producers[0] ?? `group${g.id}`;
    if (!g.members.some((m) => m.role === 'out')) {
      g.prunable = false;
      g.reason ??= 'no layer produces these channels';
    }
    const cands: { value: string; activated: boolean }[] = [];
    for (let s = 0; s < counts.size; s++) if (uf.find(s) === r) cands.push(...(probes.get(s) ?? []));
    // Prefer the last activation output (after a residual addition it sees every producer).
    g.probe = [...cands].reverse().find((c) => c.activated)?.value ?? cands[0]?.value;
  }
  const result = [...groups.values()].filter((g) => g.members.length > 0);
  // One initializer read by two layers (exporters deduplicate equal tensors) would be sliced
  // two ways; leave such groups alone.
  const spans = new Map<string, { g: PruneGroup; from: number; to: number }[]>();
  for (const g of result) {
    for (const m of g.members) {
      const key = `${m.tensor}#${m.axis}`;
      const list = spans.get(key) ?? [];
      const span = { g, from: m.offset, to: m.offset + g.channels * m.repeat };
      for (const o of list) {
        if (o.from < span.to && span.from < o.to && (o.g !== g || o.from !== span.from)) {
          for (const x of [o.g, g]) {
            x.prunable = false;
            x.reason ??= `initializer "${m.tensor}" is shared by several layers`;
          }
        }
      }
      list.push(span);
      spans.set(key, list);
    }
  }
  return result;
}

function opType(graph: Graph, node: string): string {
  return graph.nodes.find((n) => n.name === node)?.opType ?? '';
}
