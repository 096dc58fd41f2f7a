// Run logs: one line per epoch, stage, search trial or result, appended to a JSONL (or CSV) file as the run goes,
// so a run killed halfway keeps every metric it reached. `whittle report` draws them.
// Unlike model outputs these files are not written atomically: each line is one write(2) on an
// open descriptor, which a kill cannot undo; a temp-file-and-rename would lose the whole run.
import { closeSync, mkdirSync, openSync, rmSync } from 'node:fs';
import { dirname } from 'node:path';
import { WhittleError } from '../ir/errors.js';
import { writeAll } from '../ir/io.js';
import type { EpochRecord, ProgressEvent } from './trainer.js';

/** The lines of a run log; `whittle report` reads exactly these. */
export type RunLogLine =
  | { type: 'run'; command: string; model?: string; time: string }
  /** One training epoch; `phase` names the training run within the command ('train', 'fine-tune', 'prune', ...). */
  | ({ type: 'epoch'; phase: string } & EpochRecord)
  /** A pipeline stage's test accuracy (Deep Compression: baseline, pruned, quantized, centroids). */
  | { type: 'stage'; stage: string; accuracy: number; seconds: number }
  /** One finished `optimize` trial: validation accuracy, file bytes and latency of a candidate (`layers`: its per-layer policy). */
  | {
      type: 'trial';
      trial: number;
      origin: string;
      valAccuracy: number;
      bytes: number;
      latencyMs: number;
      flops: number;
      feasible: boolean;
      lr: number;
      layers: Record<string, unknown>;
    }
  /** The command's final result: the object `--json` prints. */
  | { type: 'result'; result: Record<string, unknown> };

/** CSV columns: flat lines only (a result line is JSON-only). */
export const CSV_COLUMNS = [
  'type',
  'phase',
  'stage',
  'epoch',
  'loss',
  'trainAccuracy',
  'valLoss',
  'valAccuracy',
  'accuracy',
  'lr',
  'seconds',
  'samplesPerSec',
  'trial',
  'origin',
  'bytes',
  'latencyMs',
  'flops',
  'feasible',
  'command',
  'model',
  'time',
] as const;

function csvCell(v: unknown): string {
  if (v === undefined || v === null) return '';
  const s = String(v);
  return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** An open run log; every `write` reaches the file before it returns. */
export class RunLog {
  readonly path: string;
  readonly format: 'jsonl' | 'csv';
  #fd: number | undefined;
  #append: boolean;
  /** Lines other than the opening 'run' line. */
  #written = 0;

  constructor(path: string, options: { append?: boolean } = {}) {
    this.path = path;
    this.format = path.toLowerCase().endsWith('.csv') ? 'csv' : 'jsonl';
    this.#append = options.append === true;
    try {
      mkdirSync(dirname(path), { recursive: true });
      this.#fd = openSync(path, options.append ? 'a' : 'w');
    } catch (e) {
      throw new WhittleError('IO', `cannot open the run log ${path}: ${(e as Error).message}; pass a writable path`, { cause: e });
    }
    if (this.format === 'csv' && !options.append) this.#raw(`${CSV_COLUMNS.join(',')}\n`);
  }

  #raw(text: string): void {
    if (this.#fd === undefined) return;
    writeAll(this.#fd, new TextEncoder().encode(text));
  }

  /** Appends one line (a result line is skipped in CSV, which has no place for nested values). */
  write(line: RunLogLine): void {
    if (line.type !== 'run') this.#written++;
    if (this.format === 'jsonl') this.#raw(`${JSON.stringify(line)}\n`);
    else if (line.type !== 'result') {
      const flat = line as Record<string, unknown>;
      this.#raw(`${CSV_COLUMNS.map((c) => csvCell(flat[c])).join(',')}\n`);
    }
  }

  /** Closes the file; a new log that got no line past the opening one (the command failed before its first epoch) is removed. */
  close(): void {
    if (this.#fd === undefined) return;
    closeSync(this.#fd);
    this.#fd = undefined;
    if (this.#written === 0 && !this.#append) rmSync(this.path, { force: true });
  }
}

/**
 * Opens a run log and writes its first line.
 *
 * ```ts
 * const log = openRunLog('out.log.jsonl', { command: 'train', model: 'lenet-5' });
 * await train(model, data, { ...options, onProgress: logEpochs(log, 'train', reporter) });
 * log.close();
 * ```
 */
export function openRunLog(path: string, run: { command: string; model?: string; append?: boolean }): RunLog {
  const log = new RunLog(path, { append: run.append });
  log.write({ type: 'run', command: run.command, model: run.model, time: new Date().toISOString() });
  return log;
}

/**
 * A trainer `onProgress` that logs each epoch under `phase`, then passes every event on to `next`
 * (the human progress reporter). With no log it is `next` itself.
 *
 * ```ts
 * const onProgress = logEpochs(log, 'fine-tune', createReporter({ label: 'fine-tune' }));
 * ```
 */
export function logEpochs(log: RunLog | undefined, phase: string, next: (e: ProgressEvent) => void): (e: ProgressEvent) => void;
export function logEpochs(log: RunLog | undefined, phase: string, next?: (e: ProgressEvent) => void): ((e: ProgressEvent) => void) | undefined;
export function logEpochs(log: RunLog | undefined, phase: string, next?: (e: ProgressEvent) => void): ((e: ProgressEvent) => void) | undefined {
  if (log === undefined) return next;
  return (e: ProgressEvent) => {
    if (e.type === 'epoch') log.write({ type: 'epoch', phase, ...e.record });
    next?.(e);
  };
}
