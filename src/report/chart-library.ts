// The charting library the report inlines: Chart.js's UMD build, read from node_modules when the
// report is written, so the HTML needs no network to open.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { WhittleError } from '../ir/errors.js';

/**
 * Chart.js's browser build as script text.
 *
 * ```ts
 * const js = readChartLibrary(); // ~200 KB, defines the global `Chart`
 * ```
 */
export function readChartLibrary(): string {
  let main: string;
  try {
    main = createRequire(import.meta.url).resolve('chart.js');
  } catch (e) {
    throw new WhittleError('MISSING_DEPENDENCY', `the report needs the chart.js package: run npm install chart.js (${(e as Error).message})`, { cause: e });
  }
  const file = join(dirname(main), 'chart.umd.min.js');
  const text = readFileSync(file, 'utf8');
  // Inlined in a <script> element, whose text must not close it early.
  if (/<\/script/i.test(text)) throw new WhittleError('RUNTIME', `${file} contains "</script" and cannot be inlined`);
  return text;
}
