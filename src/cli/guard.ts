// Before any command runs: every path it will write (--out, checkpoints, logs, reports, side
// files) checked against every path it reads, missing output folders created, unwritable ones
// refused, and each output locked against a second run. One hook sees every command's flags.
import { join } from 'node:path';
import type { Command } from 'commander';
import type { NamedPath } from '../ir/paths.js';
import { lockOutput, preparePaths } from '../ir/paths.js';

/** Flags whose value is a path the command reads. */
const INPUT_FLAGS: Record<string, string> = {
  model: '--model',
  teacher: '--teacher',
  student: '--student',
  reference: '--reference',
  data: '--data',
  valData: '--val-data',
  evalData: '--eval-data',
  calibData: '--calib-data',
  recipe: '--recipe',
};

/** Commands whose --out is a folder, and the files they write in it. */
const OUT_DIR_FILES: Record<string, readonly string[]> = {
  compress: ['model.wtl', 'model.onnx', 'log.jsonl'],
  optimize: ['model.wtl', 'model.onnx', 'front.json', 'result.json', 'journal.jsonl', 'log.jsonl'],
};

type Flags = Record<string, unknown>;

const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);

/** The inputs, outputs and output folders of one command invocation. */
export function commandPaths(
  command: string,
  flags: Flags,
  args: readonly string[],
): { inputs: NamedPath[]; outputs: NamedPath[]; outputDirs: NamedPath[]; locks: NamedPath[] } {
  const inputs: NamedPath[] = [];
  for (const [key, what] of Object.entries(INPUT_FLAGS)) {
    const v = flags[key];
    for (const p of Array.isArray(v) ? v : [v]) {
      const s = str(p);
      if (s !== undefined) inputs.push({ path: s, what });
    }
  }
  // report's run logs, and any other positional file arguments.
  for (const a of args) inputs.push({ path: a, what: 'the input' });
  const outputs: NamedPath[] = [];
  const outputDirs: NamedPath[] = [];
  const locks: NamedPath[] = [];
  const out = str(flags['out']);
  const dirFiles = OUT_DIR_FILES[command];
  if (out !== undefined && dirFiles !== undefined) {
    outputDirs.push({ path: out, what: '--out' });
    for (const f of dirFiles) outputs.push({ path: join(out, f), what: `--out ${out}/${f}` });
    locks.push({ path: join(out, dirFiles[0] as string), what: '--out' });
  } else if (out !== undefined) {
    outputs.push({ path: out, what: '--out' }, { path: `${out}.data`, what: 'the external data of --out (OUT.data)' });
    locks.push({ path: out, what: '--out' });
  }
  const checkpoint = str(flags['checkpoint']) ?? (command === 'train' && out !== undefined ? `${out}.ckpt` : undefined);
  if (checkpoint !== undefined) {
    outputs.push({ path: checkpoint, what: flags['checkpoint'] === undefined ? 'the checkpoint (OUT.ckpt)' : '--checkpoint' });
    locks.push({ path: checkpoint, what: 'the checkpoint' });
  }
  const log = str(flags['log']) ?? (out !== undefined && 'log' in flags ? (dirFiles !== undefined ? undefined : `${out}.log.jsonl`) : undefined);
  if (log !== undefined) outputs.push({ path: log, what: flags['log'] === undefined ? 'the run log (OUT.log.jsonl)' : '--log' });
  for (const [key, what] of [
    ['report', '--report'],
    ['compressOut', '--compress-out'],
    ['web', '--web'],
  ] as const) {
    const v = str(flags[key]);
    if (v === undefined) continue;
    if (key === 'report') outputs.push({ path: v, what });
    else outputDirs.push({ path: v, what });
  }
  if (command === 'demo' && out !== undefined) {
    if (flags['report'] === undefined) outputs.push({ path: `${out}.report.html`, what: 'the report (OUT.report.html)' });
    if (flags['compressOut'] === undefined) outputDirs.push({ path: `${out}.dc`, what: 'the Deep Compression folder (OUT.dc)' });
  }
  return { inputs, outputs, outputDirs, locks };
}

/**
 * Checks one command's paths and locks its outputs; called before the command's action runs.
 *
 * ```ts
 * program.hook('preAction', (_, cmd) => guardPaths(cmd));
 * ```
 */
export function guardPaths(cmd: Command): void {
  const { inputs, outputs, outputDirs, locks } = commandPaths(cmd.name(), cmd.opts(), cmd.args);
  preparePaths({ inputs, outputs, outputDirs });
  for (const l of locks) lockOutput(l.path, l.what);
}
