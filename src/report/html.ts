// One self-contained HTML report: the charting library and the data are inlined, so the file opens
// anywhere with no network. Charts are Chart.js configurations built here as plain JSON.
import type { LayerRow } from './layers.js';
import type { EpochPoint, RunData, TrialPoint } from './log.js';

export interface ReportInput {
  title?: string;
  runs: readonly RunData[];
  /** The model's layer table (`--model`). */
  model?: { path: string; rows: LayerRow[] };
  /** The charting library's browser build (Chart.js UMD), inlined as script text. */
  chartLibrary: string;
}

interface ChartSpec {
  id: string;
  config: unknown;
}

const COLORS = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22', '#17becf'];

/**
 * Text made safe inside HTML elements and attribute values.
 *
 * ```ts
 * escapeHtml('a < b'); // 'a &lt; b'
 * ```
 */
export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string);
}

/** JSON inside a <script> element: `</` would end the element early. */
function scriptJson(v: unknown): string {
  return JSON.stringify(v).replace(/</g, '\\u003c');
}

const pct = (x: unknown, d = 2): string => (typeof x === 'number' ? `${(100 * x).toFixed(d)}%` : '–');
const int = (x: unknown): string => (typeof x === 'number' ? x.toLocaleString('en-US') : '–');
const num = (x: unknown): number | undefined => (typeof x === 'number' && Number.isFinite(x) ? x : undefined);

function table(head: string[], rows: (string | number)[][], cls = ''): string {
  const cell = (v: string | number, i: number): string => `<td${i > 0 ? ' class="n"' : ''}>${escapeHtml(String(v))}</td>`;
  return `<table class="${cls}"><thead><tr>${head.map((h) => `<th>${escapeHtml(h)}</th>`).join('')}</tr></thead><tbody>${rows.map((r) => `<tr>${r.map(cell).join('')}</tr>`).join('')}</tbody></table>`;
}

function lineChart(
  id: string,
  labels: (string | number)[],
  series: { label: string; data: (number | null)[] }[],
  y: { title: string; percent?: boolean },
  xTitle: string,
): ChartSpec {
  return {
    id,
    config: {
      type: 'line',
      data: {
        labels,
        datasets: series.map((s, i) => ({
          label: s.label,
          data: s.data,
          borderColor: COLORS[i % COLORS.length],
          backgroundColor: COLORS[i % COLORS.length],
          spanGaps: true,
          tension: 0.1,
        })),
      },
      options: {
        animation: false,
        maintainAspectRatio: false,
        scales: { x: { title: { display: true, text: xTitle } }, y: { title: { display: true, text: y.title } } },
      },
    },
  };
}

function barChart(id: string, labels: string[], series: { label: string; data: number[] }[], yTitle: string, stacked = false): ChartSpec {
  return {
    id,
    config: {
      type: 'bar',
      data: { labels, datasets: series.map((s, i) => ({ label: s.label, data: s.data, backgroundColor: COLORS[i % COLORS.length] })) },
      options: {
        animation: false,
        maintainAspectRatio: false,
        scales: { x: { stacked }, y: { stacked, beginAtZero: true, title: { display: true, text: yTitle } } },
      },
    },
  };
}

function canvas(spec: ChartSpec, charts: ChartSpec[], caption: string): string {
  charts.push(spec);
  return `<figure><div class="chart"><canvas id="${spec.id}" role="img" aria-label="${escapeHtml(caption)}"></canvas></div><figcaption>${escapeHtml(caption)}</figcaption></figure>`;
}

