// Net2Net over structured pruning's coupled groups (dependencyGroups): widening a Conv (or any
// layer whose channels are a group: across BatchNorm, residual additions, Flatten → Gemm) copies
// each source channel's producer slices ('out', BatchNorm 'norm', per-channel 'const') and divides
// its consumer slices ('in') among the copies; deepening a Conv inserts an identity convolution.
import { WhittleError } from '../../ir/errors.js';
import type { Model, Node } from '../../ir/graph.js';
import { attr, getInt } from '../../ir/graph.js';
import { inferShapes } from '../../ir/shape.js';
import { Tensor } from '../../ir/tensor.js';
import { Rng } from '../../nn/init.js';
import { SHAPE_RULES } from '../../ops/index.js';
import type { PruneGroup } from '../../graph/index.js';
import { dependencyGroups, followFlattenReshapes, gatherAxis } from '../../graph/index.js';

/** The coupled channel group a layer (node name or weight name) produces; BAD_ARGUMENT listing the candidates otherwise. */
export function channelGroup(model: Model, layer: string): PruneGroup {
  const groups = dependencyGroups(model.graph);
  const node = model.graph.nodes.find((n) => n.name === layer || n.inputs[1] === layer || n.inputs[1] === `${layer}.weight`);
  const g = node === undefined ? undefined : groups.find((x) => x.producers.includes(node.name));
  const valid = groups.filter((x) => x.prunable).map((x) => x.name);
  if (g === undefined) throw new WhittleError('BAD_ARGUMENT', `no layer "${layer}" whose channels can grow; candidates: ${valid.join(', ') || '(none)'}`);
  if (!g.prunable)
    throw new WhittleError('BAD_ARGUMENT', `the channels of "${layer}" cannot change: ${g.reason ?? ''}; candidates: ${valid.join(', ') || '(none)'}`);
  // Reshapes that spell the channel count (attention heads) would need rewriting too.
  if (g.rewrites.length > 0 || g.unit === 'head')
    throw new WhittleError(
      'BAD_ARGUMENT',
      `the ${g.unit === 'head' ? 'attention heads' : 'channels'} of "${layer}" are spelled out in reshapes (${g.rewrites.length} to rewrite); widening them is not supported, widen the MLP or convolution layers instead`,
    );
  for (const m of g.members) {
    const n = model.graph.nodes.find((x) => x.name === m.node);
    // Their statistics run across the channels: a copied channel changes every channel's output.
    if (n !== undefined && ['LayerNormalization', 'GroupNormalization', 'InstanceNormalization'].includes(n.opType) && m.role === 'norm')
      throw new WhittleError(
        'BAD_ARGUMENT',
        `the channels of "${layer}" are normalized together by ${n.opType} "${n.name}", so copies would change the function; widen a layer whose channels no normalization spans (e.g. a Transformer MLP's first layer)`,
      );
    if (n?.opType === 'Conv' && getInt(n, 'group', 1) !== 1)
      throw new WhittleError(
        'BAD_ARGUMENT',
        `"${layer}" feeds the grouped convolution "${n.name}"; widening grouped and depthwise convolutions is not supported yet`,
      );
  }
  return g;
}

/** Indices along a member's axis after widening: other groups' channels stay, this group's follow `source`. */
function axisIndices(length: number, offset: number, channels: number, repeat: number, source: readonly number[]): number[] {
  const idx: number[] = [];
  for (let i = 0; i < offset; i++) idx.push(i);
  for (const s of source) for (let r = 0; r < repeat; r++) idx.push(offset + s * repeat + r);
  for (let i = offset + channels * repeat; i < length; i++) idx.push(i);
  return idx;
}

export interface WidenChannelsOptions {
  width: number;
  noise: number;
  init: 'replicate' | 'random';
  seed: number;
}

