// The only module that imports onnxruntime. Everything else hands it Whittle tensors and models.
import { availableParallelism } from 'node:os';
import * as ort from 'onnxruntime-node';
import { WhittleError } from '../ir/errors.js';
import type { Model } from '../ir/graph.js';
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
  /** Intra-op threads; default: all cores (`web`: one WebAssembly thread, as in a page without cross-origin isolation). */
  threads?: number;
  optimization?: 'disabled' | 'basic' | 'extended' | 'all';
  /** Default `node`. */
  backend?: Backend;
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

function toOrt(t: Tensor): ort.Tensor {
  if (t.dtype === 'bfloat16') throw new WhittleError('RUNTIME', 'onnxruntime-node cannot take bfloat16 tensors as inputs; Cast them to float32 in the graph');
  return new ort.Tensor(ORT_TYPE[t.dtype], t.data as never, t.dims as number[]);
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
    const bytes = model instanceof Uint8Array ? model : encodeModel(model);
    const threads = options.threads ?? defaultThreads();
    const api = options.backend === 'web' ? await loadWeb() : ort;
    try {
      const inner = await api.InferenceSession.create(bytes, {
        intraOpNumThreads: threads,
        interOpNumThreads: 1,
        graphOptimizationLevel: options.optimization ?? 'all',
        executionMode: 'sequential',
        // ORT's own log repeats each failure in colour over several lines; the thrown error carries it as one WhittleError line.
        logSeverityLevel: 4,
        ...(options.backend === 'web' ? { executionProviders: ['wasm'] } : {}),
      });
      return new Session(inner);
    } catch (e) {
      throw new WhittleError('RUNTIME', `onnxruntime${options.backend === 'web' ? '-web' : ''} could not load the graph: ${(e as Error).message}`, {
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
      throw new WhittleError('RUNTIME', `onnxruntime failed to run the graph: ${(e as Error).message}`, { cause: e });
    }
    const result: Record<string, Tensor> = {};
    for (const [k, v] of Object.entries(out)) result[k] = fromOrt(v as ort.Tensor);
    return result;
  }

  async release(): Promise<void> {
    await this.#inner.release();
  }
}

/**
 * Caches one session per (graph bytes, options): transforms that keep the graph reuse it, any
 * change of graph builds a new one.
 */
export class SessionCache {
  #sessions = new Map<string, Promise<Session>>();

  get(key: string, build: () => Model, options: SessionOptions = {}): Promise<Session> {
    const k = `${key}|${options.threads ?? ''}|${options.optimization ?? ''}|${options.backend ?? 'node'}`;
    let s = this.#sessions.get(k);
    if (s === undefined) {
      s = Session.create(build(), options);
      this.#sessions.set(k, s);
    }
    return s;
  }

  async clear(): Promise<void> {
    const all = [...this.#sessions.values()];
    this.#sessions.clear();
    for (const s of all) await (await s).release();
  }
}