/** Training and validation curves: one point per epoch, phases in order. */
function curves(run: RunData, n: number, charts: ChartSpec[]): string {
  if (run.epochs.length === 0) return '';
  const phases = new Set(run.epochs.map((e) => e.phase));
  // One phase trained in segments (grow --when-stuck restarts its epoch count after each growth): number the epochs in order.
  const increasing = run.epochs.every((e, i) => i === 0 || e.epoch > (run.epochs[i - 1] as EpochPoint).epoch);
  const labels = run.epochs.map((e, i) => (phases.size > 1 ? `${e.phase} ${e.epoch}` : increasing ? e.epoch : i + 1));
  const hasVal = run.epochs.some((e) => e.valLoss !== undefined);
  const loss = [{ label: 'training loss', data: run.epochs.map((e) => e.loss) }];
  if (hasVal) loss.push({ label: 'validation loss', data: run.epochs.map((e) => e.valLoss ?? null) as number[] });
  const acc = [{ label: 'training accuracy', data: run.epochs.map((e) => e.trainAccuracy) }];
  if (hasVal) acc.push({ label: 'validation accuracy', data: run.epochs.map((e) => e.valAccuracy ?? null) as number[] });
  return `<h3>Training${hasVal ? ' and validation' : ''} curves</h3><div class="row">${canvas(lineChart(`r${n}-loss`, labels, loss, { title: 'loss' }, 'epoch'), charts, 'Loss per epoch')}${canvas(lineChart(`r${n}-acc`, labels, acc, { title: 'accuracy' }, 'epoch'), charts, 'Accuracy per epoch')}</div>`;
}

function stages(run: RunData, n: number, charts: ChartSpec[]): string {
  if (run.stages.length === 0) return '';
  const rows = run.stages.map((s) => [s.stage, pct(s.accuracy), pct(1 - s.accuracy), s.seconds !== undefined ? `${s.seconds.toFixed(1)} s` : '–']);
  const chart = barChart(
    `r${n}-stages`,
    run.stages.map((s) => s.stage),
    [{ label: 'error (%)', data: run.stages.map((s) => 100 * (1 - s.accuracy)) }],
    'top-1 error (%)',
  );
  return `<h3>Stages</h3><div class="row">${table(['Stage', 'Accuracy', 'Top-1 error', 'Time'], rows)}${canvas(chart, charts, 'Top-1 error after each stage')}</div>`;
}

interface DcLayer {
  name: string;
  params: number;
  bits: number;
  gapBits?: number;
  sparsity: number;
  bytes: Record<string, number>;
}

/** Deep Compression's Table 1, the per-layer table and bars, from a `compress` result. */
function deepCompression(r: Record<string, unknown>, n: number, charts: ChartSpec[], name: string | undefined): string {
  const layers = (Array.isArray(r['layers']) ? r['layers'] : []) as DcLayer[];
  const dense = num(r['denseBytes']);
  const bytes = num(r['bytes']);
  const t1 = table(
    ['Network', 'Top-1 error', 'Top-1 error (compressed)', 'Parameters', 'Original size', 'Compressed size', 'Ratio'],
    [
      [
        String(r['model'] ?? name ?? ''),
        pct(num(r['baselineAccuracy']) !== undefined ? 1 - (r['baselineAccuracy'] as number) : undefined),
        pct(num(r['accuracy']) !== undefined ? 1 - (r['accuracy'] as number) : undefined),
        int(dense !== undefined ? dense / 4 : undefined),
        dense !== undefined ? `${(dense / 1000).toFixed(1)} KB` : '–',
        bytes !== undefined ? `${(bytes / 1000).toFixed(1)} KB` : '–',
        dense !== undefined && bytes !== undefined ? `${(dense / bytes).toFixed(1)}×` : '–',
      ],
    ],
    'table1',
  );
  const lt = table(
    ['Layer', 'Params', 'Weights kept', 'Index bits', 'Gap bits', 'Indices', 'Codebook', 'Huffman tables', 'Biases', 'Total'],
    layers.map((l) => [
      l.name,
      int(l.params),
      pct(1 - l.sparsity, 1),
      l.bits,
      l.gapBits ?? '–',
      ...['indices', 'codebook', 'huffmanTables', 'biases', 'total'].map((k) => `${int(l.bytes[k])} B`),
    ]),
  );
  const names = layers.map((l) => l.name);
  const kept = barChart(`r${n}-kept`, names, [{ label: 'weights kept (%)', data: layers.map((l) => 100 * (1 - l.sparsity)) }], 'weights kept (%)');
  const bits = barChart(`r${n}-bits`, names, [{ label: 'index bits', data: layers.map((l) => l.bits) }], 'bits per weight index');
  const parts = ['indices', 'codebook', 'huffmanTables', 'biases', 'headers'].map((k) => ({ label: k, data: layers.map((l) => l.bytes[k] ?? 0) }));
  const byteBars = barChart(`r${n}-bytes`, names, parts, 'bytes in the container', true);
  return `<h3>Deep Compression (Table 1)</h3>${t1}<h3>Per layer</h3>${lt}<div class="row">${canvas(kept, charts, 'Weights kept per layer')}${canvas(bits, charts, 'Index bits per layer')}${canvas(byteBars, charts, 'Container bytes per layer')}</div>`;
}

