// Merging over structured pruning's coupled groups (dependencyGroups): a unit is a channel of a
// group, whatever the layers (Dense neurons, Conv filters, a Conv feeding a Flatten → Gemm). Its
// incoming weights are the group's 'out' slices; folding adds a scaled copy of the removed
// channel's 'in' slices (the consumers' input columns) to the kept one's.
import type { Graph } from '../../ir/graph.js';
import { getInt } from '../../ir/graph.js';
import type { Tensor } from '../../ir/tensor.js';
import type { GroupMember, PruneGroup } from '../../graph/dependency.js';

interface Strided {
  data: Float32Array;
  outer: number;
  n: number;
  inner: number;
}

function strided(t: Tensor, axis: number): Strided {
  const d = t.dims;
  return {
    data: t.data as Float32Array,
    outer: d.slice(0, axis).reduce((a, x) => a * x, 1),
    n: d[axis] as number,
    inner: d.slice(axis + 1).reduce((a, x) => a * x, 1),
  };
}

/** True when every member is a plain weight/bias slice merging can edit (no BatchNorm, no constants). */
export function mergeableGroup(g: PruneGroup): boolean {
  return g.prunable && g.producers.length === 1 && g.members.every((m) => m.role === 'out' || m.role === 'in');
}

/** Editable copies of a group's tensors, with the operations merging needs. */
export class GroupWeights {
  readonly width: number;
  readonly tensors = new Map<string, Tensor>();
  #graph: Graph;
  #group: PruneGroup;

  constructor(graph: Graph, group: PruneGroup) {
    this.#graph = graph;
    this.#group = group;
    this.width = group.channels;
    for (const m of group.members) {
      const t = graph.initializers.get(m.tensor);
      if (t !== undefined && !this.tensors.has(m.tensor)) this.tensors.set(m.tensor, t.clone());
    }
    for (const m of this.#members('in')) {
      const bias = this.#consumerBias(m);
      if (bias !== undefined && !this.tensors.has(bias)) this.tensors.set(bias, (graph.initializers.get(bias) as Tensor).clone());
    }
  }

  #members(role: GroupMember['role']): GroupMember[] {
    return this.#group.members.filter((m) => m.role === role);
  }

  #view(m: GroupMember): Strided {
    return strided(this.tensors.get(m.tensor) as Tensor, m.axis);
  }

  /** The bias of the node that reads the group through member `m` (Conv or Gemm), if any. */
  #consumerBias(m: GroupMember): string | undefined {
    const node = this.#graph.nodes.find((n) => n.name === m.node);
    if (node === undefined || (node.opType !== 'Conv' && node.opType !== 'Gemm') || node.inputs[1] !== m.tensor) return undefined;
    return node.inputs[2] || undefined;
  }

  /** Channel u's incoming parameters (its 'out' slices, weights and bias) as one vector. */
  incoming(u: number): Float64Array {
    const parts: number[] = [];
    for (const m of this.#members('out')) {
      const v = this.#view(m);
      for (let r = 0; r < m.repeat; r++) {
        const i = m.offset + u * m.repeat + r;
        for (let o = 0; o < v.outer; o++) for (let k = 0; k < v.inner; k++) parts.push(v.data[(o * v.n + i) * v.inner + k] as number);
      }
    }
    return Float64Array.from(parts);
  }

  /** Squared norm of channel u's outgoing weights (its 'in' slices). */
  outgoingNorm2(u: number): number {
    let q = 0;
    for (const m of this.#members('in')) {
      const v = this.#view(m);
      for (let r = 0; r < m.repeat; r++) {
        const i = m.offset + u * m.repeat + r;
        for (let o = 0; o < v.outer; o++) for (let k = 0; k < v.inner; k++) q += (v.data[(o * v.n + i) * v.inner + k] as number) ** 2;
      }
    }
    return q;
  }

  /**
   * Replaces channel `removed` by `scale` × channel `kept` + `offset`: the consumers' columns of
   * `removed` are added, scaled, to those of `kept`, and offset × those columns to the consumers'
   * biases (exact for Dense consumers and unpadded convolutions).
   */
  fold(removed: number, kept: number, scale: number, offset: number): void {
    for (const m of this.#members('in')) {
      const v = this.#view(m);
      const biasName = this.#consumerBias(m);
      const bias = biasName !== undefined ? (this.tensors.get(biasName)?.data as Float32Array) : undefined;
      const node = this.#graph.nodes.find((n) => n.name === m.node);
      // Where the consumer's output channel sits in its weight: axis 0 (Conv, Gemm transB=1) or 1.
      const outFirst = node?.opType === 'Conv' || (node !== undefined && getInt(node, 'transB', 0) === 1);
      for (let r = 0; r < m.repeat; r++) {
        const ir = m.offset + removed * m.repeat + r;
        const ik = m.offset + kept * m.repeat + r;
        for (let o = 0; o < v.outer; o++) {
          for (let k = 0; k < v.inner; k++) {
            const w = v.data[(o * v.n + ir) * v.inner + k] as number;
            v.data[(o * v.n + ik) * v.inner + k] = (v.data[(o * v.n + ik) * v.inner + k] as number) + scale * w;
            if (bias !== undefined && offset !== 0) {
              const oc = outFirst ? o : k;
              bias[oc] = (bias[oc] as number) + offset * w;
            }
          }
        }
      }
    }
  }

  /** Writes the edited tensors into `graph`. */
  commit(graph: Graph): void {
    for (const [name, t] of this.tensors) graph.initializers.set(name, t);
  }
}

/** Activations [samples, perSample] of a probe → [samples·positions, channels] (conv positions become samples). */
export function perChannel(h: Float32Array, samples: number, channels: number): { values: Float32Array; rows: number } {
  const positions = h.length / samples / channels;
  if (positions === 1) return { values: h, rows: samples };
  const values = new Float32Array(h.length);
  for (let s = 0; s < samples; s++) {
    for (let c = 0; c < channels; c++) {
      for (let p = 0; p < positions; p++) values[(s * positions + p) * channels + c] = h[(s * channels + c) * positions + p] as number;
    }
  }
  return { values, rows: samples * positions };
}
