// Checks a command's run log as written on disk: it opens with that command's "run" line, holds
// exactly the expected line kinds, and `whittle report` reads it.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import type { RunData } from '../../src/report/index.js';
import { readRunLog } from '../../src/report/index.js';

/** Asserts the log at `path` was written by `command` with exactly the line kinds `kinds`; returns it parsed. */
export function assertRunLog(path: string, command: string, kinds: readonly ('epoch' | 'stage' | 'trial' | 'result')[]): RunData {
  assert.ok(existsSync(path), `${command} wrote its run log ${path}`);
  const lines = readFileSync(path, 'utf8')
    .trimEnd()
    .split('\n')
    .map((l) => JSON.parse(l) as { type: string; command?: string });
  assert.deepEqual([lines[0]?.type, lines[0]?.command], ['run', command], `${path} opens with the run line`);
  assert.deepEqual([...new Set(lines.slice(1).map((l) => l.type))].sort(), [...kinds].sort(), `${path}: line kinds`);
  const run = readRunLog(path);
  assert.equal(run.command, command);
  return run;
}
