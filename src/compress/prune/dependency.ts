// Dependency analysis for structured pruning (after Torch-Pruning's DepGraph): which slices of
// which initializers must be removed together when one output channel (conv filter, neuron)
// goes. Channels are traced forward along axis 1 of every value as a layout of segments, each
// naming the "source" that created those channels (a Conv/Gemm/MatMul output). Elementwise ops
// pass layouts through, BatchNorm adds its per-channel tensors, Flatten/Reshape repeat each
// channel over the spatial size, Concat concatenates layouts, and residual Add/Sub/Mul unify
// the sources of their operands into one group. Channels that reach a graph output, a graph
// input, or an op this file does not understand are not prunable.
import type { Graph, Node } from '../../ir/graph.js';
import { getInt } from '../../ir/graph.js';
import type { TypeShape } from '../../ir/shape.js';
import { constantValues, inferShapes } from '../../ir/shape.js';
import type { Tensor } from '../../ir/tensor.js';
import { SHAPE_RULES } from '../../ops/index.js';

export interface GroupMember {
  /** Initializer sliced when the group loses a channel. */
  tensor: string;
  axis: number;
  /** Channel c of the group is indices [offset + c·repeat, offset + (c+1)·repeat) of `axis`. */
  offset: number;
  repeat: number;
  /** 'out': a producer's output channels; 'in': a consumer's input columns; 'norm': BatchNorm; 'const': a per-channel constant. */
  role: 'out' | 'in' | 'norm' | 'const';
  node: string;
}

export interface PruneGroup {
  id: number;
  /** The group's name: the first layer producing its channels (e.g. 'conv1', 'layer1.0.conv2'). */
  name: string;
  channels: number;
  members: GroupMember[];
  /** Nodes whose output channels are this group (more than one across a residual addition). */
  producers: string[];
  prunable: boolean;
  /** Why the group cannot be pruned. */
  reason: string | undefined;
  /** A value carrying exactly the group's channels on axis 1, post-activation where possible (for activation statistics). */
  probe: string | undefined;
}

interface Segment {
  src: number;
  count: number;
  repeat: number;
}

const PASS_THROUGH = new Set([
  'Relu',
  'LeakyRelu',
  'Sigmoid',
  'Tanh',
  'Clip',
  'Dropout',
  'Identity',
  'MaxPool',
  'AveragePool',
  'GlobalAveragePool',
  'GlobalMaxPool',
  'Elu',
  'Selu',
  'HardSigmoid',
  'HardSwish',
  'Softplus',
  'Neg',
  'Cast',
]);
const ELEMENTWISE = new Set(['Add', 'Sub', 'Mul', 'Div', 'Sum', 'Max', 'Min']);
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

