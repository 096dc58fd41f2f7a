// Reading run logs for the report: JSONL (one line per epoch/stage/trial/result), the CSV form, or one
// JSON object (what `--json` printed, saved to a file). Errors name the file and the line.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { WhittleError } from '../ir/errors.js';

export interface EpochPoint {
  phase: string;
  epoch: number;
  loss: number;
  trainAccuracy: number;
  valLoss?: number;
  valAccuracy?: number;
  lr?: number;
  seconds?: number;
}

export interface StagePoint {
  stage: string;
  accuracy: number;
  seconds?: number;
}

/** One finished `optimize` trial. */
export interface TrialPoint {
  trial: number;
  origin: string;
  valAccuracy: number;
  bytes: number;
  latencyMs: number;
  flops?: number;
  feasible?: boolean;
  lr?: number;
  layers?: Record<string, unknown>;
}

/** One run, as the report sees it. */
export interface RunData {
  path: string;
  command?: string;
  model?: string;
  time?: string;
  epochs: EpochPoint[];
  stages: StagePoint[];
  /** `optimize`'s trials in the order they finished (a resumed search's replayed trials once, the last line winning). */
  trials: TrialPoint[];
  /** The command's `--json` object, when the log holds one. */
  result?: Record<string, unknown>;
}

const isNum = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

function bad(path: string, line: number, what: string): WhittleError {
  return new WhittleError('BAD_DATA', `${path}:${line}: ${what}`);
}

function addLine(run: RunData, o: Record<string, unknown>, path: string, line: number): void {
  const type = o['type'];
  if (type === 'run') {
    run.command = typeof o['command'] === 'string' ? o['command'] : undefined;
    run.model = typeof o['model'] === 'string' ? o['model'] : undefined;
    run.time = typeof o['time'] === 'string' ? o['time'] : undefined;
  } else if (type === 'epoch') {
    for (const k of ['epoch', 'loss', 'trainAccuracy'])
      if (!isNum(o[k])) throw bad(path, line, `an epoch line needs a number "${k}", got ${JSON.stringify(o[k])}`);
    run.epochs.push({
      phase: typeof o['phase'] === 'string' && o['phase'] !== '' ? o['phase'] : 'train',
      epoch: o['epoch'] as number,
      loss: o['loss'] as number,
      trainAccuracy: o['trainAccuracy'] as number,
      valLoss: isNum(o['valLoss']) ? o['valLoss'] : undefined,
      valAccuracy: isNum(o['valAccuracy']) ? o['valAccuracy'] : undefined,
      lr: isNum(o['lr']) ? o['lr'] : undefined,
      seconds: isNum(o['seconds']) ? o['seconds'] : undefined,
    });
  } else if (type === 'stage') {
    if (typeof o['stage'] !== 'string' || !isNum(o['accuracy'])) throw bad(path, line, 'a stage line needs "stage" (text) and "accuracy" (a number)');
    run.stages.push({ stage: o['stage'], accuracy: o['accuracy'], seconds: isNum(o['seconds']) ? o['seconds'] : undefined });
  } else if (type === 'trial') {
    for (const k of ['trial', 'valAccuracy', 'bytes', 'latencyMs'])
      if (!isNum(o[k])) throw bad(path, line, `a trial line needs a number "${k}", got ${JSON.stringify(o[k])}`);
    const layers = o['layers'];
    const point: TrialPoint = {
      trial: o['trial'] as number,
      origin: typeof o['origin'] === 'string' ? o['origin'] : '',
      valAccuracy: o['valAccuracy'] as number,
      bytes: o['bytes'] as number,
      latencyMs: o['latencyMs'] as number,
      flops: isNum(o['flops']) ? o['flops'] : undefined,
      feasible: o['feasible'] === true || o['feasible'] === 'true' ? true : o['feasible'] === false || o['feasible'] === 'false' ? false : undefined,
      lr: isNum(o['lr']) ? o['lr'] : undefined,
      layers: typeof layers === 'object' && layers !== null && !Array.isArray(layers) ? (layers as Record<string, unknown>) : undefined,
    };
    const i = run.trials.findIndex((t) => t.trial === point.trial);
    if (i >= 0) run.trials[i] = point;
    else run.trials.push(point);
  } else if (type === 'result') {
    const r = o['result'];
    if (typeof r !== 'object' || r === null || Array.isArray(r)) throw bad(path, line, 'a result line needs an object "result"');
    run.result = r as Record<string, unknown>;
  } else throw bad(path, line, `unknown line type ${JSON.stringify(type)} (expected run, epoch, stage, trial or result)`);
}

