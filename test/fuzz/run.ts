// npm run fuzz -- --cases N [--seed S] [--jobs J] [--kinds onnx,wtl,...] [--timeout-s 30] [--wall-s 120] [--max-rss-mb 1024] [--keep]
// A hang is a case that spends more than --timeout-s of CPU time, or that is killed at --wall-s
// of wall time twice: once among the others and once run again alone at the end (a loaded machine
// stretches wall time, not CPU time).
// Issue 15's target: `npm run fuzz -- --cases 2000` (seed 1, 2 jobs). A case costs about 1–1.5 s of
// CPU (mostly Node and module start-up; ONNX cases read the fuzzer's 64-image IDX set, not MNIST),
// bombs and recipes 3–4.5 s: 2000 cases should take ~25 min on 2 idle cores (estimated from CPU
// time; 500 cases took 20 min on the shared machine at load 25).
// Generates N seeded cases over every input kind, runs each through the CLI, prints a table, and
// exits 1 when any case crashed, printed a stack trace, hung, used too much memory, left a partial
// file or modified its input. --keep leaves failing cases' folders (named in the output) to replay.
import { availableParallelism } from 'node:os';
import { parseArgs } from 'node:util';
import type { FuzzCase, Kind } from './cases.js';
import { fuzzCase, KINDS } from './cases.js';
import type { CaseResult } from './runner.js';
import { runCases } from './runner.js';

const { values } = parseArgs({
  options: {
    cases: { type: 'string', default: '60' },
    seed: { type: 'string', default: '1' },
    jobs: { type: 'string', default: String(Math.min(2, availableParallelism())) },
    kinds: { type: 'string', default: KINDS.join(',') },
    'timeout-s': { type: 'string', default: '30' },
    'wall-s': { type: 'string' },
    'max-rss-mb': { type: 'string', default: '1024' },
    'max-seconds': { type: 'string' },
    keep: { type: 'boolean', default: false },
  },
});
const kinds = String(values.kinds).split(',') as Kind[];
for (const k of kinds) if (!(KINDS as readonly string[]).includes(k)) throw new Error(`--kinds: unknown kind ${k}; use ${KINDS.join(', ')}`);
const n = Number(values.cases);
const seed = Number(values.seed);
const limits = {
  timeoutMs: 1000 * Number(values['timeout-s']),
  maxRssMb: Number(values['max-rss-mb']),
  ...(values['wall-s'] !== undefined ? { wallMs: 1000 * Number(values['wall-s']) } : {}),
};
const deadline = values['max-seconds'] === undefined ? Number.POSITIVE_INFINITY : Date.now() + 1000 * Number(values['max-seconds']);
// Generated as they start (lazily), so a run cut by --max-seconds does not generate the rest.
const cases = new Proxy([] as FuzzCase[], {
  get: (t, k) => (k === 'length' ? n : typeof k === 'string' && /^\d+$/.test(k) ? fuzzCase(seed, Number(k), kinds) : Reflect.get(t, k)),
});
const t0 = Date.now();
let done = 0;
const bad: CaseResult[] = [];
const results = await runCases(
  cases,
  limits,
  Number(values.jobs),
  (r) => {
    done++;
    if (r.failures.length > 0) {
      bad.push(r);
      process.stderr.write(`FAIL ${r.case.id} ${r.case.kind} ${r.case.mutation}: whittle ${r.case.args.join(' ')}\n  ${r.failures.join('\n  ')}\n`);
    }
    if (done % 25 === 0) process.stderr.write(`fuzz: ${done}/${n} cases, ${bad.length} failing, ${((Date.now() - t0) / 1000).toFixed(0)} s\n`);
  },
  values.keep,
  deadline,
);
const by = new Map<string, CaseResult[]>();
for (const r of results) by.set(r.case.kind, [...(by.get(r.case.kind) ?? []), r]);
const rows = [
  ['kind', 'cases', 'exit 0', 'refused', 'failing', 'crashes', 'traces', 'hangs', 'memory', 'partial', 'modified', 'peak MB', 'max s', 'max CPU s'],
];
for (const [kind, rs] of by) {
  const count = (re: RegExp): number => rs.filter((r) => r.failures.some((f) => re.test(f))).length;
  rows.push([
    kind,
    String(rs.length),
    String(rs.filter((r) => r.code === 0).length),
    String(rs.filter((r) => r.code === 1 || r.code === 2).length),
    String(rs.filter((r) => r.failures.length > 0).length),
    String(count(/^crash/)),
    String(count(/^stack trace/)),
    String(count(/^hang/)),
    String(count(/^memory/)),
    String(count(/^partial|^left behind|^unreadable/)),
    String(count(/^modified/)),
    Math.max(0, ...rs.map((r) => r.rssMb ?? 0)).toFixed(0),
    (Math.max(0, ...rs.map((r) => r.ms)) / 1000).toFixed(1),
    Math.max(0, ...rs.map((r) => r.cpuS ?? 0)).toFixed(1),
  ]);
}
const widths = (rows[0] as string[]).map((_, c) => Math.max(...rows.map((r) => (r[c] ?? '').length)));
for (const r of rows) process.stdout.write(`${r.map((v, c) => v.padStart(widths[c] ?? 0)).join('  ')}\n`);
process.stdout.write(
  `fuzz: ${results.length} of ${n} cases (seed ${seed}), ${bad.length} failing, peak ${Math.max(0, ...results.map((r) => r.rssMb ?? 0)).toFixed(0)} MB, ${((Date.now() - t0) / 1000).toFixed(0)} s\n`,
);
process.exit(bad.length > 0 ? 1 : 0);
