// The only module that imports onnxruntime. Everything else hands it Whittle tensors and models.
import { createHash } from 'node:crypto';
import { availableParallelism } from 'node:os';
import * as ort from 'onnxruntime-node';
import { WhittleError } from '../ir/errors.js';
import type { Model } from '../ir/graph.js';
import { modelFingerprint } from '../ir/fingerprint.js';
import { withoutIdentities } from '../ir/elide-identity.js';
import { encodeModel } from '../ir/onnx.js';
import type { DType, TensorData } from '../ir/tensor.js';
import { Tensor } from '../ir/tensor.js';

/**
 * Which onnxruntime runs the graph: `node` (onnxruntime-node, native) or `web` (onnxruntime-web's
 * WebAssembly backend, what a browser runs: use it to check that a model loads and computes the
 * same there before shipping it; it needs the optional onnxruntime-web package).
 */
export type Backend = 'node' | 'web';
export const BACKENDS: readonly Backend[] = ['node', 'web'];

export interface SessionOptions {
  /**
   * Intra-op threads; default: all cores, and never more than there are (`web`: one WebAssembly
   * thread, as in a page without cross-origin isolation).
   */
  threads?: number;
  optimization?: 'disabled' | 'basic' | 'extended' | 'all';
  /** Default `node`. */
  backend?: Backend;
  /** Where onnxruntime writes the graph it actually runs, after its fusions (to check them). */
  optimizedModelPath?: string;
}

let web: Promise<typeof ort> | undefined;
/** onnxruntime-web, loaded on first use; both packages share onnxruntime-common's API and Tensor. */
function loadWeb(): Promise<typeof ort> {
  web ??= import('onnxruntime-web').then(
    (m) => {
      m.env.wasm.numThreads = 1;
      return m as unknown as typeof ort;
    },
    (e: unknown) => {
      web = undefined;
      throw new WhittleError(
        'MISSING_DEPENDENCY',
        `the web backend needs the onnxruntime-web package, which is not installed: run npm install onnxruntime-web (${(e as Error).message})`,
        { cause: e },
      );
    },
  );
  return web;
}

export type Feeds = Record<string, Tensor>;

/** onnxruntime's JavaScript API has no bfloat16 tensors. */
const ORT_TYPE: Record<Exclude<DType, 'bfloat16'>, ort.Tensor.Type> = {
  float32: 'float32',
  float64: 'float64',
  float16: 'float16',
  int8: 'int8',
  uint8: 'uint8',
  int16: 'int16',
  uint16: 'uint16',
  int32: 'int32',
  uint32: 'uint32',
  int64: 'int64',
  uint64: 'uint64',
  bool: 'bool',
};

export function defaultThreads(): number {
  return availableParallelism();
}

let created = 0;
/** How many onnxruntime sessions this process has built (each compiles the whole graph): counted so tests can guard how often a command pays for one. */
export function sessionsCreated(): number {
  return created;
}

/** Counts a session built outside `Session.create` (the shape probe's). */
export function countSession(): void {
  created++;
}

function toOrt(t: Tensor): ort.Tensor {
  if (t.dtype === 'bfloat16') throw new WhittleError('RUNTIME', 'onnxruntime-node cannot take bfloat16 tensors as inputs; Cast them to float32 in the graph');
  return new ort.Tensor(ORT_TYPE[t.dtype], t.data as never, t.dims as number[]);
}

/**
 * onnxruntime's messages run to several lines (a node dump, then `==> Context: …`); a
 * WhittleError is one line, so keep the context (the part that names the node) first and cut
 * the dump.
 */
export function ortMessage(raw: string, limit = 400): string {
  const flat = (s: string): string => s.replace(/\s+/g, ' ').trim();
  const at = raw.indexOf('==> Context:');
  const text = at < 0 ? flat(raw) : `${flat(raw.slice(at + 12))} (${flat(raw.slice(0, at))})`;
  return text.length > limit ? `${text.slice(0, limit - 1)}…` : text;
}

function fromOrt(t: ort.Tensor): Tensor {
  const dtype = t.type as DType;
  // ORT returns bool as Uint8Array; keep our dtype names.
  return new Tensor(dtype, t.dims as number[], t.data as TensorData);
}

/**
 * A compiled graph ready to run on ONNX Runtime.
 *
 * ```ts
 * const s = await Session.create(model, { threads: 2 });
 * const { logits } = await s.run({ x: batch });
 * ```
 */
export class Session {
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  #inner: ort.InferenceSession;

  private constructor(inner: ort.InferenceSession) {
    this.#inner = inner;
    this.inputNames = inner.inputNames;
    this.outputNames = inner.outputNames;
  }

  static async create(model: Model | Uint8Array, options: SessionOptions = {}): Promise<Session> {
    const bytes = model instanceof Uint8Array ? model : encodeModel(withoutIdentities(model));
    // More intra-op threads than cores only makes them fight (a recipe asking for 99 on 2 cores ran for minutes).
    const threads = Math.min(options.threads ?? defaultThreads(), defaultThreads());
    if (!Number.isInteger(threads) || threads < 1)
      throw new WhittleError('BAD_ARGUMENT', `options.threads must be a whole number of threads, 1 or more; got ${options.threads}`);
    created++;
    const api = options.backend === 'web' ? await loadWeb() : ort;
    try {
      const inner = await api.InferenceSession.create(bytes, {
        intraOpNumThreads: threads,
        interOpNumThreads: 1,
        graphOptimizationLevel: options.optimization ?? 'all',
        executionMode: 'sequential',
        // ORT's own log repeats each failure in colour over several lines; the thrown error carries it as one WhittleError line.
        logSeverityLevel: 4,
        ...(options.optimizedModelPath === undefined ? {} : { optimizedModelFilePath: options.optimizedModelPath }),
        ...(options.backend === 'web' ? { executionProviders: ['wasm'] } : {}),
      });
      return new Session(inner);
    } catch (e) {
      throw new WhittleError('RUNTIME', `onnxruntime${options.backend === 'web' ? '-web' : ''} could not load the graph: ${ortMessage((e as Error).message)}`, {
        cause: e,
      });
    }
  }