/** Per-layer sparsity bars from a `prune` result. */
function pruned(r: Record<string, unknown>, n: number, charts: ChartSpec[]): string {
  const layers = (r['layers'] as { name: string; params: number; nonzero: number; sparsity: number; shapeBefore?: number[]; shapeAfter?: number[] }[]).filter(
    (l) => typeof l.sparsity === 'number',
  );
  if (layers.length === 0) return '';
  const rows = layers.map((l) => [
    l.name,
    `[${(l.shapeBefore ?? []).join('×')}] → [${(l.shapeAfter ?? []).join('×')}]`,
    int(l.params),
    int(l.nonzero),
    pct(l.sparsity, 1),
  ]);
  const chart = barChart(
    `r${n}-sparsity`,
    layers.map((l) => l.name),
    [{ label: 'removed (%)', data: layers.map((l) => 100 * l.sparsity) }],
    'sparsity (%)',
  );
  const summary = `<p>Accuracy ${pct(r['accuracyBefore'])} → ${pct(r['accuracy'])}; nonzero parameters ${int(r['paramsBefore'])} → ${int(r['nonzeroParams'])}; FLOPs ${int(r['flopsBefore'])} → ${int(r['flops'])}.</p>`;
  return `<h3>Pruning per layer</h3>${summary}<div class="row">${table(['Layer', 'Shape', 'Params', 'Nonzero', 'Sparsity'], rows)}${canvas(chart, charts, 'Sparsity per layer')}</div>`;
}

/** Per-layer sensitivity curves from a `sensitivity` result. */
function sensitivityCurves(r: Record<string, unknown>, n: number, charts: ChartSpec[]): string {
  const layers = r['layers'] as { name: string; points: { sparsity: number; accuracy: number }[] }[];
  const xs = [...new Set(layers.flatMap((l) => l.points.map((p) => p.sparsity)))].sort((a, b) => a - b);
  const series = layers.map((l) => ({
    label: l.name,
    data: xs.map((x) => l.points.find((p) => p.sparsity === x)?.accuracy ?? null).map((a) => (a === null ? null : 100 * a)),
  }));
  const base = num(r['baseline']);
  if (base !== undefined) series.push({ label: 'baseline', data: xs.map(() => 100 * base) });
  const proposed = r['proposed'] as Record<string, number> | undefined;
  const rows = layers.map((l) => [l.name, ...l.points.map((p) => pct(p.accuracy)), proposed?.[l.name] !== undefined ? pct(proposed[l.name], 0) : '–']);
  return `<h3>Sensitivity per layer</h3><div class="row">${canvas(
    lineChart(
      `r${n}-sens`,
      xs.map((x) => `${(100 * x).toFixed(0)}%`),
      series,
      { title: 'accuracy (%)' },
      'sparsity of that layer alone',
    ),
    charts,
    'Accuracy when pruning one layer at a time',
  )}${table(['Layer', ...xs.map((x) => `${(100 * x).toFixed(0)}%`), 'Proposed'], rows)}</div>`;
}

