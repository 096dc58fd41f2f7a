// keepFloat 'auto' for static int8: which layers to run in int8 and which in float, measured on
// this machine. onnxruntime's profiler times every node of the all-int8 model and of the float
// model at each target setting (batch × threads); each layer (and each other QDQ node: Add, Mul,
// Concat, pools) goes to int8 only where its int8 kernel is not slower than its float one. The
// chosen mix is then timed whole against all-int8 and all-float-compute (the per-node view misses
// the QuantizeLinear/DequantizeLinear nodes between the two domains), and an int8 form is kept only
// where it is clearly faster than all-float-compute, which runs at fp32's speed.
import type { Graph, Model } from '../ir/graph.js';
import { Tensor } from '../ir/tensor.js';
import type { NodeProfile } from '../runtime/profile.js';
import type { Feeds } from '../runtime/session.js';

/** A setting the choice is made for: a batch size and onnxruntime-node's intra-op threads. */
export interface SpeedTarget {
  batch: number;
  threads: number;
}

/** One layer's (or QDQ node's) kernel time per setting, in int8 and in float. */
export interface UnitTiming {
  name: string;
  op: string;
  /** µs per run, one entry per target setting. */
  int8Us: number[];
  floatUs: number[];
  /** The int8 − float difference over the settings, each in units of that setting's float model time (> 0: int8 slower). */
  cost: number;
  int8: boolean;
}

/** Activations onnxruntime fuses into the convolution before it (Conv+Relu/Clip/…, NCHWc Conv+Add). */
const FUSED_AFTER = new Set(['Relu', 'Clip', 'LeakyRelu', 'Sigmoid', 'HardSigmoid', 'HardSwish', 'Tanh', 'Add']);

/** Names onnxruntime gives nodes it rewrites: `<node>_token_N` (QDQ fusion), `<output>_nchwc` (NCHWc layout). */
function baseName(profiled: string): string {
  let n = profiled;
  for (;;) {
    const m = /^(.*?)(_token_\d+|_nchwc)$/.exec(n);
    if (m === null) return n;
    n = m[1] as string;
  }
}

/**
 * Each profiled node's time attributed to a unit (a node name in `units`): by the unit's own name,
 * or, for fused float nodes named after a value, by the value the unit (and the activations
 * onnxruntime fuses into it) computes. Unattributed nodes (Q/DQ, layout reorders) are left out.
 */
export function attributeTimes(g: Graph, units: readonly string[], profile: NodeProfile): Map<string, number> {
  const byName = new Map(g.nodes.filter((n) => units.includes(n.name)).map((n) => [n.name, n]));
  const byValue = new Map<string, string>();
  for (const [name, node] of byName) {
    let v = node.outputs[0] as string;
    byValue.set(v, name);
    for (;;) {
      const readers = g.consumersOf(v);
      const next = readers.length === 1 ? readers[0] : undefined;
      if (next === undefined || !FUSED_AFTER.has(next.opType) || byName.has(next.name)) break;
      v = next.outputs[0] as string;
      if (!byValue.has(v)) byValue.set(v, name);
    }
  }
  // A unit's own output (an Add's) is named after the unit when another claimed it first.
  const out = new Map<string, number>(units.map((u) => [u, 0]));
  for (const t of profile.nodes) {
    const base = baseName(t.name);
    const unit = byName.has(base) ? base : byValue.get(base);
    if (unit !== undefined) out.set(unit, (out.get(unit) ?? 0) + t.us);
  }
  return out;
}

/**
 * Decides per unit: int8 where Σ over settings of (int8 µs − float µs) / float model µs ≤ 0, i.e.
 * not slower on the settings taken together, each weighted by its own model time (so batch 32
 * does not outvote batch 1). A unit onnxruntime did not run as its own int8 node stays int8.
 */
export function chooseInt8Units(g: Graph, units: readonly string[], int8Profiles: readonly NodeProfile[], floatProfiles: readonly NodeProfile[]): UnitTiming[] {
  const int8 = int8Profiles.map((p) => attributeTimes(g, units, p));
  const float = floatProfiles.map((p) => attributeTimes(g, units, p));
  const totals = floatProfiles.map((p) =>
    Math.max(
      1e-9,
      p.nodes.reduce((a, n) => a + n.us, 0),
    ),
  );
  const ops = new Map(g.nodes.map((n) => [n.name, n.opType]));
  return units.map((name) => {
    const int8Us = int8.map((m) => m.get(name) ?? 0);
    const floatUs = float.map((m) => m.get(name) ?? 0);
    const cost = int8Us.reduce((a, t, i) => a + (t - (floatUs[i] ?? 0)) / (totals[i] as number), 0);
    const ranAsInt8 = int8Us.some((t) => t > 0);
    return { name, op: ops.get(name) ?? '?', int8Us, floatUs, cost, int8: !ranAsInt8 || cost <= 0 };
  });
}

/**
 * `feeds` with each batched input's first dimension made `batch`, its rows repeated as needed (a
 * batch of 32 from 16 calibration samples); inputs `batched` rejects (a fixed-size or 0-d input)
 * are passed as they are.
 */
export function feedsOfBatch(feeds: Feeds, batch: number, batched: (input: string) => boolean = () => true): Feeds {
  const out: Feeds = {};
  for (const [name, t] of Object.entries(feeds)) {
    const rows = t.dims[0];
    if (rows === undefined || rows === 0 || !batched(name)) {
      out[name] = t;
      continue;
    }
    const row = t.size / rows;
    const data = t.data;
    const dst = new (data.constructor as new (n: number) => typeof data)(batch * row);
    for (let i = 0; i < batch; i++) (dst as Float32Array).set((data as Float32Array).subarray((i % rows) * row, ((i % rows) + 1) * row), i * row);
    out[name] = new Tensor(t.dtype, [batch, ...t.dims.slice(1)], dst);
  }
  return out;
}

/**
 * The targets a model can run: where an input fixes its first dimension (a batch-1 export), every
 * target takes that batch (duplicates dropped).
 */
export function runnableTargets(model: Model, targets: readonly SpeedTarget[]): SpeedTarget[] {
  const fixed = model.graph.inputs.map((i) => i.shape[0]).find((d): d is number => typeof d === 'number' && d > 0);
  const out: SpeedTarget[] = [];
  for (const t of targets) {
    const batch = fixed ?? t.batch;
    if (!out.some((o) => o.batch === batch && o.threads === t.threads)) out.push({ batch, threads: t.threads });
  }
  return out;
}
