// keepFloat 'auto' for static int8: which layers to run in int8 and which in float, measured on
// this machine. onnxruntime's profiler times every node of the all-int8 model and of the float
// model at each target setting (batch × threads); each layer (and each other QDQ node: Add, Mul,
// Concat, pools) goes to int8 only where its int8 kernel is not slower than its float one. The
// chosen mix is then timed whole against all-int8 and all-float-compute (the per-node view misses
// the QuantizeLinear/DequantizeLinear nodes between the two domains), and an int8 form is kept only
// where it is clearly faster than all-float-compute, which runs at fp32's speed.
import { availableParallelism } from 'node:os';
import type { ActivationRange } from '../compress/quantize/calibrate.js';
import type { ModelData } from '../compress/quantize/feeds.js';
import { collectFeeds } from '../compress/quantize/feeds.js';
import { foldBatchNorm } from '../compress/quantize/fold-bn.js';
import { planQdq } from '../compress/quantize/static.js';
import type { Graph, Model } from '../ir/graph.js';
import { Tensor } from '../ir/tensor.js';
import { compareLatency } from '../runtime/latency.js';
import type { LatencyCase } from '../runtime/latency.js';
import type { NodeProfile } from '../runtime/profile.js';
import { profileNodes } from '../runtime/profile.js';
import type { Feeds } from '../runtime/session.js';
import type { PipelineListener } from './events.js';

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

/** How much slower (relative) a unit's int8 kernel may time than its float one and still count as not slower: profile noise. */
export const UNIT_NOISE = 0.1;

/**
 * Decides per unit: int8 where Σ over settings of (int8 µs − float µs) / float model µs is at most
 * UNIT_NOISE × Σ float µs / float model µs, i.e. not clearly slower on the settings taken together,
 * each weighted by its own model time (so batch 32 does not outvote batch 1). A unit onnxruntime
 * did not run as its own int8 node stays int8.
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
  const timings = units.map((name) => {
    const int8Us = int8.map((m) => m.get(name) ?? 0);
    const floatUs = float.map((m) => m.get(name) ?? 0);
    const cost = int8Us.reduce((a, t, i) => a + (t - (floatUs[i] ?? 0)) / (totals[i] as number), 0);
    const ranAsInt8 = int8Us.some((t) => t > 0);
    // Float only where int8 is clearly slower: a kernel timed within UNIT_NOISE of its float time
    // (on a busy machine, a few µs either way from one profile to the next) stays int8.
    const floatShare = floatUs.reduce((a, t, i) => a + t / (totals[i] as number), 0);
    return { name, op: ops.get(name) ?? '?', int8Us, floatUs, cost, int8: !ranAsInt8 || cost <= UNIT_NOISE * floatShare };
  });
  // A node that costs nothing in float only because onnxruntime fused it into the layer before it
  // (a residual Add into the NCHWc Conv) costs its own kernel again once that layer runs in int8:
  // it follows the layer, and an int8 chain (QLinearConv → QLinearAdd) is not broken for nothing.
  const byName = new Map(timings.map((t) => [t.name, t]));
  const byNode = new Map(g.nodes.map((n) => [n.name, n]));
  for (const t of timings) {
    const node = byNode.get(t.name);
    if (t.int8 || node === undefined || t.floatUs.some((us) => us > 0)) continue;
    const fedByInt8 = node.inputs.some((v) => {
      let p = g.producerOf(v);
      if (p !== undefined && FUSED_AFTER.has(p.opType) && p.opType !== 'Add') p = g.producerOf(p.inputs[0] as string);
      return p !== undefined && byName.get(p.name)?.int8 === true && p.name !== t.name;
    });
    if (fedByInt8) t.int8 = true;
  }
  return timings;
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

/** What the search needs of a quantized form: its model and (all-int8) the calibrated ranges. */
export interface QuantizedForm {
  model: Model;
  ranges?: ReadonlyMap<string, ActivationRange>;
}

/** One form to quantize: the calibration batches, the layers computed in float, the nodes excluded. */
export interface FormOptions {
  samples: Feeds[];
  floatCompute?: string[];
  exclude?: string[];
  ranges?: ReadonlyMap<string, ActivationRange>;
}

