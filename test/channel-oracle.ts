// The structured-pruning oracle shared by the thinning tests: make every other channel of each
// prunable group dead by zeroing its consumers' input slices (math says those channels then
// change nothing), so thinning them away must leave onnxruntime's outputs unchanged.
import type { PruneGroup } from '../src/graph/dependency.js';
import type { Model } from '../src/ir/graph.js';
import { Tensor } from '../src/ir/tensor.js';
import { Session } from '../src/runtime/session.js';

/** The first output of `m` on input `x`, run by onnxruntime in a fresh session. */
export async function modelOutputs(m: Model, x: Tensor): Promise<Float32Array> {
  const s = await Session.create(m, { threads: 1 });
  try {
    const r = await s.run({ [m.graph.inputs[0]?.name as string]: x });
    return r[m.graph.outputs[0]?.name as string]?.data as Float32Array;
  } finally {
    await s.release();
  }
}

/** Zeros the consumers' slices of the odd channels of every prunable group; returns the kept (even) channels. */
export function silenceOddChannels(model: Model, groups: readonly PruneGroup[]): { model: Model; keep: Map<number, number[]> } {
  const g = model.graph.clone();
  const keep = new Map<number, number[]>();
  for (const grp of groups.filter((x) => x.prunable)) {
    keep.set(
      grp.id,
      Array.from({ length: Math.ceil(grp.channels / 2) }, (_, i) => 2 * i),
    );
    for (const m of grp.members.filter((x) => x.role === 'in')) {
      const t = (g.initializers.get(m.tensor) as Tensor).clone();
      const d = t.data as Float32Array;
      const n = t.dims[m.axis] as number;
      const inner = t.dims.slice(m.axis + 1).reduce((a, b) => a * b, 1);
      for (let o = 0; o < t.size / (n * inner); o++) {
        for (let c = 1; c < grp.channels; c += 2) d.fill(0, (o * n + m.offset + c * m.repeat) * inner, (o * n + m.offset + (c + 1) * m.repeat) * inner);
      }
      g.initializers.set(m.tensor, t);
    }
  }
  return { model: { ...model, graph: g }, keep };
}