/** A 3-objective Pareto front (validation accuracy up, bytes and latency down), smallest first: for a search killed before its result line. */
function paretoOf(trials: readonly TrialPoint[]): TrialPoint[] {
  const dominates = (a: TrialPoint, b: TrialPoint): boolean =>
    a.valAccuracy >= b.valAccuracy &&
    a.bytes <= b.bytes &&
    a.latencyMs <= b.latencyMs &&
    (a.valAccuracy > b.valAccuracy || a.bytes < b.bytes || a.latencyMs < b.latencyMs);
  const seen = new Set<string>();
  return trials
    .filter((t) => !trials.some((o) => o !== t && dominates(o, t)))
    .filter((t) => {
      const k = `${t.valAccuracy}|${t.bytes}|${t.latencyMs}`;
      return !seen.has(k) && seen.add(k) !== undefined;
    })
    .sort((a, b) => a.bytes - b.bytes || a.trial - b.trial);
}

interface ScatterSeries {
  label: string;
  points: { x: number; y: number; trial: number }[];
  color: string;
  line?: boolean;
  style?: string;
  radius?: number;
}

function scatterChart(id: string, series: ScatterSeries[], x: { title: string; log?: boolean }, yTitle: string): ChartSpec {
  return {
    id,
    config: {
      type: 'scatter',
      data: {
        datasets: series.map((s) => ({
          label: s.label,
          data: s.points,
          borderColor: s.color,
          backgroundColor: s.color,
          showLine: s.line === true,
          pointStyle: s.style ?? 'circle',
          pointRadius: s.radius ?? 4,
        })),
      },
      options: {
        animation: false,
        maintainAspectRatio: false,
        scales: {
          x: { type: x.log ? 'logarithmic' : 'linear', title: { display: true, text: x.title } },
          y: { title: { display: true, text: yTitle } },
        },
      },
    },
  };
}

/** One layer policy in a table cell: `fc1 w0.5 s0.9 k5`. */
function policyText(layers: Record<string, unknown> | undefined): string {
  if (layers === undefined) return '–';
  return Object.entries(layers)
    .map(([name, p]) => {
      const q = (typeof p === 'object' && p !== null ? p : {}) as { width?: number; sparsity?: number; format?: string };
      return `${name} w${q.width ?? '?'} s${q.sparsity ?? '?'} ${q.format ?? '?'}`;
    })
    .join(', ');
}

/**
 * `optimize`: every trial and the Pareto front as accuracy–size and accuracy–latency scatters, the
 * front as a table, the chosen candidate and the input. Trials come from the log's trial lines,
 * else from the result's front; the front from the result, else from the trials.
 */