const numeric = (s: TypeShape['shape'] | undefined): number[] | undefined =>
  s !== undefined && s.every((d): d is number => typeof d === 'number') ? s : undefined;

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
  const shapes = inferShapes(graph.clone(), SHAPE_RULES);
  const consts = constantValues(graph);
  const uf = new UnionFind();
  const members = new Map<number, GroupMember[]>();
  const producers = new Map<number, string[]>();
  const blocked = new Map<number, string>();
  const counts = new Map<number, number>();
  const probes = new Map<number, { value: string; activated: boolean }[]>();
  const layouts = new Map<string, Segment[]>();

  const newSource = (count: number, producer?: string): number => {
    const s = uf.add();
    counts.set(s, count);
    members.set(s, []);
    producers.set(s, producer !== undefined ? [producer] : []);
    return s;
  };
  const block = (segs: readonly Segment[] | undefined, reason: string): void => {
    for (const s of segs ?? []) if (!blocked.has(s.src)) blocked.set(s.src, reason);
  };
  const addMember = (src: number, m: GroupMember): void => void (members.get(src) as GroupMember[]).push(m);
  /** Members for a tensor axis that follows `segs` (in order), e.g. a consumer's input columns. */
  const addAlong = (segs: readonly Segment[], tensor: string, axis: number, role: GroupMember['role'], node: string, repeatScale = 1): void => {
    let offset = 0;
    for (const s of segs) {
      addMember(s.src, { tensor, axis, offset, repeat: s.repeat * repeatScale, role, node });
      offset += s.count * s.repeat * repeatScale;
    }
  };
  const setLayout = (value: string | undefined, segs: Segment[], n: Node): void => {
    if (!value) return;
    layouts.set(value, segs);
    const only = segs.length === 1 ? segs[0] : undefined;
    if (only !== undefined && only.repeat === 1) {
      const list = probes.get(only.src) ?? [];
      list.push({ value, activated: ACTIVATIONS.has(n.opType) });
      probes.set(only.src, list);
    }
  };
  const sameSegmentation = (a: readonly Segment[], b: readonly Segment[]): boolean =>
    a.length === b.length && a.every((s, i) => s.count === b[i]?.count && s.repeat === b[i]?.repeat);

  for (const v of graph.inputs) {
    const c = numeric(shapes.get(v.name)?.shape)?.[1];
    if (c === undefined) continue;
    const s = newSource(c);
    blocked.set(s, `its channels come from the graph input "${v.name}"`);
    layouts.set(v.name, [{ src: s, count: c, repeat: 1 }]);
  }

  for (const n of graph.nodes) {
    const x = n.inputs[0] ?? '';
    const L0 = layouts.get(x);
    const out = n.outputs[0];
    const w = consts.get(n.inputs[1] ?? '');
    const tracked = n.inputs.filter((i) => layouts.has(i));
    if (
      (n.opType === 'Conv' || n.opType === 'Gemm' || n.opType === 'MatMul') &&
      w !== undefined &&
      graph.initializers.has(n.inputs[1] as string) &&
      w.dims.length >= 2
    ) {
      const weight = n.inputs[1] as string;
      const bias = n.inputs[2] && graph.initializers.has(n.inputs[2]) ? n.inputs[2] : undefined;
      let inAxis = 1;
      let outAxis = 0;
      let ok = true;
      if (n.opType === 'Gemm') {
        const transB = getInt(n, 'transB', 0);
        inAxis = transB ? 1 : 0;
        outAxis = transB ? 0 : 1;
        if (getInt(n, 'transA', 0)) ok = false;
      } else if (n.opType === 'MatMul') {
        inAxis = 0;
        outAxis = 1;
        if (w.dims.length !== 2 || shapes.get(x)?.shape.length !== 2) ok = false;
      }
      const cout = w.dims[outAxis] as number;
      if (n.opType === 'Conv' && getInt(n, 'group', 1) !== 1) {
        const g = getInt(n, 'group', 1);
        // Depthwise: each output channel reads its own input channel, so both are one group.
        if (L0 !== undefined && g === cout && w.dims[1] === 1 && L0.reduce((a, s) => a + s.count * s.repeat, 0) === cout) {
          addAlong(L0, weight, 0, 'out', n.name);
          if (bias) addAlong(L0, bias, 0, 'out', n.name);
          setLayout(out, L0, n);
        } else {
          block(L0, `grouped Conv "${n.name}" couples its channels`);
          const s = newSource(cout, n.name);
          blocked.set(s, `grouped Conv "${n.name}" couples its channels`);
          setLayout(out, [{ src: s, count: cout, repeat: 1 }], n);
        }
        continue;
      }
      if (!ok) {
        block(L0, `${n.opType} "${n.name}" is not a plain layer`);
        const s = newSource(cout, n.name);
        blocked.set(s, `${n.opType} "${n.name}" is not a plain layer`);
        setLayout(out, [{ src: s, count: cout, repeat: 1 }], n);
        continue;
      }
      if (L0 !== undefined) {
        if (n.opType === 'Conv' && L0.some((s) => s.repeat !== 1)) block(L0, `Conv "${n.name}" reads a reshaped value`);
        else addAlong(L0, weight, inAxis, 'in', n.name);
      }
      const s = newSource(cout, n.name);
      addMember(s, { tensor: weight, axis: outAxis, offset: 0, repeat: 1, role: 'out', node: n.name });
      if (bias) {
        const bt = graph.initializers.get(bias) as Tensor;
        if (bt.size === cout) addMember(s, { tensor: bias, axis: bt.dims.length - 1, offset: 0, repeat: 1, role: 'out', node: n.name });
        else if (bt.size !== 1) blocked.set(s, `the bias of ${n.opType} "${n.name}" is not per-channel`);
      }
      setLayout(out, [{ src: s, count: cout, repeat: 1 }], n);
      continue;
    }
    if (L0 === undefined && tracked.length === 0) continue;
    if (n.opType === 'BatchNormalization' && L0 !== undefined) {
      for (const i of [1, 2, 3, 4]) {
        const t = n.inputs[i];
        if (t && graph.initializers.has(t)) addAlong(L0, t, 0, 'norm', n.name);
        else block(L0, `BatchNormalization "${n.name}" has a computed parameter`);
      }
      setLayout(out, L0, n);
      for (const o of n.outputs.slice(1)) if (o) block(L0, `BatchNormalization "${n.name}" exports statistics`);
      continue;
    }
    // Extra inputs of these ops (Clip's min/max, Dropout's ratio) are scalars: nothing to slice.
    if (PASS_THROUGH.has(n.opType) && L0 !== undefined && tracked.length === 1) {
      setLayout(out, L0, n);
      continue;
    }
    if (ELEMENTWISE.has(n.opType)) {
      const segsList: Segment[][] = [];
      let bad: string | undefined;
      for (const i of n.inputs) {
        const l = layouts.get(i);
        if (l !== undefined) {
          segsList.push(l);
          continue;
        }
        const c = consts.get(i);
        if (c === undefined) bad = `${n.opType} "${n.name}" mixes in "${i}", whose channels are not traced`;
        else if (c.size !== 1) {
          const rank = shapes.get(out ?? '')?.shape.length ?? 0;
          // A per-channel constant such as [C, 1, 1] against [N, C, H, W].
          const axis = c.dims.length - (rank - 1);
          const first = segsList[0] ?? layouts.get(n.inputs.find((j) => layouts.has(j)) ?? '');
          if (graph.initializers.has(i) && axis >= 0 && c.dims.every((d, k) => k === axis || d === 1) && first !== undefined)
            addAlong(first, i, axis, 'const', n.name);
          else bad = `${n.opType} "${n.name}" mixes in a constant that is not per-channel`;
        }
      }
      const first = segsList[0];
      if (first === undefined) continue;
      if (bad === undefined && segsList.every((l) => sameSegmentation(l, first))) {
        for (const l of segsList.slice(1)) l.forEach((s, k) => uf.union((first[k] as Segment).src, s.src));
        setLayout(out, first, n);
      } else {
        for (const l of segsList) block(l, bad ?? `${n.opType} "${n.name}" adds values whose channels do not line up`);
      }
      continue;
    }
    if ((n.opType === 'Flatten' || n.opType === 'Reshape') && L0 !== undefined && tracked.length === 1) {
      const full = shapes.get(x)?.shape;
      const inShape = full !== undefined ? numeric(full.slice(1)) : undefined;
      const outShape = shapes.get(out ?? '')?.shape;
      const axis = n.opType === 'Flatten' ? getInt(n, 'axis', 1) : 1;
      if (inShape !== undefined && outShape !== undefined && axis === 1 && outShape.length === 2 && inShape.length >= 1) {
        const spatial = inShape.slice(1).reduce((a, d) => a * d, 1);
        const features = inShape.reduce((a, d) => a * d, 1);
        if (outShape[1] === features || typeof outShape[1] === 'string') {
          setLayout(
            out,
            L0.map((s) => ({ ...s, repeat: s.repeat * spatial })),
            n,
          );
          continue;
        }
      }
      block(L0, `${n.opType} "${n.name}" reshapes the channel axis`);
      continue;
    }
    if (n.opType === 'Concat' && getInt(n, 'axis', 1) === 1) {
      const all = n.inputs.map((i) => layouts.get(i));
      if (all.every((l): l is Segment[] => l !== undefined)) {
        setLayout(out, all.flat(), n);
        continue;
      }
    }
    // Anything else reading tracked channels: leave them alone.
    for (const i of tracked) block(layouts.get(i), `${n.opType} "${n.name}" reads them`);
  }
  for (const o of graph.outputs) block(layouts.get(o.name), `they are the graph output "${o.name}"`);

  const groups = new Map<number, PruneGroup>();
  for (let s = 0; s < counts.size; s++) {
    const r = uf.find(s);
    let g = groups.get(r);
    if (g === undefined) {
      g = { id: groups.size, name: '', channels: counts.get(r) as number, members: [], producers: [], prunable: true, reason: undefined, probe: undefined };
      groups.set(r, g);
    }
    g.members.push(...(members.get(s) ?? []));
    g.producers.push(...(producers.get(s) ?? []));
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
