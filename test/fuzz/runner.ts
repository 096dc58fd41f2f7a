// Runs fuzz cases through the real CLI, one process each, and judges every run: a crash (signal or
// an exit status other than 0/1/2), a stack trace or "internal error", a hang past the time limit,
// peak memory past the limit, a partial or unreadable output (or a temporary/lock file left
// behind), or a modified input fails the case.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { decodeModel } from '../../src/ir/onnx.js';
import type { FuzzCase } from './cases.js';

const CLI = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const TIME = '/usr/bin/time';

export interface RunLimits {
  /** A case that spends more CPU time (user + sys) than this hangs. */
  timeoutMs: number;
  maxRssMb: number;
  /**
   * Wall-clock limit, past which the case is killed (default 4 × timeoutMs): on a loaded machine
   * wall time says little, so a case killed here is run again alone before it counts as a hang.
   */
  wallMs?: number;
}

export interface CaseResult {
  case: FuzzCase;
  code: number | null;
  signal: string | null;
  ms: number;
  /** Peak resident memory of the whittle process (MB), when /usr/bin/time could measure it. */
  rssMb: number | undefined;
  /** CPU seconds (user + sys) of the whittle process, when /usr/bin/time could measure it. */
  cpuS: number | undefined;
  /** Killed at the wall-clock limit (before it is judged again alone). */
  killed: boolean;
  failures: string[];
  stderr: string;
}

function hashTree(dir: string, skip: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (d: string, rel: string): void => {
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      const r = rel === '' ? name : `${rel}/${name}`;
      if (r === skip) continue;
      if (statSync(p).isDirectory()) walk(p, r);
      else out.set(r, createHash('sha256').update(readFileSync(p)).digest('hex'));
    }
  };
  walk(dir, '');
  return out;
}

function leftovers(dir: string): string[] {
  const found: string[] = [];
  const walk = (d: string): void => {
    if (!existsSync(d)) return;
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      if (statSync(p).isDirectory()) walk(p);
      else if (/\.tmp$|\.lock$/.test(name)) found.push(name);
    }
  };
  walk(dir);
  return found;
}