/** Splits one CSV line (RFC 4180 quoting). */
function csvFields(line: string): string[] {
  const out: string[] = [];
  let cur = '';
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i] as string;
    if (quoted) {
      if (c === '"' && line[i + 1] === '"') (cur += '"'), i++;
      else if (c === '"') quoted = false;
      else cur += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') out.push(cur), (cur = '');
    else cur += c;
  }
  out.push(cur);
  return out;
}

/** The CSV columns that hold numbers; the rest stay text. */
const TEXT_COLUMNS = new Set(['type', 'phase', 'stage', 'command', 'model', 'time', 'origin', 'feasible']);

/**
 * Parses a run log's text; `path` names it in errors.
 *
 * ```ts
 * const run = parseRunLog('{"type":"stage","stage":"pruned","accuracy":0.98}\n', 'dc/log.jsonl');
 * ```
 */
export function parseRunLog(text: string, path: string): RunData {
  const run: RunData = { path, epochs: [], stages: [], trials: [] };
  const trimmed = text.trim();
  if (trimmed === '') throw new WhittleError('BAD_DATA', `${path}:1: the run log is empty (did the run start?)`);
  // One JSON object over several lines: a saved --json output.
  if (trimmed.startsWith('{') && !trimmed.includes('\n{')) {
    try {
      const o = JSON.parse(trimmed) as unknown;
      if (typeof o === 'object' && o !== null && !Array.isArray(o) && !('type' in o)) {
        run.result = o as Record<string, unknown>;
        return run;
      }
    } catch {
      // Not a single object: read it line by line below, which names the bad line.
    }
  }
  const lines = text.split('\n');
  const complete = text.endsWith('\n');
  if (path.toLowerCase().endsWith('.csv')) {
    const header = csvFields(lines[0] ?? '');
    if (!header.includes('type')) throw bad(path, 1, `the CSV header has no "type" column (got ${header.join(',')})`);
    lines.forEach((l, i) => {
      if (i === 0 || l.trim() === '') return;
      const cells = csvFields(l);
      if (cells.length !== header.length)
        throw bad(
          path,
          i + 1,
          `${cells.length} fields where the header has ${header.length}${i === lines.length - 1 && !complete ? ' (the line is truncated: was the run killed while writing it?)' : ''}`,
        );
      const o: Record<string, unknown> = {};
      header.forEach((h, k) => {
        const v = cells[k] ?? '';
        if (v !== '') o[h] = TEXT_COLUMNS.has(h) ? v : Number(v);
      });
      addLine(run, o, path, i + 1);
    });
    return run;
  }
  lines.forEach((l, i) => {
    if (l.trim() === '') return;
    let o: unknown;
    try {
      o = JSON.parse(l);
    } catch (e) {
      const last = i === lines.length - 1 && !complete;
      throw bad(
        path,
        i + 1,
        last
          ? 'the last line is truncated (was the run killed while writing it?); delete that line to report the rest'
          : `not a JSON line (${(e as Error).message})`,
      );
    }
    if (typeof o !== 'object' || o === null || Array.isArray(o)) throw bad(path, i + 1, 'expected a JSON object');
    addLine(run, o as Record<string, unknown>, path, i + 1);
  });
  return run;
}

/**
 * Reads and parses a run log file (`.jsonl`, `.csv` or a saved `--json` object); for a folder
 * (`compress`'s or `optimize`'s `--out`), the `log.jsonl` inside it.
 *
 * ```ts
 * const run = readRunLog('lenet.onnx.log.jsonl'); // run.epochs, run.stages, run.result
 * ```
 */
export function readRunLog(path: string): RunData {
  // A folder a run wrote into (compress, optimize): its log.jsonl.
  if (existsSync(path) && statSync(path).isDirectory()) path = join(path, 'log.jsonl');
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    const code = (e as { code?: string }).code;
    // A missing log is a missing input (a usage error, exit 2); an unreadable one a failure.
    throw new WhittleError(
      code === 'ENOENT' ? 'BAD_ARGUMENT' : 'IO',
      code === 'ENOENT' ? `${path}: no such run log (pass the --log file a run wrote, e.g. OUT.log.jsonl)` : `cannot read ${path}: ${(e as Error).message}`,
      { cause: e },
    );
  }
  return parseRunLog(text, path);
}
