// Activation statistics over a calibration set: one ONNX Runtime pass with each group's probe
// value added as an output.
import type { Dataset, Normalization, TensorDataset } from '../../data/index.js';
import { runBatches } from '../../data/index.js';
import type { Model } from '../../ir/graph.js';
import { inferShapes } from '../../ir/shape.js';
import type { Tensor } from '../../ir/tensor.js';
import { SHAPE_RULES } from '../../ops/index.js';
import { sharedSessions } from '../../runtime/session.js';
import { batchSource } from '../../train/evaluate.js';
import type { PruneGroup } from '../../graph/dependency.js';
import type { ActivationStats } from './importance.js';

export interface CalibrationOptions {
  /** How image bytes become the model's input; a `TensorDataset` is fed as read. */
  normalization: Normalization;
  /** Samples used (the first ones); default 1024. */
  samples?: number;
  batchSize?: number;
  threads?: number;
}

/**
 * Mean |a| and APoZ per channel of each group's probe value.
 *
 * ```ts
 * const stats = await activationStats(model, groups, mnist.train, { normalization: 'x/255', samples: 512 });
 * ```
 */
export async function activationStats(
  model: Model,
  groups: readonly PruneGroup[],
  data: Dataset | TensorDataset,
  o: CalibrationOptions,
): Promise<Map<number, ActivationStats>> {
  const probed = groups.filter((g) => g.probe !== undefined);
  const g = model.graph.clone();
  const have = new Set(g.outputs.map((v) => v.name));
  // Declare each probe with its inferred shape: onnxruntime merges declared output shapes into
  // its own inference, so a wrong rank would break the nodes downstream.
  const shapes = inferShapes(model.graph.clone(), SHAPE_RULES);
  for (const p of probed) {
    const name = p.probe as string;
    const ts = shapes.get(name);
    if (!have.has(name)) g.outputs.push({ name, dtype: ts?.dtype ?? 'float32', shape: [...(ts?.shape ?? [])] });
    have.add(name);
  }
  g.valueInfo.clear();
  // The same model probed again (before/after checks) reuses its session.
  const lease = await sharedSessions.acquire({ ...model, graph: g }, { threads: o.threads });
  const session = lease.session;
  const stats = new Map<number, { abs: Float64Array; zeros: Float64Array; per: number }>();
  for (const p of probed) stats.set(p.id, { abs: new Float64Array(p.channels), zeros: new Float64Array(p.channels), per: 0 });
  const source = batchSource(model, data, o.normalization);
  try {
    await runBatches(source, { batchSize: o.batchSize ?? 256, limit: o.samples ?? 1024 }, async ({ feeds }) => {
      const r = await session.run(
        feeds,
        probed.map((p) => p.probe as string),
      );
      for (const p of probed) {
        const t = r[p.probe as string] as Tensor;
        const d = t.data as Float32Array;
        const c = t.dims[1] as number;
        const inner = t.dims.slice(2).reduce((a, x) => a * x, 1);
        const s = stats.get(p.id) as { abs: Float64Array; zeros: Float64Array; per: number };
        for (let b = 0; b < (t.dims[0] as number); b++) {
          for (let ch = 0; ch < c; ch++) {
            const base = (b * c + ch) * inner;
            let a = 0;
            let z = 0;
            for (let i = 0; i < inner; i++) {
              const v = d[base + i] as number;
              a += Math.abs(v);
              if (v <= 0) z++;
            }
            s.abs[ch] = (s.abs[ch] as number) + a;
            s.zeros[ch] = (s.zeros[ch] as number) + z;
          }
        }
        s.per += (t.dims[0] as number) * inner;
      }
    });
  } finally {
    await lease.release();
  }
  const out = new Map<number, ActivationStats>();
  for (const [id, s] of stats) out.set(id, { meanAbs: s.abs.map((v) => v / Math.max(1, s.per)), zeroFraction: s.zeros.map((v) => v / Math.max(1, s.per)) });
  return out;
}
