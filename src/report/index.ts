// Run logs → one self-contained HTML report with charts.
export { type EpochPoint, type RunData, type StagePoint, type TrialPoint, parseRunLog, readRunLog } from './log.js';
export { type LayerRow, layerRows } from './layers.js';
export { type ReportInput, escapeHtml, renderReport } from './html.js';
export { readChartLibrary } from './chart-library.js';