export interface KeepFloatSearchOptions {
  samples: ModelData;
  exclude?: readonly string[];
  speedTargets?: SpeedTarget[];
  onEvent?: PipelineListener;
}

export type KeepFloatForm = 'all-int8' | 'measured' | 'float-compute';

export interface KeepFloatChoice {
  /** The layers (float compute on int8-stored weights) and QDQ nodes left in float. */
  keepFloat: string[];
  /** The form kept: all-int8, the per-node measured mix, or every layer in float (int8 storage only). */
  form: KeepFloatForm;
  /** The settings timed. */
  targets: SpeedTarget[];
  /** Each layer's and QDQ node's profiled kernel time in int8 and in float, and the choice. */
  units: UnitTiming[];
  /** The whole models timed: ms per run at each target, and the geometric-mean speed-up over fp32. */
  rows: { form: KeepFloatForm | 'fp32'; keepFloat: string[]; ms: number[]; vsFp32: number }[];
  /**
   * The factor an int8 form had to beat float-compute by to be kept: 1.03, or the largest gap
   * between fp32 and float-compute (the same graph in onnxruntime: the timing noise) if larger.
   */
  margin: number;
}

/** The settings keepFloat 'auto' times by default: batch 1 and 32, one and two threads (as many as there are cores). */
export function defaultSpeedTargets(): SpeedTarget[] {
  const threads = availableParallelism() >= 2 ? [1, 2] : [1];
  return [1, 32].flatMap((batch) => threads.map((t) => ({ batch, threads: t })));
}

/**
 * keepFloat 'auto': profiles the float model and the all-int8 one at each target setting, sends
 * each layer and QDQ node to int8 only where its int8 kernel is not slower than its float one
 * (layers left in float keep int8-stored weights), then times that mix whole against all-int8 and
 * against every layer in float (int8 storage only), and keeps an int8 form only where it is
 * clearly faster than all-float-compute (which runs at fp32's speed).
 */
