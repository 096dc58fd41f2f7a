// Per-node kernel times from onnxruntime's profiler: which nodes of the graph onnxruntime actually
// runs (after its fusions: QLinearConv, NCHWc Conv, ...) take the time, averaged per run.
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { WhittleError } from '../ir/errors.js';
import type { Model } from '../ir/graph.js';
import { encodeModel } from '../ir/onnx.js';
import type { Feeds } from './session.js';

/** One node onnxruntime ran: its name there (fused nodes get new names), its op, µs per run. */
export interface NodeTime {
  name: string;
  op: string;
  us: number;
}

export interface NodeProfile {
  /** Wall milliseconds per run (profiling on). */
  msPerRun: number;
  /** Kernel time per node, µs per run (the median of its profiled runs), slowest first. */
  nodes: NodeTime[];
}

interface ProfileEvent {
  cat: string;
  name: string;
  dur: number;
  ts: number;
  args?: { op_name?: string };
}

/**
 * Runs a model with onnxruntime-node's profiler on (`warmup` untimed runs, then `runs` profiled
 * ones) and returns each node's kernel time per run.
 *
 * ```ts
 * const { nodes } = await profileNodes(model, { input: x }, { threads: 1 });
 * console.log(nodes[0]); // { name: 'conv1_token_3', op: 'QLinearConv', us: 412.5 }
 * ```
 */
export async function profileNodes(
  model: Model | Uint8Array,
  feeds: Feeds,
  o: { threads?: number; warmup?: number; runs?: number } = {},
): Promise<NodeProfile> {
  const dir = mkdtempSync(join(tmpdir(), 'whittle-profile-'));
  const warmup = o.warmup ?? 10;
  const runs = Math.max(1, o.runs ?? 30);
  try {
    let session: ort.InferenceSession;
    try {
      session = await ort.InferenceSession.create(model instanceof Uint8Array ? model : encodeModel(model), {
        intraOpNumThreads: o.threads ?? 1,
        interOpNumThreads: 1,
        graphOptimizationLevel: 'all',
        executionMode: 'sequential',
        logSeverityLevel: 4,
        enableProfiling: true,
        profileFilePrefix: join(dir, 'p'),
      });
    } catch (e) {
      throw new WhittleError('RUNTIME', `onnxruntime could not load the graph to profile it: ${(e as Error).message.split('\n')[0]}`, { cause: e });
    }
    const ortFeeds: Record<string, ort.Tensor> = {};
    for (const [k, v] of Object.entries(feeds)) ortFeeds[k] = new ort.Tensor(v.dtype as 'float32', v.data as Float32Array, v.dims as number[]);
    for (let i = 0; i < warmup; i++) await session.run(ortFeeds);
    const t0 = performance.now();
    for (let i = 0; i < runs; i++) await session.run(ortFeeds);
    const msPerRun = (performance.now() - t0) / runs;
    session.endProfiling();
    await session.release();
    // onnxruntime-node does not return the file's name: the prefix plus a timestamp, alone in `dir`.
    const file = readdirSync(dir).find((f) => f.startsWith('p'));
    if (file === undefined) throw new WhittleError('RUNTIME', 'onnxruntime wrote no profile file');
    const events = JSON.parse(readFileSync(join(dir, file), 'utf8')) as ProfileEvent[];
    // Runs are "model_run" Session events: node events from the first profiled run on.
    const modelRuns = events.filter((e) => e.cat === 'Session' && e.name === 'model_run').sort((a, b) => a.ts - b.ts);
    const from = modelRuns[warmup]?.ts ?? 0;
    // The median of each node's times, not the mean: a run the scheduler preempted (a busy
    // machine) inflates one node's duration tenfold, and the choice between kernels must not follow it.
    const durations = new Map<string, { op: string; us: number[] }>();
    for (const e of events) {
      if (e.cat !== 'Node' || !e.name.endsWith('_kernel_time') || e.ts < from) continue;
      const name = e.name.slice(0, -'_kernel_time'.length);
      const d = durations.get(name) ?? { op: e.args?.op_name ?? '?', us: [] };
      d.us.push(e.dur);
      durations.set(name, d);
    }
    const byNode = new Map<string, NodeTime>();
    for (const [name, d] of durations) {
      const sorted = d.us.sort((a, b) => a - b);
      const median = ((sorted[(sorted.length - 1) >> 1] as number) + (sorted[sorted.length >> 1] as number)) / 2;
      // A node run k times per run (inside a Loop) counts k times.
      byNode.set(name, { name, op: d.op, us: (median * sorted.length) / runs });
    }
    return { msPerRun, nodes: [...byNode.values()].sort((a, b) => b.us - a.us) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
