// Trials in parallel on this machine: a pool of worker processes, each running one trial at a
// time. A worker that dies mid-trial is replaced and its trial retried.
import type { ChildProcess } from 'node:child_process';
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { WhittleError } from '../ir/errors.js';
import type { TrialResult, TrialTask } from './types.js';

/** Runs trials somewhere (this process, local workers, a queue) and reports each as it ends. */
export interface TrialRunner {
  /** Workers that run trials at once. */
  readonly parallel: number;
  run(tasks: readonly TrialTask[], onResult?: (r: TrialResult) => void): Promise<TrialResult[]>;
  close(): Promise<void>;
}

type Reply = { key: string; result: TrialResult } | { key: string; error: { message: string; code?: string } };

const WORKER_ENTRY = fileURLToPath(new URL('./worker-process.js', import.meta.url));
const MAX_ATTEMPTS = 3;

/**
 * A pool of `size` worker processes.
 *
 * ```ts
 * const pool = new LocalPool(2);
 * const results = await pool.run(tasks);
 * await pool.close();
 * ```
 */
export class LocalPool implements TrialRunner {
  readonly parallel: number;
  #idle: ChildProcess[] = [];
  #all = new Set<ChildProcess>();
  #closed = false;

  constructor(size: number) {
    if (!(Number.isInteger(size) && size >= 1)) throw new WhittleError('BAD_ARGUMENT', `a trial pool needs at least one worker, got ${size}`);
    this.parallel = size;
  }

  #spawn(): ChildProcess {
    const child = fork(WORKER_ENTRY, [], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
    this.#all.add(child);
    child.on('exit', () => {
      this.#all.delete(child);
      this.#idle = this.#idle.filter((c) => c !== child);
    });
    return child;
  }

  #runOne(task: TrialTask, attempt = 1): Promise<TrialResult> {
    const child = this.#idle.pop() ?? this.#spawn();
    return new Promise<TrialResult>((resolve, reject) => {
      const onMessage = (m: Reply): void => {
        if (m.key !== task.key) return;
        child.off('message', onMessage);
        child.off('exit', onExit);
        this.#idle.push(child);
        if ('result' in m) resolve(m.result);
        else reject(new WhittleError('RUNTIME', `trial ${task.key} failed: ${m.error.message}`));
      };
      const onExit = (code: number | null, signal: string | null): void => {
        child.off('message', onMessage);
        if (this.#closed) reject(new WhittleError('RUNTIME', 'the trial pool was closed while a trial ran'));
        // The worker died (killed, out of memory): the trial is retried on a fresh one.
        else if (attempt >= MAX_ATTEMPTS)
          reject(new WhittleError('RUNTIME', `trial ${task.key}: its worker died ${attempt} times (last: ${signal ?? `exit ${code}`})`));
        else this.#runOne(task, attempt + 1).then(resolve, reject);
      };
      child.on('message', onMessage);
      child.once('exit', onExit);
      child.send(task);
    });
  }

  async run(tasks: readonly TrialTask[], onResult?: (r: TrialResult) => void): Promise<TrialResult[]> {
    const results = new Array<TrialResult>(tasks.length);
    let next = 0;
    const lane = async (): Promise<void> => {
      while (next < tasks.length) {
        const i = next++;
        const r = await this.#runOne(tasks[i] as TrialTask);
        results[i] = r;
        onResult?.(r);
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.parallel, tasks.length) }, lane));
    return results;
  }

  /** Child process ids (tests kill one to check that its trial is retried). */
  pids(): number[] {
    return [...this.#all].map((c) => c.pid ?? -1);
  }

  async close(): Promise<void> {
    this.#closed = true;
    const exits = [...this.#all].map((c) => new Promise<void>((r) => (c.exitCode !== null ? r() : c.once('exit', () => r()))));
    for (const c of this.#all) c.kill();
    await Promise.all(exits);
  }
}
