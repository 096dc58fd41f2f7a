// Hardware in the loop: the latency of a candidate's structure (widths after thinning, which
// layers run int8) measured on the runtime the user ships to, at the given threads, and kept in a
// per-machine table file so later runs reuse every measurement. Latency depends on the structure,
// not on the trained values, so it is measured before any fine-tuning is spent.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { cpus, homedir, hostname, platform } from 'node:os';
import { dirname, join } from 'node:path';
import type { Dataset, Normalization, TensorDataset } from '../data/index.js';
import { inputBatch } from '../train/evaluate.js';
import { pruneChannels } from '../compress/prune/index.js';
import { quantizeStatic } from '../compress/quantize/index.js';
import type { Model } from '../ir/graph.js';
import { writeFileAtomic } from '../ir/io.js';
import { Tensor } from '../ir/tensor.js';
import { median, timeSession } from '../runtime/latency.js';
import type { Candidate, LayerPolicy, RuntimeName } from './types.js';
import type { ChannelRoundTo } from '../compress/prune/index.js';

interface TableFile {
  machine: string;
  entries: Record<string, { ms: number; samples: number[]; measuredAt: string }>;
}

/** This machine: CPU model, core count and platform (a table measured elsewhere does not apply). */
export function machineId(): string {
  const c = cpus();
  return `${platform()}|${c[0]?.model.trim() ?? 'cpu'}|${c.length} cores`;
}

/** The default table file: one per host under ~/.cache/whittle. */
export function defaultLatencyTablePath(): string {
  return join(homedir(), '.cache', 'whittle', `latency-${hostname().replace(/[^A-Za-z0-9._-]/g, '_')}.json`);
}

/** The decisions of a candidate that change what the runtime executes. */
export function structureKey(c: Candidate): string {
  return Object.keys(c.layers)
    .sort()
    .map((k) => {
      const p = c.layers[k] as LayerPolicy;
      return `${k}:${p.width}${p.format === 'int8' ? ':int8' : ''}`;
    })
    .join(',');
}

export interface LatencySettings {
  runtime: RuntimeName;
  threads: number;
  /** Samples per run (default 64). */
  batch: number;
  /** Fresh-session rounds whose median is kept (default 5). */
  rounds?: number;
}

/**
 * A per-machine latency table: `lookup` measures a structure once and stores it in the file.
 *
 * ```ts
 * const table = new LatencyTable(defaultLatencyTablePath(), model, calib, 'x/255');
 * const ms = await table.lookup(candidate, { runtime: 'node', threads: 1, batch: 64 });
 * ```
 */
export class LatencyTable {
  readonly path: string;
  #file: TableFile;
  #model: Model;
  #modelId: string;
  #calibration: Tensor;
  /** Thinned layers keep a multiple of this many channels (compressCandidate's roundTo). */
  #roundTo: ChannelRoundTo;
  /** Lookups answered from the file and measurements made in this run. */
  hits = 0;
  measured = 0;

  constructor(path: string, model: Model, modelBytes: Uint8Array, data: Dataset | TensorDataset, normalization: Normalization, roundTo: ChannelRoundTo = 1) {
    this.#roundTo = roundTo;
    this.path = path;
    this.#model = model;
    this.#modelId = createHash('sha256').update(modelBytes).digest('hex').slice(0, 16);
    this.#calibration = inputBatch(model, data, Math.min(64, data.count), normalization);
    let file: TableFile = { machine: machineId(), entries: {} };
    if (existsSync(path)) {
      try {
        const read = JSON.parse(readFileSync(path, 'utf8')) as TableFile;
        // A table from another machine says nothing about this one.
        if (read.machine === machineId() && typeof read.entries === 'object') file = read;
      } catch {
        // unreadable table: start a new one (it is rewritten atomically below)
      }
    }
    this.#file = file;
  }

  #key(c: Candidate, s: LatencySettings): string {
    return `${this.#modelId}|${s.runtime}|t${s.threads}|b${s.batch}|${structureKey(c)}${this.#roundTo !== 1 ? `|r${this.#roundTo}` : ''}`;
  }

  /** Whether this structure is already in the table. */
  has(c: Candidate, s: LatencySettings): boolean {
    return this.#file.entries[this.#key(c, s)] !== undefined;
  }

  /** Milliseconds per batch of the candidate's structure on the runtime. */
  async lookup(c: Candidate, s: LatencySettings): Promise<number> {
    const key = this.#key(c, s);
    const hit = this.#file.entries[key];
    if (hit !== undefined) {
      this.hits++;
      return hit.ms;
    }
    const model = await this.structure(c);
    const input = model.graph.inputs[0];
    // Real samples (the calibration batch, repeated to fill `batch`): token ids stay valid ids, and
    // a float input times as it will run.
    const cal = this.#calibration;
    const dims = [s.batch, ...cal.dims.slice(1)];
    const x = new Tensor(cal.dtype, dims);
    for (let i = 0; i < x.size; i++) x.data[i] = cal.data[i % cal.size] as never;
    const samples: number[] = [];
    for (let r = 0; r < (s.rounds ?? 5); r++)
      samples.push(await timeSession(model, { [input?.name ?? 'input']: x }, { backend: s.runtime, threads: s.threads }, { warmup: 20, runs: 60 }));
    const ms = median(samples);
    this.#file.entries[key] = { ms, samples, measuredAt: new Date().toISOString() };
    this.measured++;
    mkdirSync(dirname(this.path), { recursive: true });
    writeFileAtomic(this.path, [new TextEncoder().encode(`${JSON.stringify(this.#file, null, 1)}\n`)]);
    return ms;
  }

  /** The runnable structure of a candidate (untrained values: latency does not depend on them). */
  async structure(c: Candidate): Promise<Model> {
    let m = this.#model;
    const narrow = Object.fromEntries(
      Object.entries(c.layers)
        .filter(([, p]) => p.width < 1)
        .map(([l, p]) => [l, 1 - p.width]),
    );
    if (Object.keys(narrow).length > 0) m = (await pruneChannels(m, { perLayer: narrow, roundTo: this.#roundTo })).model;
    const layers = Object.entries(c.layers);
    if (layers.some(([, p]) => p.format === 'int8')) {
      const keepFloat = layers.filter(([, p]) => p.format !== 'int8').map(([l]) => l);
      m = (await quantizeStatic(m, { samples: this.#calibration, keepFloat, threads: 1 })).model;
    }
    return m;
  }
}
