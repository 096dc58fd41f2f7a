// `whittle report RUN... --out report.html`: run logs (and optionally the model) → one
// self-contained HTML file with charts. `demoReport` is `whittle demo`'s last step.
import { existsSync } from 'node:fs';
import type { Command } from 'commander';
import { readContainer } from '../compress/codec/index.js';
import { WhittleError } from '../ir/errors.js';
import type { Model } from '../ir/graph.js';
import { writeFileAtomic } from '../ir/io.js';
import { layerRows, readChartLibrary, readRunLog, renderReport } from '../report/index.js';
import { emit, addSummary } from './flags.js';
import { loadModel } from './load.js';

/** A model file for the layer table: a Deep Compression container or anything `--model` takes. */
function loadAnyModel(path: string): Model {
  if (path.endsWith('.wtl')) {
    if (!existsSync(path)) throw new WhittleError('BAD_ARGUMENT', `--model ${path}: no such file`);
    return readContainer(path).model;
  }
  return loadModel(path).model;
}

/**
 * Writes the report of `logs` to `out`; returns its size in bytes.
 *
 * ```ts
 * writeReport(['dc/log.jsonl'], 'report.html', { model: 'dc/model.wtl' });
 * ```
 */
export function writeReport(logs: readonly string[], out: string, o: { model?: string; title?: string } = {}): number {
  if (logs.length === 0) throw new WhittleError('BAD_ARGUMENT', 'whittle report needs at least one run log (the --log file of a run, e.g. OUT.log.jsonl)');
  for (const l of logs) if (l === out) throw new WhittleError('BAD_ARGUMENT', `--out ${out} is one of the run logs; Whittle never overwrites its input`);
  const runs = logs.map((l) => readRunLog(l));
  const model = o.model !== undefined ? { path: o.model, rows: layerRows(loadAnyModel(o.model)) } : undefined;
  const html = new TextEncoder().encode(renderReport({ title: o.title, runs, model, chartLibrary: readChartLibrary() }));
  writeFileAtomic(out, [html]);
  return html.length;
}

/** `whittle demo`'s report: its log and model; returns the report's path. */
export function demoReport(log: string | undefined, out: string, model: string | undefined): string | null {
  if (log === undefined) return null;
  writeReport([log], out, { model, title: 'whittle demo' });
  return out;
}

export function registerReportCommands(program: Command): void {
  program
    .command('report')
    .description('one self-contained HTML report (charts, Table 1, layer tables) from run logs; opens with no network')
    .argument(
      '<run...>',
      'run logs: the --log files of train, demo, prune, quantize, distill, merge, grow, compress, optimize, sensitivity (.jsonl, .csv), a folder holding log.jsonl, or a saved --json output',
    )
    .requiredOption('--out <file.html>', 'where to write the report')
    .option('--model <file>', 'add the layer table of this model (.onnx, .wtl or a zoo name)')
    .option('--title <text>', "the report's title")
    .option('--json', 'print one JSON object on stdout')
    .action((runs: string[], f: { out: string; model?: string; title?: string; json?: boolean }) => {
      const bytes = writeReport(runs, f.out, { model: f.model, title: f.title });
      addSummary(`report: ${runs.length} run(s) → ${f.out} (${bytes.toLocaleString('en-US')} bytes)\n`);
      emit(Boolean(f.json), { out: f.out, bytes, runs });
    });
}
