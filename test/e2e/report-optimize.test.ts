// whittle optimize → its run log (one line per trial as it ends, then the result) → whittle report:
// the HTML holds the Pareto front's points as the search measured them, and in headless Chromium
// the accuracy–size and accuracy–latency charts draw those points (skipped where Chromium is absent).
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { browserMissing, launchChromium } from './browser.js';
import { tempDir, whittle } from './cli.js';
import { assertRunLog } from './run-log-check.js';

interface Entry {
  trial: number;
  valAccuracy: number;
  bytes: number;
  latencyMs: number;
}
interface Point {
  x: number;
  y: number;
  trial: number;
}

test('optimize logs every trial; the report draws its accuracy–size–latency scatter and Pareto front', async (t) => {
  const dir = tempDir();
  const model = join(dir, 'mlp.onnx');
  const tr = whittle(['train', '--model', 'mlp:784-64-10', '--epochs', '1', '--samples', '2000', '--seed', '3', '--threads', '1', '--out', model, '--json']);
  assert.equal(tr.code, 0, tr.stderr);
  const out = join(dir, 'opt');
  const o = whittle([
    'optimize',
    '--model',
    model,
    '--out',
    out,
    '--target',
    'size',
    '--budget',
    '12000',
    '--trials',
    '4',
    '--population',
    '2',
    '--train-samples',
    '500',
    '--val-samples',
    '300',
    '--final-epochs',
    '1',
    '--final-samples',
    '1000',
    '--latency-table',
    join(dir, 'latency.json'),
    '--seed',
    '3',
    '--workers',
    '1',
    '--threads',
    '1',
    '--json',
  ]);
  assert.equal(o.code, 0, o.stderr);
  const r = o.json as { front: Entry[]; trials: number; chosen: Entry; final: { testAccuracy: number } };
  const log = assertRunLog(join(out, 'log.jsonl'), 'optimize', ['trial', 'result']);
  assert.equal(log.trials.length, r.trials);
  assert.deepEqual(
    log.trials.map((x) => x.trial),
    log.trials.map((_, i) => i),
    'one line per trial, in order',
  );
  // Every front entry is a logged trial with the same measurements.
  for (const f of r.front) {
    const logged = log.trials.find((x) => x.trial === f.trial);
    assert.deepEqual([logged?.valAccuracy, logged?.bytes, logged?.latencyMs], [f.valAccuracy, f.bytes, f.latencyMs]);
  }
  assert.deepEqual(log.result?.['front'], r.front);

  // `whittle report DIR` reads DIR/log.jsonl.
  const html = join(dir, 'report.html');
  const rep = whittle(['report', out, '--out', html, '--json']);
  assert.equal(rep.code, 0, rep.stderr);
  const text = readFileSync(html, 'utf8');
  assert.ok(text.includes('<h2>optimize ') && text.includes('<h3>Search: accuracy, size and latency</h3>') && text.includes('<h3>Pareto front</h3>'));
  for (const f of r.front)
    for (const s of [`${(100 * f.valAccuracy).toFixed(2)}%`, `${f.bytes.toLocaleString('en-US')} B`, `${f.latencyMs.toFixed(3)} ms`])
      assert.ok(text.includes(s), `front trial ${f.trial + 1}: ${s}`);
  assert.ok(text.includes(`<td>${r.chosen.trial + 1} (chosen)</td>`));
  assert.ok(text.includes(`test accuracy ${(100 * r.final.testAccuracy).toFixed(2)}%`));
  const expected = (key: 'bytes' | 'latencyMs'): Point[] =>
    [...r.front].sort((a, b) => a[key] - b[key]).map((f) => ({ x: f[key], y: 100 * f.valAccuracy, trial: f.trial + 1 }));
  const block = /<script type="application\/json" id="whittle-charts">([^<]*)<\/script>/.exec(text);
  const specs = JSON.parse(block?.[1] ?? '[]') as { id: string; config: { data: { datasets: { label: string; data: Point[] }[] } } }[];
  const frontOf = (id: string): Point[] | undefined => specs.find((s) => s.id === id)?.config.data.datasets.find((d) => d.label === 'Pareto front')?.data;
  assert.deepEqual(frontOf('r0-front-size'), expected('bytes'));
  assert.deepEqual(frontOf('r0-front-latency'), expected('latencyMs'));
  process.stderr.write(
    `report-optimize: ${r.trials} trials, front ${r.front.map((f) => `#${f.trial + 1} ${(100 * f.valAccuracy).toFixed(2)}% ${f.bytes} B ${f.latencyMs.toFixed(3)} ms`).join('; ')}\n`,
  );

  const missing = browserMissing();
  if (missing !== undefined) {
    process.stderr.write(`SKIP browser part: ${missing}\n`);
    t.skip(missing);
    return;
  }
  const browser = await launchChromium();
  try {
    const page = await browser.newPage();
    const errors: string[] = [];
    const external: string[] = [];
    await page.route('**/*', (q) => (q.request().url().startsWith('file:') ? q.continue() : (external.push(q.request().url()), q.abort())));
    page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
    page.on('pageerror', (err) => errors.push(err.message));
    await page.goto(`file://${html}`);
    await page.waitForFunction('Number(document.body.dataset.charts) > 0', undefined, { timeout: 10_000 });
    assert.equal(await page.getAttribute('body', 'data-charts'), String((text.match(/<canvas /g) ?? []).length), 'every chart drawn');
    for (const [id, key] of [
      ['r0-front-size', 'bytes'],
      ['r0-front-latency', 'latencyMs'],
    ] as const) {
      // What Chart.js drew: the front dataset's points, and where they landed on the canvas.
      const drawn = (await page.evaluate(`(() => {
        const c = Chart.getChart('${id}');
        const i = c.data.datasets.findIndex((d) => d.label === 'Pareto front');
        const meta = c.getDatasetMeta(i);
        return { data: c.data.datasets[i].data, pixels: meta.data.map((p) => [p.x, p.y]), area: c.chartArea };
      })()`)) as { data: Point[]; pixels: [number, number][]; area: { left: number; right: number; top: number; bottom: number } };
      assert.deepEqual(drawn.data, expected(key), id);
      assert.equal(drawn.pixels.length, r.front.length);
      for (const [x, y] of drawn.pixels)
        assert.ok(
          x >= drawn.area.left - 1 && x <= drawn.area.right + 1 && y >= drawn.area.top - 1 && y <= drawn.area.bottom + 1,
          `${id}: point inside the plot`,
        );
    }
    const shot = join(dir, 'report-optimize.png');
    await page.locator('section').first().screenshot({ path: shot });
    assert.deepEqual(readFileSync(shot).subarray(1, 4).toString(), 'PNG');
    assert.deepEqual(errors, [], 'no console errors');
    assert.deepEqual(external, [], 'nothing fetched from the network');
    const keep = process.env['WHITTLE_SCREENS_DIR'];
    if (keep !== undefined) {
      mkdirSync(keep, { recursive: true });
      copyFileSync(shot, join(keep, 'report-optimize.png'));
    }
  } finally {
    await browser.close();
  }
});
