// The report: logs parse (JSONL, CSV, a saved --json object) with errors that name file and line,
// and the HTML holds the logged numbers in its charts and tables with nothing fetched from outside.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createModel } from '../nn/index.js';
import { Tensor } from '../ir/tensor.js';
import { layerRows, parseRunLog, readRunLog, renderReport } from './index.js';
import type { RunData } from './index.js';

const JSONL =
  [
    { type: 'run', command: 'compress', model: 'lenet-300-100', time: '2026-01-01T00:00:00Z' },
    { type: 'stage', stage: 'baseline', accuracy: 0.98 },
    { type: 'epoch', phase: 'prune 1/2', epoch: 1, loss: 0.5, trainAccuracy: 0.9, valLoss: 0.4, valAccuracy: 0.91, lr: 0.05, seconds: 1 },
    { type: 'epoch', phase: 'prune 2/2', epoch: 1, loss: 0.3, trainAccuracy: 0.95, lr: 0.05, seconds: 1 },
    { type: 'stage', stage: 'centroids', accuracy: 0.975 },
    {
      type: 'result',
      result: {
        scheme: 'deep-compression',
        model: 'lenet-300-100',
        accuracy: 0.975,
        baselineAccuracy: 0.98,
        bytes: 20_000,
        denseBytes: 1_066_440,
        layers: [
          {
            name: 'fc1',
            params: 235_500,
            bits: 5,
            gapBits: 4,
            sparsity: 0.95,
            bytes: { indices: 9000, codebook: 64, huffmanTables: 40, biases: 600, headers: 20, total: 9724 },
          },
        ],
      },
    },
  ]
    .map((o) => JSON.stringify(o))
    .join('\n') + '\n';

interface Spec {
  id: string;
  config: { type: string; data: { labels: unknown[]; datasets: { label: string; data: unknown[] }[] } };
}
function charts(html: string): Spec[] {
  const m = /<script type="application\/json" id="whittle-charts">([^<]*)<\/script>/.exec(html);
  assert.ok(m, 'chart data block');
  return JSON.parse(m[1] as string) as Spec[];
}

test('parseRunLog reads every line kind; CSV and a saved --json object too', () => {
  const run = parseRunLog(JSONL, 'dc/log.jsonl');
  assert.equal(run.command, 'compress');
  assert.deepEqual(
    run.stages.map((s) => [s.stage, s.accuracy]),
    [
      ['baseline', 0.98],
      ['centroids', 0.975],
    ],
  );
  assert.deepEqual(
    run.epochs.map((e) => [e.phase, e.loss, e.valAccuracy]),
    [
      ['prune 1/2', 0.5, 0.91],
      ['prune 2/2', 0.3, undefined],
    ],
  );
  assert.equal(run.result?.['bytes'], 20_000);
  const csv = parseRunLog(
    'type,phase,stage,epoch,loss,trainAccuracy,valLoss,valAccuracy,accuracy\nrun,,,,,,,,\nepoch,"a,b",,3,0.25,0.8,,0.7,\nstage,,final,,,,,,0.9\n',
    'x.csv',
  );
  assert.deepEqual(csv.epochs, [
    { phase: 'a,b', epoch: 3, loss: 0.25, trainAccuracy: 0.8, valLoss: undefined, valAccuracy: 0.7, lr: undefined, seconds: undefined },
  ]);
  assert.deepEqual(csv.stages, [{ stage: 'final', accuracy: 0.9, seconds: undefined }]);
  const json = parseRunLog('{\n "model": "m.onnx",\n "baseline": 0.9,\n "layers": []\n}\n', 's.json');
  assert.equal(json.result?.['model'], 'm.onnx');
});

test('a truncated, malformed or missing log is an error naming the file and the line', () => {
  const cut = JSONL.slice(0, JSONL.length - 30);
  assert.throws(() => parseRunLog(cut, 'dc/log.jsonl'), /^WhittleError: dc\/log\.jsonl:6: the last line is truncated/);
  assert.throws(() => parseRunLog(JSONL.replace('"loss":0.3', '"loss":"x"'), 'r.jsonl'), /r\.jsonl:4: an epoch line needs a number "loss"/);
  assert.throws(() => parseRunLog('{"type":"run"}\n{"type":"bogus"}\n', 'r.jsonl'), /r\.jsonl:2: unknown line type "bogus"/);
  assert.throws(() => parseRunLog('type,phase,epoch\nepoch,train,1,2\n', 'r.csv'), /r\.csv:2: 4 fields where the header has 3/);
  assert.throws(() => parseRunLog('', 'e.jsonl'), /e\.jsonl:1: the run log is empty/);
  assert.throws(() => readRunLog('/nonexistent/run.log.jsonl'), /\/nonexistent\/run\.log\.jsonl: no such run log/);
});