function searchSection(run: RunData, n: number, charts: ChartSpec[]): string {
  const r = run.result;
  const isSearch = r !== undefined && Array.isArray(r['front']) && typeof r['chosen'] === 'object';
  if (run.trials.length === 0 && !isSearch) return '';
  const front = isSearch ? (r['front'] as TrialPoint[]) : paretoOf(run.trials);
  const trials = run.trials.length > 0 ? run.trials : front;
  const chosen = isSearch ? (r['chosen'] as TrialPoint) : undefined;
  const base = isSearch ? (r['baseline'] as { bytes?: number; latencyMs?: number } | undefined) : undefined;
  const trialBase = isSearch ? num(r['trialBaseline']) : undefined;
  const pt = (x: number, t: TrialPoint): { x: number; y: number; trial: number } => ({ x, y: 100 * t.valAccuracy, trial: t.trial + 1 });
  const chart = (id: string, key: 'bytes' | 'latencyMs', title: string, log: boolean): ChartSpec => {
    const series: ScatterSeries[] = [
      { label: 'trials', points: trials.map((t) => pt(t[key], t)), color: '#9aa5b1' },
      {
        label: 'Pareto front',
        points: [...front].sort((a, b) => a[key] - b[key]).map((t) => pt(t[key], t)),
        color: COLORS[0] as string,
        line: true,
        radius: 5,
      },
    ];
    if (chosen !== undefined) series.push({ label: 'chosen', points: [pt(chosen[key], chosen)], color: COLORS[3] as string, style: 'star', radius: 12 });
    const bx = base?.[key];
    if (bx !== undefined && trialBase !== undefined)
      series.push({
        label: 'input (dense)',
        points: [{ x: bx, y: 100 * trialBase, trial: 0 }],
        color: COLORS[1] as string,
        style: 'triangle',
        radius: 8,
      });
    return scatterChart(id, series, { title, log }, 'validation accuracy (%)');
  };
  const rows = front.map((t) => [
    `${t.trial + 1}${chosen !== undefined && chosen.trial === t.trial ? ' (chosen)' : ''}`,
    t.origin,
    pct(t.valAccuracy),
    `${int(t.bytes)} B`,
    `${t.latencyMs.toFixed(3)} ms`,
    int(t.flops),
    t.feasible === undefined ? '–' : t.feasible ? 'yes' : 'no',
    policyText(t.layers),
  ]);
  // A saved result.json holds the front and the trial count, not the trials themselves.
  const count = run.trials.length > 0 ? `${run.trials.length}` : `${num(r?.['trials']) ?? '?'} (only the front is in this file)`;
  let summary = `<p>${count} trial(s), ${front.length} on the Pareto front${isSearch ? '' : ' (computed from the trial lines: the search has no result line yet)'}.</p>`;
  if (isSearch) {
    const f = r['final'] as { testAccuracy?: number; bytes?: number; latencyMs?: number } | undefined;
    const b = r['baseline'] as { testAccuracy?: number; bytes?: number; latencyMs?: number } | undefined;
    const ratio = r['ratio'] as { bytes?: number; latency?: number } | undefined;
    summary += `<p>Target ${escapeHtml(String(r['target']))}${r['budget'] !== null && r['budget'] !== undefined ? `, budget ${escapeHtml(String(r['budget']))}` : ''}. Chosen trial ${chosen !== undefined ? chosen.trial + 1 : '–'} after its final fine-tune: test accuracy ${pct(f?.testAccuracy)} (input ${pct(b?.testAccuracy)}), ${int(f?.bytes)} bytes (${num(ratio?.bytes)?.toFixed(1) ?? '–'}× smaller than dense float32), ${num(f?.latencyMs)?.toFixed(3) ?? '–'} ms per batch (${num(ratio?.latency)?.toFixed(2) ?? '–'}× faster).</p>`;
  }
  return `<h3>Search: accuracy, size and latency</h3>${summary}<div class="row">${canvas(chart(`r${n}-front-size`, 'bytes', 'size (bytes, log scale)', true), charts, 'Validation accuracy against file size: every trial, the Pareto front (accuracy, size and latency together)')}${canvas(chart(`r${n}-front-latency`, 'latencyMs', 'latency (ms per batch)', false), charts, 'Validation accuracy against latency: every trial, the same Pareto front')}</div><h3>Pareto front</h3>${table(['Trial', 'Origin', 'Val accuracy', 'Bytes', 'Latency', 'FLOPs', 'Within constraint', 'Per-layer policy'], rows, 'front')}`;
}

function resultSection(r: Record<string, unknown>, n: number, charts: ChartSpec[], name: string | undefined): string {
  if (r['scheme'] === 'deep-compression') return deepCompression(r, n, charts, name);
  // optimize: drawn by searchSection.
  if (Array.isArray(r['front'])) return '';
  const compression = r['compression'];
  let html = '';
  const layers = r['layers'];
  if (Array.isArray(layers) && layers.length > 0 && typeof layers[0] === 'object' && layers[0] !== null && 'points' in layers[0])
    html += sensitivityCurves(r, n, charts);
  else if (Array.isArray(layers) && layers.length > 0) html += pruned(r, n, charts);
  // `whittle demo`: the training result holds the compression result.
  if (typeof compression === 'object' && compression !== null)
    html += deepCompression(compression as Record<string, unknown>, n, charts, typeof r['model'] === 'string' ? r['model'] : name);
  return html;
}

