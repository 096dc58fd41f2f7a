// Output paths checked before any work starts: no output may land on an input (real paths, links
// resolved), a missing output folder is created (as `mkdir -p`), an unwritable one refused; and
// one lock per output, so two runs never write the same file.
import {
  accessSync,
  closeSync,
  constants,
  existsSync,
  lstatSync,
  mkdirSync,
  rmdirSync,
  openSync,
  readFileSync,
  readlinkSync,
  realpathSync,
  rmSync,
  statSync,
} from 'node:fs';
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { WhittleError } from './errors.js';
import { writeAll } from './io.js';

/** One path a command reads or writes, with the name the user knows it by (a flag, say). */
export interface NamedPath {
  path: string;
  /** How the message names it: '--out', 'the checkpoint (OUT.ckpt)', ... */
  what: string;
}

export interface PathPlan {
  /** Files or folders the command reads; paths that do not exist are skipped (zoo names). */
  inputs: readonly NamedPath[];
  /** Files the command may write (outputs, checkpoints, logs, side files). */
  outputs: readonly NamedPath[];
  /** Folders the command writes into (created when missing). */
  outputDirs?: readonly NamedPath[];
}

/** The real path of `p`, also when `p` (or its folders) do not exist yet: links resolved as far as they exist. */
export function realPathOf(p: string, depth = 0): string {
  const abs = resolve(p);
  try {
    return realpathSync(abs);
  } catch {
    // A dangling link: writing through it creates its target, so the target is the path.
    try {
      if (depth < 32 && lstatSync(abs).isSymbolicLink()) return realPathOf(resolve(dirname(abs), readlinkSync(abs)), depth + 1);
    } catch {
      // not a link: fall through to the parent
    }
    const parent = dirname(abs);
    return parent === abs ? abs : join(realPathOf(parent, depth + 1), basename(abs));
  }
}

function inside(dir: string, p: string): boolean {
  const r = relative(dir, p);
  return r !== '' && r !== '..' && !r.startsWith(`..${sep}`) && !isAbsolute(r);
}

/** The nearest folder of `p` that exists (p itself when it is one). */
function existingFolder(p: string): string {
  let d = resolve(p);
  while (!existsSync(d)) {
    const up = dirname(d);
    if (up === d) break;
    d = up;
  }
  return d;
}

function checkWritableFolder(dir: string, what: string): void {
  const have = existingFolder(dir);
  if (!statSync(have).isDirectory()) throw new WhittleError('BAD_ARGUMENT', `${what}: ${have} is a file, not a folder; choose an output path in a folder`);
  try {
    accessSync(have, constants.W_OK | constants.X_OK);
  } catch {
    throw new WhittleError('IO', `${what}: the folder ${have} is not writable; choose an output path you can write to`);
  }
}

/**
 * Checks every output against every input before any work starts, creates missing output
 * folders, and refuses unwritable ones. Throws BAD_ARGUMENT when an output would overwrite an
 * input (also through a symbolic link or a second name for the same file).
 *
 * ```ts
 * preparePaths({ inputs: [{ path: 'in.onnx', what: '--model' }], outputs: [{ path: 'runs/out.onnx', what: '--out' }] });
 * ```
 */