/** Widens the group to `width` channels, function-preserving (see the file comment). */
export function widenChannels(model: Model, group: PruneGroup, o: WidenChannelsOptions): Model {
  const c = group.channels;
  if (!Number.isInteger(o.width) || o.width <= c) {
    throw new WhittleError(
      'BAD_ARGUMENT',
      `cannot widen "${group.name}" to ${o.width} channels: it has ${c}; give a larger integer width (merge or prune to make it smaller)`,
    );
  }
  const rng = new Rng(o.seed);
  const random = o.init === 'random';
  // source[u]: the channel new channel u copies (random init: any channel, for BatchNorm entries).
  const source = Array.from({ length: o.width }, (_, u) => (u < c ? u : Math.floor(rng.uniform() * c)));
  const copies = new Array<number>(c).fill(0);
  for (const s of source) copies[s] = (copies[s] as number) + 1;
  const g = model.graph.clone();
  const done = new Set<string>();
  for (const m of group.members) {
    const key = `${m.tensor}@${m.axis}`;
    if (done.has(key)) continue;
    done.add(key);
    const t = g.initializers.get(m.tensor);
    if (t === undefined) throw new WhittleError('INVALID_GRAPH', `initializer "${m.tensor}" is missing`);
    const w = gatherAxis(t, m.axis, axisIndices(t.dims[m.axis] as number, m.offset, c, m.repeat, source));
    const data = w.data as Float32Array;
    const outer = w.dims.slice(0, m.axis).reduce((a, d) => a * d, 1);
    const n = w.dims[m.axis] as number;
    const inner = w.dims.slice(m.axis + 1).reduce((a, d) => a * d, 1);
    const at = (oi: number, u: number, r: number, k: number): number => (oi * n + m.offset + u * m.repeat + r) * inner + k;
    if (m.role === 'in') {
      // Consumers: the copies of a channel share its outgoing weights (zero-sum noise keeps the sum).
      for (let s = 0; s < c; s++) {
        const group = source.flatMap((src, u) => (src === s && !(random && u >= c) ? [u] : []));
        for (let oi = 0; oi < outer; oi++)
          for (let r = 0; r < m.repeat; r++)
            for (let k = 0; k < inner; k++) {
              const share = (data[at(oi, s, r, k)] as number) / group.length;
              const eps = group.map(() => (group.length > 1 && o.noise > 0 ? rng.normal() * o.noise * Math.abs(share) : 0));
              const mean = eps.reduce((a, e) => a + e, 0) / group.length;
              group.forEach((u, j) => (data[at(oi, u, r, k)] = share + (eps[j] as number) - mean));
            }
      }
      if (random)
        for (let u = c; u < o.width; u++)
          for (let oi = 0; oi < outer; oi++) for (let r = 0; r < m.repeat; r++) for (let k = 0; k < inner; k++) data[at(oi, u, r, k)] = 0;
    } else if (random && m.role === 'out') {
      // New channels of their own: He-initialized incoming weights, zero bias; outgoing weights are zero.
      const weight = w.dims.length > 1;
      const fanIn = weight ? w.size / (w.dims[m.axis] as number) : 1;
      for (let u = c; u < o.width; u++)
        for (let oi = 0; oi < outer; oi++)
          for (let r = 0; r < m.repeat; r++) for (let k = 0; k < inner; k++) data[at(oi, u, r, k)] = weight ? rng.normal() * Math.sqrt(2 / fanIn) : 0;
    }
    g.initializers.set(m.tensor, w);
  }
  followFlattenReshapes(model.graph, g);
  g.valueInfo.clear();
  inferShapes(g, SHAPE_RULES);
  return { ...model, graph: g, metadata: { ...model.metadata } };
}

/**
 * Net2DeeperNet for a Conv: inserts a `kernel`×`kernel` convolution initialized to the identity
 * (centre tap 1, same padding) after the Conv and its BatchNorm, if any — after its ReLU, and
 * followed by a ReLU, when it has one (ReLU(I ⋆ ReLU(x)) = ReLU(x)).
 */
export function deepenConv(model: Model, conv: Node, name: string, kernel = 3): Model {
  const g = model.graph.clone();
  const node = g.nodes.find((n) => n.name === conv.name) as Node;
  const w = g.initializers.get(node.inputs[1] ?? '');
  if (w === undefined || w.dims.length !== 4)
    throw new WhittleError('BAD_ARGUMENT', `Conv "${conv.name}" needs a constant 2-D convolution weight to deepen after it`);
  const channels = w.dims[0] as number;
  // After the Conv's BatchNorm and ReLU when it has them (the new layer then ends in a ReLU too).
  const only = (v: string, opType: string): Node | undefined => {
    const c = g.consumersOf(v);
    return c.length === 1 && c[0]?.opType === opType ? c[0] : undefined;
  };
  let out = node.outputs[0] as string;
  const bn = only(out, 'BatchNormalization');
  if (bn !== undefined && bn.outputs.length === 1) out = bn.outputs[0] as string;
  const relu = only(out, 'Relu');
  const value = (relu?.outputs[0] ?? out) as string;
  if (g.outputs.some((v) => v.name === value))
    throw new WhittleError('BAD_ARGUMENT', `"${conv.name}" produces the model's output; deepen after an inner layer`);
  const eye = new Tensor('float32', [channels, channels, kernel, kernel]);
  const centre = Math.floor(kernel / 2);
  for (let ch = 0; ch < channels; ch++) (eye.data as Float32Array)[((ch * channels + ch) * kernel + centre) * kernel + centre] = 1;
  g.initializers.set(`${name}.weight`, eye);
  g.initializers.set(`${name}.bias`, new Tensor('float32', [channels]));
  const linear = relu ? `${name}.linear` : name;
  const nodes: Node[] = [
    {
      name,
      opType: 'Conv',
      domain: '',
      inputs: [value, `${name}.weight`, `${name}.bias`],
      outputs: [linear],
      attributes: { kernel_shape: attr.ints([kernel, kernel]), pads: attr.ints([centre, centre, centre, centre]) },
    },
  ];
  if (relu) nodes.push({ name: `${name}_relu`, opType: 'Relu', domain: '', inputs: [linear], outputs: [`${name}_relu`], attributes: {} });
  const result = nodes[nodes.length - 1]?.outputs[0] as string;
  const readers = g.consumersOf(value);
  for (const r of readers) r.inputs = r.inputs.map((i) => (i === value ? result : i));
  const at = Math.min(...readers.map((r) => g.nodes.indexOf(r)));
  g.nodes.splice(at, 0, ...nodes);
  g.valueInfo.clear();
  inferShapes(g, SHAPE_RULES);
  return { ...model, graph: g, metadata: { ...model.metadata } };
}
