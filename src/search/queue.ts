// Trials across machines: the search puts each trial on a BullMQ queue on Redis, and any number of
// `whittle worker --queue redis://…` processes run them. The input model travels through Redis
// (stored once under its hash); results come back as the jobs' return values. A trial runs in a
// sandboxed child process, so the worker's own event loop keeps renewing the job's lock; a worker
// killed mid-trial stops renewing it, the job stalls and another worker retries it.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Queue, QueueEvents, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { WhittleError } from '../ir/errors.js';
import type { TrialRunner } from './pool.js';
import type { TrialResult, TrialTask } from './types.js';
import { WHITTLE_VERSION } from './version.js';

/** The queue of this Whittle version (a worker of another version never sees its trials). */
export const QUEUE_NAME = `whittle-trials-${WHITTLE_VERSION.replace(/[^0-9A-Za-z]/g, '_')}`;
/** Redis key holding the version of the searches using this Redis. */
export const VERSION_KEY = 'whittle:search-version';
const BLOB_PREFIX = 'whittle:model:';
const PROCESSOR = fileURLToPath(new URL('./queue-processor.js', import.meta.url));

/** How long a worker holds a trial without renewing its lock before the trial is retried elsewhere. */
export const LOCK_MS = 10_000;

function parseUrl(url: string): URL {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new WhittleError('BAD_ARGUMENT', `queue "${url}" is not a URL; pass redis://host:port`);
  }
  if (u.protocol !== 'redis:') throw new WhittleError('BAD_ARGUMENT', `queue "${url}" is not a redis:// URL; pass redis://host:port`);
  return u;
}

/** A connection for BullMQ (no retry limit per request, as it requires). */
function connection(url: string): Redis {
  return new Redis(url, { maxRetriesPerRequest: null, enableReadyCheck: true });
}

/** Connects once without retrying: an unreachable Redis is one clear error. */
export async function checkRedis(url: string): Promise<void> {
  parseUrl(url);
  const probe = new Redis(url, { lazyConnect: true, connectTimeout: 3000, maxRetriesPerRequest: 0, retryStrategy: () => null });
  probe.on('error', () => {});
  try {
    await probe.connect();
    await probe.ping();
  } catch (e) {
    throw new WhittleError('RUNTIME', `cannot reach Redis at ${url} (${(e as Error).message}); start redis-server there or pass the right redis://host:port`, {
      cause: e,
    });
  } finally {
    probe.disconnect();
  }
}

/** Reads a model stored by `QueueRunner.storeModel`. */
export async function readBlob(url: string, key: string): Promise<Uint8Array> {
  const r = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 3 });
  r.on('error', () => {});
  try {
    await r.connect();
    const b = await r.getBuffer(`${BLOB_PREFIX}${key}`);
    if (b === null) throw new WhittleError('BAD_ARGUMENT', `the queue's Redis holds no model "${key}"; was the search started on another Redis?`);
    return new Uint8Array(b);
  } finally {
    r.disconnect();
  }
}

/**
 * The search's side: trials become jobs (job id = trial key, so a resumed search finds the
 * trials already done), results are awaited through queue events.
 *
 * ```ts
 * const runner = await QueueRunner.connect('redis://127.0.0.1:6379', { parallel: 2 });
 * ```
 */
export class QueueRunner implements TrialRunner {
  readonly parallel: number;
  readonly url: string;
  #queue: Queue;
  #events: QueueEvents;
  #conns: Redis[];

  private constructor(url: string, parallel: number, conns: Redis[]) {
    this.url = url;
    this.parallel = parallel;
    this.#conns = conns;
    this.#queue = new Queue(QUEUE_NAME, { connection: conns[0] as Redis });
    this.#events = new QueueEvents(QUEUE_NAME, { connection: conns[1] as Redis });
  }

  static async connect(url: string, o: { parallel: number }): Promise<QueueRunner> {
    await checkRedis(url);
    const conns = [connection(url), connection(url), connection(url)];
    for (const c of conns) c.on('error', () => {});
    await (conns[2] as Redis).set(VERSION_KEY, WHITTLE_VERSION);
    const r = new QueueRunner(url, o.parallel, conns);
    await r.#events.waitUntilReady();
    return r;
  }

  /** Stores the input model in Redis once; workers fetch it by this key. */
  async storeModel(path: string): Promise<{ blob: string }> {
    const bytes = readFileSync(path);
    const key = createHash('sha256').update(bytes).digest('hex').slice(0, 24);
    await (this.#conns[2] as Redis).set(`${BLOB_PREFIX}${key}`, bytes);
    return { blob: key };
  }

  async run(tasks: readonly TrialTask[], onResult?: (r: TrialResult) => void): Promise<TrialResult[]> {
    const jobs = await this.#queue.addBulk(
      tasks.map((t) => ({ name: 'trial', data: { ...t, queue: this.url }, opts: { jobId: t.key, attempts: 3, removeOnFail: true } })),
    );
    return Promise.all(
      jobs.map(async (job, i) => {
        const task = tasks[i] as TrialTask;
        let r: TrialResult;
        try {
          // A job finished before we listened (a resumed search) has its value already.
          const state = await job.getState();
          if (state === 'completed') r = (await this.#queue.getJob(task.key))?.returnvalue as TrialResult;
          else r = (await job.waitUntilFinished(this.#events)) as TrialResult;
        } catch (e) {
          throw new WhittleError('RUNTIME', `trial ${task.key} failed on a worker: ${(e as Error).message}`, { cause: e });
        }
        onResult?.(r);
        return r;
      }),
    );
  }

  async close(): Promise<void> {
    await this.#events.close();
    await this.#queue.close();
    for (const c of this.#conns) c.disconnect();
  }
}

/**
 * A worker: runs trials from the queue until stopped (SIGINT/SIGTERM). Refuses to start when
 * the searches on this Redis run another Whittle version.
 *
 * ```ts
 * await runQueueWorker('redis://127.0.0.1:6379', { concurrency: 1 });
 * ```
 */
export async function runQueueWorker(url: string, o: { concurrency: number; log?: (line: string) => void }): Promise<void> {
  await checkRedis(url);
  const conn = connection(url);
  conn.on('error', () => {});
  const theirs = await conn.get(VERSION_KEY);
  if (theirs !== null && theirs !== WHITTLE_VERSION) {
    conn.disconnect();
    throw new WhittleError(
      'BAD_ARGUMENT',
      `the searches on ${url} run Whittle ${theirs}, this worker runs ${WHITTLE_VERSION}; install the same version on both machines`,
    );
  }
  const worker = new Worker(QUEUE_NAME, PROCESSOR, {
    connection: conn,
    concurrency: o.concurrency,
    lockDuration: LOCK_MS,
    stalledInterval: LOCK_MS / 2,
    maxStalledCount: 3,
  });
  worker.on('completed', (job) => o.log?.(`worker: trial ${job.id} done`));
  worker.on('failed', (job, e) => o.log?.(`worker: trial ${job?.id ?? '?'} failed: ${e.message}`));
  worker.on('error', (e) => o.log?.(`worker: ${e.message}`));
  await worker.waitUntilReady();
  o.log?.(`worker: waiting for trials on ${url} (queue ${QUEUE_NAME}, pid ${process.pid})`);
  await new Promise<void>((resolve) => {
    const stop = (): void => {
      worker.close().then(resolve, resolve);
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  conn.disconnect();
}