export async function measuredKeepFloat<R extends QuantizedForm>(
  model: Model,
  o: KeepFloatSearchOptions,
  quantize: (form: FormOptions) => Promise<R>,
): Promise<{ result: R; choice: KeepFloatChoice }> {
  const batches = await collectFeeds(model, o.samples, 256);
  const targets = runnableTargets(model, o.speedTargets ?? defaultSpeedTargets());
  const first = batches[0] as Feeds;
  // Inputs with a dynamic first dimension take each target's batch; fixed or 0-d ones stay as they are.
  const dynamic = new Set(model.graph.inputs.filter((i) => i.shape.length > 0 && typeof i.shape[0] !== 'number').map((i) => i.name));
  const feeds = targets.map((t) => feedsOfBatch(first, t.batch, (name) => dynamic.has(name)));
  const allInt8 = await quantize({ samples: batches, floatCompute: [], exclude: [...(o.exclude ?? [])] });
  const ranges = allInt8.ranges;
  // The units: every layer and QDQ node quantized in the all-int8 form, by node name.
  const prepared = foldBatchNorm(model).model;
  const plan = planQdq(prepared, new Set([...(o.exclude ?? [])]));
  const layers = plan.weighted.map((w) => w.node.name).filter((n) => n !== '');
  const extras = plan.extra.map((c) => c.node.name).filter((n) => n !== '');
  const units = [...layers, ...extras];
  if (units.length === 0) {
    // Profiles name nodes after the model's node names: unnamed layers cannot be told apart.
    o.onEvent?.({ type: 'note', message: 'keep-float auto: the layers have no node names to profile them by; every layer goes to int8' });
    return { result: allInt8, choice: { keepFloat: [], form: 'all-int8', targets, units: [], rows: [], margin: 1 } };
  }
  const profile = { warmup: 10, runs: 30 };
  const floatProfiles: NodeProfile[] = [];
  const int8Profiles: NodeProfile[] = [];
  for (const [i, t] of targets.entries()) {
    floatProfiles.push(await profileNodes(prepared, feeds[i] as Feeds, { threads: t.threads, ...profile }));
    int8Profiles.push(await profileNodes(allInt8.model, feeds[i] as Feeds, { threads: t.threads, ...profile }));
  }
  const timings = chooseInt8Units(prepared.graph, units, int8Profiles, floatProfiles);
  const floatUnits = timings.filter((u) => !u.int8).map((u) => u.name);
  const split = (names: readonly string[]): { floatCompute: string[]; exclude: string[] } => ({
    floatCompute: names.filter((n) => layers.includes(n)),
    exclude: [...(o.exclude ?? []), ...names.filter((n) => extras.includes(n))],
  });
  const forms: { form: KeepFloatForm; keepFloat: string[] }[] = [
    { form: 'all-int8', keepFloat: [] },
    ...(floatUnits.length > 0 && floatUnits.length < units.length ? [{ form: 'measured' as const, keepFloat: floatUnits }] : []),
    { form: 'float-compute', keepFloat: units },
  ];
  const results: R[] = [];
  for (const f of forms) results.push(f.keepFloat.length === 0 ? allInt8 : await quantize({ samples: batches, ranges, ...split(f.keepFloat) }));
  const msRows: number[][] = [[], ...forms.map(() => [])];
  for (const [i, t] of targets.entries()) {
    const cases: LatencyCase[] = [
      { name: 'fp32', model: prepared, feeds: feeds[i] as Feeds },
      ...forms.map((f, k) => ({ name: f.form, model: (results[k] as R).model, feeds: feeds[i] as Feeds })),
    ];
    const rows = await compareLatency(cases, [{ backend: 'node', threads: t.threads }], {
      rounds: 3,
      warmup: 10,
      runs: Math.max(10, Math.round(40 / Math.sqrt(t.batch))),
    });
    for (const [k, r] of rows.entries()) msRows[k]?.push(r.ms);
  }
  const fp32 = msRows[0] as number[];
  const geoSpeedup = (ms: readonly number[]): number => Math.exp(ms.reduce((a, m, i) => a + Math.log((fp32[i] as number) / m), 0) / ms.length);
  const rows: KeepFloatChoice['rows'] = [
    { form: 'fp32', keepFloat: units, ms: fp32, vsFp32: 1 },
    ...forms.map((f, k) => ({ form: f.form, keepFloat: f.keepFloat, ms: msRows[k + 1] as number[], vsFp32: geoSpeedup(msRows[k + 1] as number[]) })),
  ];
  // float-compute runs the very graph fp32 runs (onnxruntime folds its Cast × scale away), so the
  // gap between their timings is this machine's noise. An int8 form is kept only where it beats
  // float-compute by more than that (and by 3%) overall and is not slower by more than that at
  // any target: same speed goes to float-compute, whose activations stay float (more accurate).
  const fcIndex = rows.length - 1;
  const fc = rows[fcIndex] as KeepFloatChoice['rows'][number];
  const margin = Math.max(Math.log(1.03), ...fc.ms.map((m, i) => Math.abs(Math.log(m / (fp32[i] as number)))));
  let best = fcIndex;
  for (let k = 1; k < fcIndex; k++) {
    const r = rows[k] as KeepFloatChoice['rows'][number];
    const clearlyFaster = Math.log(r.vsFp32 / fc.vsFp32) > margin && r.ms.every((m, i) => Math.log(m / (fc.ms[i] as number)) <= margin);
    if (clearlyFaster && r.vsFp32 > (rows[best] as KeepFloatChoice['rows'][number]).vsFp32) best = k;
  }
  const kept = rows[best] as KeepFloatChoice['rows'][number];
  const at = targets.map((t) => `b${t.batch}/${t.threads}T`).join(', ');
  for (const r of rows)
    o.onEvent?.({
      type: 'note',
      message: `keep-float auto: ${r.form}${r.form === 'measured' ? ` (${r.keepFloat.length} of ${units.length} float)` : ''} ${r.ms.map((m) => m.toFixed(3)).join(' / ')} ms at ${at}${r.form === 'fp32' ? '' : `, ${r.vsFp32.toFixed(2)}× fp32`}${r === kept ? '  ← kept' : ''}`,
    });
  return {
    result: results[best - 1] as R,
    choice: {
      keepFloat: kept.form === 'all-int8' ? [] : kept.keepFloat,
      form: kept.form as KeepFloatForm,
      targets,
      units: timings,
      rows,
      margin: Math.exp(margin),
    },
  };
}