function runSection(run: RunData, n: number, charts: ChartSpec[]): string {
  const what = [run.command, run.model].filter(Boolean).join(' ') || 'run';
  const when = run.time !== undefined ? ` · started ${escapeHtml(run.time)}` : '';
  const body =
    curves(run, n, charts) +
    stages(run, n, charts) +
    searchSection(run, n, charts) +
    (run.result !== undefined ? resultSection(run.result, n, charts, run.model) : '');
  return `<section><h2>${escapeHtml(what)}</h2><p class="src">${escapeHtml(run.path)}${when}</p>${body || '<p>This log holds no epochs, stages or results yet.</p>'}</section>`;
}

function modelSection(model: NonNullable<ReportInput['model']>): string {
  const total = model.rows.reduce((a, r) => a + r.params, 0);
  const nz = model.rows.reduce((a, r) => a + r.nonzeros, 0);
  const rows = model.rows.map((r) => [
    r.name,
    r.op,
    `[${r.weightShape.join('×')}]`,
    int(r.params),
    int(r.nonzeros),
    pct(1 - r.nonzeros / Math.max(1, r.params), 1),
  ]);
  rows.push(['total', '', '', int(total), int(nz), pct(1 - nz / Math.max(1, total), 1)]);
  return `<section><h2>Model</h2><p class="src">${escapeHtml(model.path)}</p>${table(['Layer', 'Op', 'Weight shape', 'Params', 'Nonzero', 'Sparsity'], rows)}</section>`;
}

const STYLE = `body{font:14px/1.45 system-ui,sans-serif;margin:24px auto;max-width:1200px;color:#222;padding:0 16px}
h1{font-size:22px}h2{font-size:18px;border-bottom:1px solid #ddd;padding-bottom:4px;margin-top:32px}h3{font-size:15px;margin:18px 0 8px}
.src{color:#666;font-size:12px;margin-top:-6px}.row{display:flex;flex-wrap:wrap;gap:16px;align-items:flex-start}
figure{margin:0;flex:1 1 360px;min-width:320px}.chart{position:relative;height:260px}figcaption{color:#555;font-size:12px;text-align:center}
table{border-collapse:collapse;margin:4px 0 12px}th,td{padding:3px 10px;border-bottom:1px solid #eee;text-align:left}td.n{text-align:right;font-variant-numeric:tabular-nums}
th{background:#f5f5f5;font-weight:600}table.table1 td,table.table1 th{padding:4px 14px}`;

/**
 * The report as one HTML string: no external scripts, styles or fonts.
 *
 * ```ts
 * const html = renderReport({ runs: [readRunLog('dc/log.jsonl')], chartLibrary: readChartLibrary() });
 * ```
 */
export function renderReport(input: ReportInput): string {
  const charts: ChartSpec[] = [];
  const sections = input.runs.map((r, i) => runSection(r, i, charts)).join('\n');
  const title = input.title ?? 'Whittle report';
  // The library's text may not contain "</script" (checked by the caller); data is escaped here.
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title><style>${STYLE}</style></head>
<body><h1>${escapeHtml(title)}</h1><p class="src">${input.runs.length} run log(s)${input.model !== undefined ? ' and one model' : ''}; generated ${new Date().toISOString()}</p>
${sections}
${input.model !== undefined ? modelSection(input.model) : ''}
<script>${input.chartLibrary}</script>
<script type="application/json" id="whittle-charts">${scriptJson(charts)}</script>
<script>
for (const c of JSON.parse(document.getElementById('whittle-charts').textContent)) new Chart(document.getElementById(c.id), c.config);
document.body.dataset.charts = String(Chart.instances ? Object.keys(Chart.instances).length : 0);
</script>
</body></html>
`;
}