  /** Runs the graph; returns the requested outputs (default: all). */
  async run(feeds: Feeds, fetches?: readonly string[]): Promise<Record<string, Tensor>> {
    const ortFeeds: Record<string, ort.Tensor> = {};
    for (const [k, v] of Object.entries(feeds)) ortFeeds[k] = toOrt(v);
    let out: ort.InferenceSession.OnnxValueMapType;
    try {
      out = fetches === undefined ? await this.#inner.run(ortFeeds) : await this.#inner.run(ortFeeds, fetches as string[]);
    } catch (e) {
      throw new WhittleError('RUNTIME', `onnxruntime failed to run the graph: ${ortMessage((e as Error).message)}`, { cause: e });
    }
    const result: Record<string, Tensor> = {};
    for (const [k, v] of Object.entries(out)) result[k] = fromOrt(v as ort.Tensor);
    return result;
  }

  async release(): Promise<void> {
    await this.#inner.release();
  }
}

/** A session borrowed from a `SessionCache`: give it back with `release` (the cache keeps it). */
export interface SessionLease {
  session: Session;
  release(): Promise<void>;
}

interface CacheEntry {
  session: Promise<Session>;
  users: number;
  /** Evicted while in use: released when its last user gives it back. */
  evicted: boolean;
}

/**
 * Keeps one session per (graph bytes, options), so evaluating the same graph again (validation,
 * then test; a pipeline's before/after check) reuses the compiled session instead of paying
 * onnxruntime's 40–60 ms to build it; any change of graph or weights builds a new one. At most
 * `capacity` sessions stay alive (least recently used go first); graphs over `maxBytes` are not
 * kept.
 *
 * ```ts
 * const lease = await sharedSessions.acquire(model, { threads: 2 });
 * try { await lease.session.run(feeds); } finally { await lease.release(); }
 * ```
 */
export class SessionCache {
  readonly #capacity: number;
  readonly #maxBytes: number;
  #entries = new Map<string, CacheEntry>();
  #created = 0;
  #hits = 0;

  constructor(o: { capacity?: number; maxBytes?: number } = {}) {
    this.#capacity = Math.max(1, o.capacity ?? 4);
    this.#maxBytes = o.maxBytes ?? 64 * 2 ** 20;
  }

  /** Sessions this cache has built, and requests it answered with one it had. */
  get stats(): { created: number; hits: number; live: number } {
    return { created: this.#created, hits: this.#hits, live: this.#entries.size };
  }

  /**
   * A session for `model` under `options`: the cached one when the graph computes the same (same
   * bytes; for a Model, the same fingerprint apart from metadata, so no encoding on a hit).
   */
  async acquire(model: Model | Uint8Array, options: SessionOptions = {}): Promise<SessionLease> {
    const settings = `${options.threads ?? defaultThreads()}|${options.optimization ?? 'all'}|${options.backend ?? 'node'}`;
    const key =
      model instanceof Uint8Array
        ? `bytes ${createHash('sha256').update(model).digest('hex')}|${settings}`
        : `model ${modelFingerprint(model, { computeOnly: true })}|${settings}`;
    let entry = this.#entries.get(key);
    if (entry === undefined) {
      const bytes = model instanceof Uint8Array ? model : encodeModel(withoutIdentities(model));
      if (bytes.length > this.#maxBytes) {
        this.#created++;
        const session = await Session.create(bytes, options);
        return { session, release: () => session.release() };
      }
      this.#created++;
      entry = { session: Session.create(bytes, options), users: 0, evicted: false };
      this.#entries.set(key, entry);
      // A graph onnxruntime refuses is not kept.
      entry.session.catch(() => this.#entries.delete(key));
      await this.#evict();
    } else {
      this.#hits++;
      // Most recently used last.
      this.#entries.delete(key);
      this.#entries.set(key, entry);
    }
    const e = entry;
    e.users++;
    let session: Session;
    try {
      session = await e.session;
    } catch (err) {
      e.users--;
      throw err;
    }
    let given = false;
    return {
      session,
      release: async () => {
        if (given) return;
        given = true;
        e.users--;
        if (e.evicted && e.users === 0) await session.release();
      },
    };
  }

  async #evict(): Promise<void> {
    while (this.#entries.size > this.#capacity) {
      const [key, e] = this.#entries.entries().next().value as [string, CacheEntry];
      this.#entries.delete(key);
      e.evicted = true;
      if (e.users === 0) await (await e.session.catch(() => undefined))?.release();
    }
  }

  /** Releases every session not in use (those in use go when given back). */
  async clear(): Promise<void> {
    const all = [...this.#entries.values()];
    this.#entries.clear();
    for (const e of all) {
      e.evicted = true;
      if (e.users === 0) await (await e.session.catch(() => undefined))?.release();
    }
  }
}

/** The process-wide cache evaluation and probes share. */
export const sharedSessions = new SessionCache();