test('renderReport: curves, stages, Table 1 and layer bars carry the logged numbers; no external resource', () => {
  const run = parseRunLog(JSONL, 'dc/log.jsonl');
  const sens: RunData = {
    path: 's.json',
    epochs: [],
    stages: [],
    trials: [],
    result: {
      baseline: 0.98,
      layers: [
        {
          name: 'fc1',
          points: [
            { sparsity: 0.5, accuracy: 0.97 },
            { sparsity: 0.9, accuracy: 0.9 },
          ],
        },
      ],
      proposed: { fc1: 0.5 },
    },
  };
  const model = createModel('lenet-300-100', { seed: 1 });
  const w = model.graph.initializers.get('fc3.weight') as Tensor;
  const pruned = Float32Array.from(w.data as Float32Array, (v, i) => (i % 2 === 0 ? 0 : v));
  model.graph.initializers.set('fc3.weight', new Tensor('float32', w.dims, pruned));
  const rows = layerRows(model);
  assert.deepEqual(
    rows.map((r) => [r.name, r.weightShape, r.params]),
    [
      ['fc1', [300, 784], 235_500],
      ['fc2', [100, 300], 30_100],
      ['fc3', [10, 100], 1010],
    ],
  );
  assert.equal(rows[2]?.nonzeros, 500 + 10 - [...(model.graph.initializers.get('fc3.bias') as Tensor).data].filter((v) => v === 0).length);
  const html = renderReport({ title: 'T <1>', runs: [run, sens], model: { path: 'm.onnx', rows }, chartLibrary: 'window.Chart = function () {};' });
  assert.match(html, /<title>T &lt;1&gt;<\/title>/);
  assert.doesNotMatch(html, /(src|href)=["']?(https?:)?\/\//, 'nothing loads from the network');
  const c = charts(html);
  const by = (id: string): Spec => c.find((s) => s.id === id) as Spec;
  assert.deepEqual(
    by('r0-loss').config.data.datasets.map((d) => d.data),
    [
      [0.5, 0.3],
      [0.4, null],
    ],
  );
  assert.deepEqual(by('r0-loss').config.data.labels, ['prune 1/2 1', 'prune 2/2 1']);
  assert.deepEqual(
    by('r0-stages').config.data.datasets[0]?.data.map((v) => Number((v as number).toFixed(6))),
    [2, 2.5],
  );
  assert.deepEqual(
    by('r0-kept').config.data.datasets[0]?.data.map((v) => Number((v as number).toFixed(6))),
    [5],
  );
  assert.deepEqual(by('r0-bits').config.data.datasets[0]?.data, [5]);
  assert.deepEqual(
    by('r0-bytes').config.data.datasets.map((d) => d.data[0]),
    [9000, 64, 40, 600, 20],
  );
  assert.deepEqual(
    by('r1-sens').config.data.datasets[0]?.data.map((v) => Number((v as number).toFixed(6))),
    [97, 90],
  );
  // Table 1: 2.00% → 2.50% error, 266,610 parameters, 1066.4 KB → 20.0 KB, 53.3×.
  for (const s of ['2.00%', '2.50%', '266,610', '1066.4 KB', '20.0 KB', '53.3×', '235,500']) assert.ok(html.includes(s), s);
  assert.ok(html.includes('<td class="n">[10×100]</td><td class="n">1,010</td>'), 'the model layer table');
});

// An optimize log: three trials (trial 1 is dominated by trial 2), trial 3 replayed by a resume.
const trialLine = (trial: number, valAccuracy: number, bytes: number, latencyMs: number): string =>
  JSON.stringify({
    type: 'trial',
    trial,
    origin: 'greedy',
    valAccuracy,
    bytes,
    latencyMs,
    flops: 1000 * bytes,
    feasible: bytes <= 12_000,
    lr: 0.01,
    layers: { fc1: { width: 1, sparsity: 0.9, format: 'k5' } },
  });
const SEARCH = [
  JSON.stringify({ type: 'run', command: 'optimize', model: 'm.onnx', time: '2026-01-01T00:00:00Z' }),
  trialLine(0, 0.9, 20_000, 0.5),
  trialLine(1, 0.95, 15_000, 0.4),
  trialLine(2, 0.93, 9_000, 0.45),
  trialLine(2, 0.93, 9_000, 0.45),
].join('\n');

test('optimize trial lines: parsed (JSONL and CSV), a replayed trial once, the front computed from the trials while no result line exists', () => {
  const run = parseRunLog(`${SEARCH}\n`, 'opt/log.jsonl');
  assert.deepEqual(
    run.trials.map((t) => [t.trial, t.valAccuracy, t.bytes, t.latencyMs, t.feasible]),
    [
      [0, 0.9, 20_000, 0.5, false],
      [1, 0.95, 15_000, 0.4, false],
      [2, 0.93, 9_000, 0.45, true],
    ],
  );
  assert.throws(
    () => parseRunLog(`${trialLine(0, 0.9, 1, 1).replace('"bytes":1', '"bytes":"x"')}\n`, 'o.jsonl'),
    /o\.jsonl:1: a trial line needs a number "bytes"/,
  );
  const csv = parseRunLog('type,trial,origin,valAccuracy,bytes,latencyMs,feasible\ntrial,4,evolution 1,0.5,100,0.25,true\n', 'o.csv');
  assert.deepEqual(csv.trials[0], {
    trial: 4,
    origin: 'evolution 1',
    valAccuracy: 0.5,
    bytes: 100,
    latencyMs: 0.25,
    flops: undefined,
    feasible: true,
    lr: undefined,
    layers: undefined,
  });
  const c = charts(renderReport({ runs: [run], chartLibrary: '' }));
  const size = c.find((s) => s.id === 'r0-front-size') as Spec;
  const byLabel = (label: string): unknown[] | undefined => size.config.data.datasets.find((d) => d.label === label)?.data;
  assert.equal(byLabel('trials')?.length, 3);
  assert.deepEqual(byLabel('Pareto front'), [
    { x: 9_000, y: 93, trial: 3 },
    { x: 15_000, y: 95, trial: 2 },
  ]);
});

test('optimize result: the front, the chosen trial and the input drawn and tabled with their values', () => {
  const front = [
    {
      trial: 2,
      origin: 'greedy',
      valAccuracy: 0.93,
      bytes: 9_000,
      latencyMs: 0.45,
      flops: 9e6,
      feasible: true,
      lr: 0.01,
      layers: { fc1: { width: 0.5, sparsity: 0.9, format: 'k5' } },
    },
    { trial: 1, origin: 'greedy', valAccuracy: 0.95, bytes: 15_000, latencyMs: 0.4, flops: 15e6, feasible: false, lr: 0.01, layers: {} },
  ];
  const result = {
    target: 'size',
    budget: 12_000,
    baseline: { valAccuracy: 0.97, testAccuracy: 0.968, bytes: 200_000, denseBytes: 199_000, latencyMs: 0.6, flops: 1e8 },
    trialBaseline: 0.96,
    front,
    trials: 3,
    chosen: { ...front[0], met: true },
    final: { testAccuracy: 0.9412, bytes: 8_800, latencyMs: 0.45 },
    ratio: { bytes: 22.6, latency: 1.33 },
  };
  const run = parseRunLog(`${SEARCH}\n${JSON.stringify({ type: 'result', result })}\n`, 'opt/log.jsonl');
  const html = renderReport({ runs: [run], chartLibrary: '' });
  const c = charts(html);
  for (const [id, key] of [
    ['r0-front-size', 'bytes'],
    ['r0-front-latency', 'latencyMs'],
  ] as const) {
    const ds = (c.find((s) => s.id === id) as Spec).config.data.datasets;
    const data = (label: string): unknown[] | undefined => ds.find((d) => d.label === label)?.data;
    assert.deepEqual(
      data('Pareto front'),
      [...front].sort((a, b) => a[key] - b[key]).map((t) => ({ x: t[key], y: 100 * t.valAccuracy, trial: t.trial + 1 })),
      id,
    );
    assert.deepEqual(data('chosen'), [{ x: front[0]?.[key], y: 93, trial: 3 }]);
    assert.deepEqual(data('input (dense)'), [{ x: result.baseline[key], y: 96, trial: 0 }]);
  }
  for (const s of ['<td>3 (chosen)</td>', '93.00%', '9,000 B', '0.450 ms', '15,000 B', 'fc1 w0.5 s0.9 k5', 'test accuracy 94.12% (input 96.80%)', '22.6×'])
    assert.ok(html.includes(s), s);
  assert.doesNotMatch(html, /<h3>Pruning per layer<\/h3>/, 'the result is not mistaken for a prune result');
  // A saved result.json: the front alone, and the search's trial count.
  const saved = renderReport({ runs: [parseRunLog(JSON.stringify(result, null, 1), 'opt/result.json')], chartLibrary: '' });
  assert.ok(saved.includes('3 (only the front is in this file) trial(s), 2 on the Pareto front'));
  const savedFront = charts(saved)
    .find((c) => c.id === 'r0-front-size')
    ?.config.data.datasets.find((d) => d.label === 'Pareto front')?.data;
  assert.deepEqual(savedFront, [
    { x: 9_000, y: 93, trial: 3 },
    { x: 15_000, y: 95, trial: 2 },
  ]);
});
