// The structured-pruning oracle shared by the thinning tests: make every other channel of each
// prunable group dead by zeroing its consumers' input slices (math says those channels then
// change nothing), so thinning them away must leave onnxruntime's outputs unchanged.
import assert from 'node:assert/strict';
import type { PruneGroup } from '../src/graph/dependency.js';
import { thinChannels } from '../src/graph/thin.js';
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

/**
 * Silences every other channel of `groups`, thins those channels away and asserts the thinned
 * model's outputs equal the masked model's within 1e-5 (relative, floored at 1); returns the thinned model.
 */
export async function assertThinMatchesMasked(model: Model, groups: readonly PruneGroup[], x: Tensor): Promise<Model> {
  const { model: masked, keep } = silenceOddChannels(model, groups);
  const thin = thinChannels(masked, groups, keep);
  const [a, b] = [await modelOutputs(masked, x), await modelOutputs(thin, x)];
  assert.equal(a.length, b.length);
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs((a[i] as number) - (b[i] as number)) / Math.max(1, Math.abs(a[i] as number)));
  assert.ok(worst <= 1e-5, `thinned outputs differ from the masked model's by ${worst}`);
  return thin;
}