/** Runs one case in a fresh folder (removed afterwards unless it failed and `keep` is set). */
export async function runCase(c: FuzzCase, limits: RunLimits, keep = false): Promise<CaseResult> {
  const dir = mkdtempSync(join(tmpdir(), `whittle-fuzz-${c.id}-`));
  for (const [name, bytes] of c.files) {
    mkdirSync(dirname(join(dir, name)), { recursive: true });
    writeFileSync(join(dir, name), bytes);
  }
  const before = hashTree(dir, 'out');
  const useTime = existsSync(TIME);
  const [cmd, args] = useTime
    ? [TIME, ['-f', '\nWHITTLE_FUZZ_CPU_S %U %S\nWHITTLE_FUZZ_MAXRSS_KB %M', process.execPath, CLI, ...c.args]]
    : [process.execPath, [CLI, ...c.args]];
  const t0 = performance.now();
  const child = spawn(cmd, args, {
    cwd: dir,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, NODE_OPTIONS: '', FORCE_COLOR: '0' },
  });
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  let timedOut = false;
  const timer = setTimeout(
    () => {
      timedOut = true;
      // The whole process group: /usr/bin/time and whittle under it.
      if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
    },
    limits.wallMs ?? 4 * limits.timeoutMs,
  );
  const { code, signal } = await new Promise<{ code: number | null; signal: string | null }>((resolve) =>
    child.on('close', (code, signal) => resolve({ code, signal })),
  );
  clearTimeout(timer);
  const ms = performance.now() - t0;
  let exit = code;
  let rssMb: number | undefined;
  let cpuS: number | undefined;
  const m = /\nWHITTLE_FUZZ_CPU_S ([\d.]+) ([\d.]+)\nWHITTLE_FUZZ_MAXRSS_KB (\d+)\s*$/.exec(stderr);
  if (m !== null) {
    cpuS = Number(m[1]) + Number(m[2]);
    rssMb = Number(m[3]) / 1024;
    stderr = stderr.slice(0, m.index);
  }
  // GNU time reports a signalled child as "Command terminated by signal N" and exits 128+N.
  const sig = /Command terminated by signal (\d+)/.exec(stderr);
  const failures: string[] = [];
  if (timedOut) failures.push(`hang: no exit within ${(limits.wallMs ?? 4 * limits.timeoutMs) / 1000} s of wall time`);
  else if (cpuS !== undefined && cpuS > limits.timeoutMs / 1000) failures.push(`hang: ${cpuS.toFixed(1)} s of CPU time > ${limits.timeoutMs / 1000} s`);
  else if (signal !== null || sig !== null) failures.push(`crash: killed by signal ${signal ?? sig?.[1]}`);
  else if (exit !== 0 && exit !== 1 && exit !== 2) failures.push(`crash: exit status ${exit}`);
  if (/^\s+at .*:\d+:\d+\)?$/m.test(stderr) || /internal error/i.test(stderr)) failures.push('stack trace / internal error');
  if (rssMb !== undefined && rssMb > limits.maxRssMb) failures.push(`memory: peak ${rssMb.toFixed(0)} MB > ${limits.maxRssMb} MB`);
  if (!timedOut) {
    const after = hashTree(dir, 'out');
    for (const [name, h] of before) if (after.get(name) !== h) failures.push(`modified input: ${name}`);
    const left = leftovers(dir);
    if (left.length > 0) failures.push(`left behind: ${left.join(', ')}`);
    for (const o of c.outputs) {
      const p = join(dir, o);
      if (!existsSync(p)) continue;
      if (exit !== 0) failures.push(`partial output: ${o} exists after exit ${exit}`);
      else if (o.endsWith('.onnx')) {
        try {
          decodeModel(readFileSync(p), o);
        } catch (e) {
          failures.push(`unreadable output ${o}: ${(e as Error).message}`);
        }
      }
    }
    if (exit === 0 && c.args.includes('--json')) {
      try {
        JSON.parse(stdout);
      } catch {
        failures.push('exit 0 without one JSON object on stdout');
      }
    }
    if (exit !== 0 && !/whittle: error \[[A-Z_]+\]/.test(stderr) && !/error: /.test(stderr)) failures.push('failed without a named error');
  }
  exit ??= -1;
  if (failures.length === 0 || !keep) rmSync(dir, { recursive: true, force: true });
  else writeFileSync(join(dir, 'FUZZ-CASE.txt'), `${c.id} ${c.kind} ${c.mutation}\nwhittle ${c.args.join(' ')}\n${failures.join('\n')}\n\n${stderr}`);
  return { case: c, code: exit, signal, ms, rssMb, cpuS, killed: timedOut, failures, stderr };
}

/**
 * Runs cases with `jobs` at a time; `onResult` sees each as it ends. A case killed at the
 * wall-clock limit (a loaded machine, or several heavy cases at once) runs again alone at the end,
 * and only its second result counts.
 */
export async function runCases(
  cases: readonly FuzzCase[],
  limits: RunLimits,
  jobs: number,
  onResult?: (r: CaseResult) => void,
  keep = false,
  deadline = Number.POSITIVE_INFINITY,
): Promise<CaseResult[]> {
  const results: CaseResult[] = [];
  const again: FuzzCase[] = [];
  let next = 0;
  const worker = async (): Promise<void> => {
    // Past the deadline no case starts; those running finish.
    while (next < cases.length && Date.now() < deadline) {
      const c = cases[next++] as FuzzCase;
      const r = await runCase(c, limits, keep);
      if (r.killed) {
        again.push(c);
        continue;
      }
      results.push(r);
      onResult?.(r);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, jobs) }, worker));
  for (const c of again) {
    const r = await runCase(c, limits, keep);
    results.push(r);
    onResult?.(r);
  }
  return results;
}
