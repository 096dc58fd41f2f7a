// The --log flag of the training-like commands: where the run log goes, and opening it.
import { join } from 'node:path';
import type { Command } from 'commander';
import type { RunLog } from '../train/run-log.js';
import { openRunLog } from '../train/run-log.js';

/** Adds `--log FILE` to a command. */
export function addLogFlag(cmd: Command): Command {
  return cmd.option(
    '--log <file.jsonl|file.csv>',
    'run log: one line per epoch/stage, written as the run goes (default: OUT.log.jsonl beside --out, DIR/log.jsonl for a directory; .csv for CSV)',
  );
}

/**
 * The run log a command writes: `--log` if given, else beside `--out` (inside it when `--out` is a
 * directory), else none.
 *
 * ```ts
 * resolveLogPath(undefined, 'm.onnx'); // 'm.onnx.log.jsonl'
 * resolveLogPath(undefined, 'dc', true); // 'dc/log.jsonl'
 * ```
 */
export function resolveLogPath(flag: string | undefined, out: string | undefined, outIsDir = false): string | undefined {
  if (flag !== undefined) return flag;
  if (out === undefined) return undefined;
  return outIsDir ? join(out, 'log.jsonl') : `${out}.log.jsonl`;
}

/** Opens the log at `path` (none when undefined) and says where it goes on stderr. */
export function openCommandLog(path: string | undefined, command: string, model: string | undefined, options: { append?: boolean } = {}): RunLog | undefined {
  if (path === undefined) return undefined;
  const log = openRunLog(path, { command, model, append: options.append });
  process.stderr.write(`${command}: run log ${path}\n`);
  return log;
}