export function preparePaths(plan: PathPlan): void {
  const inputs = plan.inputs.filter((i) => existsSync(i.path)).map((i) => ({ ...i, real: realPathOf(i.path), dir: statSync(i.path).isDirectory() }));
  const clash = (out: NamedPath, real: string): void => {
    for (const i of inputs) {
      if (real === i.real)
        throw new WhittleError(
          'BAD_ARGUMENT',
          `${out.what} ${out.path} is the input ${i.what} ${i.path}; Whittle never overwrites its input, choose another output path`,
        );
      if (i.dir && inside(i.real, real) && existsSync(real) && statSync(real).isFile())
        throw new WhittleError(
          'BAD_ARGUMENT',
          `${out.what} ${out.path} would overwrite a file of the input ${i.what} ${i.path}; choose an output path outside the input folder`,
        );
    }
  };
  const seen = new Map<string, NamedPath>();
  for (const out of plan.outputs) {
    const real = realPathOf(out.path);
    clash(out, real);
    if (existsSync(real) && statSync(real).isDirectory()) throw new WhittleError('BAD_ARGUMENT', `${out.what} ${out.path} is a folder; pass a file path`);
    const other = seen.get(real);
    if (other !== undefined && other.what !== out.what)
      throw new WhittleError('BAD_ARGUMENT', `${out.what} ${out.path} and ${other.what} ${other.path} are the same file; give them different paths`);
    seen.set(real, out);
  }
  for (const d of plan.outputDirs ?? []) {
    const real = realPathOf(d.path);
    for (const i of inputs)
      if (real === i.real) throw new WhittleError('BAD_ARGUMENT', `${d.what} ${d.path} is the input ${i.what} ${i.path}; choose another output folder`);
    if (existsSync(real) && !statSync(real).isDirectory())
      throw new WhittleError('BAD_ARGUMENT', `${d.what} ${d.path} is a file; pass a folder (it is created if missing)`);
  }
  // Only once every check passed: create folders, so a refused command leaves nothing behind.
  for (const out of plan.outputs) checkWritableFolder(dirname(resolve(out.path)), `${out.what} ${out.path}`);
  for (const d of plan.outputDirs ?? []) checkWritableFolder(d.path, `${d.what} ${d.path}`);
  try {
    for (const out of plan.outputs) makeFolder(dirname(resolve(out.path)));
    for (const d of plan.outputDirs ?? []) makeFolder(resolve(d.path));
  } catch (e) {
    throw new WhittleError('IO', `cannot create the output folder: ${(e as Error).message}; choose an output path you can write to`, { cause: e });
  }
}

const held = new Set<string>();
/** Folders this process created, deepest last: removed at exit when they are still empty. */
const created: string[] = [];
let exitHook = false;

function releaseAtExit(): void {
  if (exitHook) return;
  exitHook = true;
  process.on('exit', () => {
    for (const l of held) rmSync(l, { force: true });
    // A command that failed before writing leaves no empty output folder behind.
    for (const d of [...created].reverse()) {
      try {
        rmdirSync(d);
      } catch {
        // not empty (the command wrote into it) or already gone
      }
    }
  });
}

/** mkdir -p that remembers the folders it made, so an empty one can be removed at exit. */
function makeFolder(dir: string): void {
  const first = mkdirSync(dir, { recursive: true });
  if (first === undefined) return;
  const chain: string[] = [];
  for (let d = dir; ; d = dirname(d)) {
    chain.unshift(d);
    if (d === first || dirname(d) === d) break;
  }
  created.push(...chain);
  releaseAtExit();
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Takes the lock `<path>.lock` for the rest of the process: a second run writing the same output
 * is refused while the first lives. A lock left by a killed run (its process gone) is taken over.
 *
 * ```ts
 * lockOutput('runs/model.onnx.ckpt'); // released when the process exits
 * ```
 */
export function lockOutput(path: string, what = 'output'): void {
  const lock = `${realPathOf(path)}.lock`;
  if (held.has(lock)) return;
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(lock, 'wx');
      try {
        writeAll(fd, new TextEncoder().encode(`${process.pid}\n`));
      } finally {
        closeSync(fd);
      }
      held.add(lock);
      releaseAtExit();
      return;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST')
        throw new WhittleError('IO', `cannot create the lock ${lock}: ${(e as Error).message}; choose an output path you can write to`, { cause: e });
      const pid = Number.parseInt(readFileSync(lock, 'utf8'), 10);
      if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && alive(pid))
        throw new WhittleError(
          'BAD_ARGUMENT',
          `${what} ${path} is being written by another whittle run (process ${pid}, lock ${lock}); wait for it to finish or choose another output path`,
        );
      // The run that held it is gone (killed): its lock is stale.
      rmSync(lock, { force: true });
    }
  }
  throw new WhittleError('IO', `cannot take the lock ${lock}; remove it if no whittle run is writing ${path}`);
}
