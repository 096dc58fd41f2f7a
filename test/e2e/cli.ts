// Helpers for the CLI end-to-end tests: run the compiled CLI as a user would.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const CLI = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
  json: Record<string, unknown> | undefined;
}

function parse(code: number | null, stdout: string, stderr: string): CliResult {
  let json: Record<string, unknown> | undefined;
  const trimmed = stdout.trim();
  if (trimmed.startsWith('{')) json = JSON.parse(trimmed) as Record<string, unknown>;
  return { code, stdout, stderr, json };
}

/**
 * The general training settings (batch 64, momentum, lr 0.05, x/255, no label smoothing), before the MLP family got its
 * own defaults (src/train/defaults.ts): tests whose accuracy floors were set on models trained
 * this way pin them.
 */
export const GENERAL_TRAINING = ['--batch', '64', '--optimizer', 'momentum', '--lr', '0.05', '--normalize', 'x/255', '--label-smoothing', '0'];

export function whittle(args: string[], options: { timeoutMs?: number } = {}): CliResult {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: options.timeoutMs ?? 300_000 });
  return parse(r.status, r.stdout, r.stderr);
}

/** Starts the CLI in the background; resolves when it exits. */
export function whittleAsync(args: string[]): { child: ReturnType<typeof spawn>; done: Promise<CliResult> } {
  const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const done = new Promise<CliResult>((resolve) => child.on('close', (code) => resolve(parse(code, stdout, stderr))));
  return { child, done };
}

const made: string[] = [];
// Each test file runs in its own process: its temporary directories go when it exits.
process.on('exit', () => {
  for (const dir of made) rmSync(dir, { recursive: true, force: true });
});

export function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'whittle-e2e-'));
  made.push(dir);
  return dir;
}
