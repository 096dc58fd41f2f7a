// Inference latency, measured the way this machine needs it: fresh sessions, warm-up runs first,
// the compared models alternating within each round so machine noise hits all of them, one
// session alive at a time (two spinning thread pools would fight over the cores), medians.
import type { Model } from '../ir/graph.js';
import type { Backend, Feeds } from './session.js';
import { Session } from './session.js';

export interface LatencyCase {
  name: string;
  model: Model | Uint8Array;
  feeds: Feeds;
}

export interface LatencySetting {
  backend: Backend;
  threads: number;
}

export interface LatencyOptions {
  /** Rounds; each runs every case once per setting. Default 5. */
  rounds?: number;
  /** Untimed runs of each fresh session first (a new session runs slower at first). Default 50. */
  warmup?: number;
  /** Timed runs per session. Default 200. */
  runs?: number;
  /** Called after each timed session, e.g. for progress output. */
  onMeasure?: (m: { round: number; rounds: number; name: string; setting: LatencySetting; ms: number }) => void;
}

export interface LatencyRow extends LatencySetting {
  name: string;
  /** Median over rounds of the mean milliseconds per run. */
  ms: number;
  /** The first case's median over this row's: > 1 means faster than the first case. */
  speedup: number;
  /** Each round's mean milliseconds per run. */
  samples: number[];
}

/** The median; NaN for no values. */
export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
}

/** Mean milliseconds per run of one fresh session, after its warm-up runs. */
export async function timeSession(
  model: Model | Uint8Array,
  feeds: Feeds,
  setting: LatencySetting,
  o: { warmup?: number; runs?: number } = {},
): Promise<number> {
  const s = await Session.create(model, { threads: setting.threads, backend: setting.backend });
  try {
    for (let i = 0; i < (o.warmup ?? 50); i++) await s.run(feeds);
    const runs = o.runs ?? 200;
    const t0 = performance.now();
    for (let i = 0; i < runs; i++) await s.run(feeds);
    return (performance.now() - t0) / runs;
  } finally {
    await s.release();
  }
}

/**
 * Side-by-side latency of several models under several runtime settings: rounds of fresh sessions,
 * every case once per setting per round, in an order that rotates by one case each round.
 *
 * ```ts
 * const rows = await compareLatency(
 *   [{ name: 'fp32', model: dense, feeds: { input: x } }, { name: 'int8', model: q, feeds: { input: x } }],
 *   [{ backend: 'node', threads: 1 }, { backend: 'web', threads: 1 }],
 * );
 * ```
 */
export async function compareLatency(cases: readonly LatencyCase[], settings: readonly LatencySetting[], o: LatencyOptions = {}): Promise<LatencyRow[]> {
  const rounds = o.rounds ?? 5;
  const samples = new Map<string, number[]>();
  const key = (name: string, s: LatencySetting): string => `${name}|${s.backend}|${s.threads}`;
  for (let round = 0; round < rounds; round++) {
    for (const setting of settings) {
      // The case timed first in a round is the one a slowly drifting machine favours or penalizes
      // most: each round starts one case later, so every case takes every position in turn.
      for (let i = 0; i < cases.length; i++) {
        const c = cases[(round + i) % cases.length] as LatencyCase;
        const ms = await timeSession(c.model, c.feeds, setting, o);
        const list = samples.get(key(c.name, setting)) ?? [];
        list.push(ms);
        samples.set(key(c.name, setting), list);
        o.onMeasure?.({ round, rounds, name: c.name, setting, ms });
      }
    }
  }
  const rows: LatencyRow[] = [];
  for (const setting of settings) {
    const first = cases[0];
    const base = first === undefined ? NaN : median(samples.get(key(first.name, setting)) ?? []);
    for (const c of cases) {
      const list = samples.get(key(c.name, setting)) ?? [];
      const ms = median(list);
      rows.push({ name: c.name, ...setting, ms, speedup: base / ms, samples: list });
    }
  }
  return rows;
}
