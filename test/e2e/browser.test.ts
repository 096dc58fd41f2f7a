// whittle demo → its run log and HTML report → export --web → the page in a real headless
// Chromium: it decodes the container, classifies the 10,000 test images with onnxruntime-web and
// shows the accuracy `whittle eval` gives, downloads ≤ 25 KB of model, logs no console error; a
// damaged container shows an error in the page. Skips (saying why) where Chromium is absent.
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { loadIdxDataset, subset } from '../../src/data/index.js';
import { readRunLog } from '../../src/report/index.js';
import { browserMissing, launchChromium, openExportedPage, serveStatic } from './browser.js';
import { tempDir, whittle } from './cli.js';
import { npyDir } from './own-data.js';

const pct = (x: number): string => `${(100 * x).toFixed(2)}%`;

test("demo writes a run log and a report; export --web runs the container in headless Chromium at eval's accuracy", async (t) => {
  const dir = tempDir();
  const out = join(dir, 'm.onnx');
  const d = whittle(['demo', '--epochs', '1', '--samples', '500', '--threads', '2', '--out', out, '--json']);
  assert.equal(d.code, 0, d.stderr);
  const j = d.json as Record<string, unknown>;
  const c = j['compression'] as { container: string; onnx: string; bytes: number; accuracy: number; stages: { stage: string; accuracy: number }[] };
  const report = `${out}.report.html`;
  assert.equal(j['report'], report);
  assert.ok(d.stderr.includes(`whittle demo: report ${report}`), "the demo prints the report's path");

  // The log holds every epoch and stage the run reported, as it reported them.
  const log = readRunLog(`${out}.log.jsonl`);
  assert.equal(log.command, 'demo');
  const history = j['history'] as { loss: number }[];
  assert.deepEqual(
    log.epochs.filter((e) => e.phase === 'demo').map((e) => e.loss),
    history.map((h) => h.loss),
  );
  assert.equal(log.epochs.filter((e) => e.phase !== 'demo').length, 3 * 6 + 2, 'three pruning rounds of 6 epochs, then 2 centroid epochs');
  assert.deepEqual(
    log.stages.map((s) => [s.stage, s.accuracy]),
    c.stages.map((s) => [s.stage, s.accuracy]),
  );
  assert.equal((log.result?.['compression'] as { bytes: number }).bytes, c.bytes);

  const html = readFileSync(report, 'utf8');
  assert.ok(html.includes('Deep Compression (Table 1)') && html.includes('Training and validation curves') && html.includes('<h2>Model</h2>'));
  assert.ok(html.includes(`${(c.bytes / 1000).toFixed(1)} KB`), 'Table 1 shows the container size');
  assert.doesNotMatch(html, /(src|href)=["']?(https?:)?\/\//, 'nothing loads from the network');

  const site = join(dir, 'site');
  const x = whittle(['export', '--web', site, '--model', c.container, '--json']);
  assert.equal(x.code, 0, x.stderr);
  for (const f of [
    'index.html',
    'whittle-web.js',
    'manifest.json',
    'model.wtl',
    'model.onnx',
    'test-set.bin',
    'ort.wasm.min.js',
    'ort-wasm-simd-threaded.wasm',
  ])
    assert.ok(existsSync(join(site, f)), f);
  const wtlBytes = statSync(c.container).size;
  assert.ok(wtlBytes <= 25_000, `the container is ${wtlBytes} bytes`);
  const e = whittle(['eval', '--model', c.onnx, '--json']);
  assert.equal(e.code, 0, e.stderr);
  const accuracy = e.json?.['accuracy'] as number;

  const missing = browserMissing();
  if (missing !== undefined) {
    process.stderr.write(`SKIP browser part: ${missing}\n`);
    t.skip(missing);
    return;
  }
  const bad = readFileSync(join(site, 'model.wtl'));
  const mid = Math.floor(bad.length / 2);
  bad[mid] = (bad[mid] as number) ^ 0x5a;
  const server = await serveStatic(site, new Map([['/bad/model.wtl', bad]]));
  const browser = await launchChromium();
  const shots = tempDir();
  try {
    const { page, errors } = await openExportedPage(browser, `${server.url}/index.html`);
    assert.equal(await page.textContent('#error'), '', 'no error shown');
    assert.equal(await page.getAttribute('body', 'data-state'), 'ready');
    assert.equal(await page.textContent('#accuracy-compressed'), pct(accuracy), 'the page scores the 10,000 test images as whittle eval does');
    assert.equal(server.sent.get('/model.wtl'), wtlBytes);
    assert.equal(await page.textContent('#bytes-compressed'), `${wtlBytes.toLocaleString('en-US')} bytes`);
    assert.ok(!server.sent.has('/model.onnx'), 'the dense model is not downloaded unless asked for');
    assert.match((await page.textContent('#latency-compressed')) ?? '', /^\d+\.\d\d ms per image$/);
    // Dense beside compressed: same weights, same accuracy.
    await page.click('#load-button-dense');
    await page.waitForFunction("document.getElementById('accuracy-dense').textContent !== '–' || document.body.dataset.state === 'error'", undefined, {
      timeout: 20_000,
    });
    assert.equal(await page.textContent('#accuracy-dense'), pct(accuracy));
    assert.equal(server.sent.get('/model.onnx'), statSync(join(site, 'model.onnx')).size);
    // Draw a vertical stroke, a "1": both models classify the drawing.
    const box = await page.locator('#draw').boundingBox();
    assert.ok(box);
    await page.mouse.move(box.x + 0.5 * box.width, box.y + 0.15 * box.height);
    await page.mouse.down();
    for (let k = 1; k <= 10; k++) await page.mouse.move(box.x + 0.5 * box.width, box.y + (0.15 + 0.07 * k) * box.height);
    await page.mouse.up();
    await page.waitForFunction("document.getElementById('label').textContent === 'your drawing'", undefined, { timeout: 5_000 });
    for (const id of ['compressed', 'dense']) assert.match((await page.textContent(`#pred-${id}`)) ?? '', /^1 \(\d+\.\d%\)$/, id);
    await page.screenshot({ path: join(shots, 'page.png'), fullPage: true });
    assert.deepEqual(errors, [], 'no console errors');
    process.stderr.write(
      `browser: page ${await page.textContent('#accuracy-compressed')} (whittle eval ${pct(accuracy)}), model.wtl ${server.sent.get('/model.wtl')} bytes downloaded, ${errors.length} console errors\n`,
    );

    // A damaged container: an error message in the page, not a blank screen.
    const badPage = await browser.newPage();
    await badPage.goto(`${server.url}/bad/index.html`);
    await badPage.waitForFunction("document.body.dataset.state === 'error'", undefined, { timeout: 20_000 });
    assert.match((await badPage.textContent('#error')) ?? '', /^Error: model\.wtl.*(checksum mismatch|corrupt|Huffman)/);
    assert.equal(await badPage.isVisible('#error'), true);

    // The report opens from disk with no network and draws its charts.
    const reportPage = await browser.newPage();
    const external: string[] = [];
    await reportPage.route('**/*', (r) => (r.request().url().startsWith('file:') ? r.continue() : (external.push(r.request().url()), r.abort())));
    const reportErrors: string[] = [];
    reportPage.on('console', (m) => m.type() === 'error' && reportErrors.push(m.text()));
    reportPage.on('pageerror', (err) => reportErrors.push(err.message));
    await reportPage.goto(`file://${report}`);
    await reportPage.waitForFunction('Number(document.body.dataset.charts) > 0', undefined, { timeout: 10_000 });
    assert.equal(await reportPage.getAttribute('body', 'data-charts'), String((html.match(/<canvas /g) ?? []).length), 'every chart drawn');
    await reportPage.screenshot({ path: join(shots, 'report.png'), fullPage: true });
    assert.deepEqual(external, []);
    assert.deepEqual(reportErrors, []);
    const keep = process.env['WHITTLE_SCREENS_DIR'];
    if (keep !== undefined) {
      mkdirSync(keep, { recursive: true });
      for (const f of ['page.png', 'report.png']) copyFileSync(join(shots, f), join(keep, f));
    }
  } finally {
    await browser.close();
    await server.close();
  }
});

test('export --web with your own .npy samples: a PyTorch export scored in headless Chromium as whittle eval scores it, no drawing pad', async (t) => {
  const dir = tempDir();
  // torch.onnx ResNet-20 (opset 17), trained on MNIST fed as (x / 255 − mean) / std: own samples in that form.
  const model = 'test/fixtures/corpus/mnist_resnet20.opset17.onnx';
  const own = npyDir(join(dir, 'own'), subset(loadIdxDataset().test, 0, 400), true, true);
  const site = join(dir, 'site');
  const x = whittle(['export', '--web', site, '--model', model, '--data', own, '--json']);
  assert.equal(x.code, 0, x.stderr);
  assert.deepEqual([x.json?.['testSamples'], x.json?.['testDtype'], x.json?.['labelled'], x.json?.['normalize']], [400, 'float32', true, 'none']);
  const manifest = JSON.parse(readFileSync(join(site, 'manifest.json'), 'utf8')) as { drawable: boolean; test: { bytes: number } };
  assert.equal(manifest.drawable, false);
  assert.equal(manifest.test.bytes, statSync(join(site, 'test-set.bin')).size);
  // --normalize converts MNIST/CIFAR bytes; own samples are fed as read.
  const n = whittle(['export', '--web', join(dir, 'site2'), '--model', model, '--data', own, '--normalize', 'x/255']);
  assert.equal(n.code, 2, n.stderr);
  assert.match(n.stderr, /--normalize applies to MNIST\/CIFAR bytes/);
  const e = whittle(['eval', '--model', model, '--data', own, '--json']);
  assert.equal(e.code, 0, e.stderr);
  const accuracy = e.json?.['accuracy'] as number;
  assert.ok(accuracy > 0.95, `eval ${accuracy}`);

  const missing = browserMissing();
  if (missing !== undefined) {
    process.stderr.write(`SKIP browser part: ${missing}\n`);
    t.skip(missing);
    return;
  }
  const server = await serveStatic(site, new Map());
  const browser = await launchChromium();
  try {
    const { page, errors } = await openExportedPage(browser, `${server.url}/index.html`);
    assert.equal(await page.textContent('#error'), '', 'no error shown');
    assert.equal(await page.textContent('#accuracy-dense'), pct(accuracy), 'the page scores the 400 own samples as whittle eval does');
    assert.match((await page.textContent('#correct-dense')) ?? '', new RegExp(`^${Math.round(accuracy * 400)} / 400 correct`));
    assert.equal(await page.isVisible('#draw'), false, 'no drawing pad for own samples');
    assert.equal(await page.isVisible('#digit'), true, 'a one-channel 28×28 sample is shown');
    assert.match((await page.textContent('#label')) ?? '', /^test sample #0, label \d$/);
    assert.match((await page.textContent('#pred-dense')) ?? '', /^\d \(\d+\.\d%\)$/);
    assert.deepEqual(errors, [], 'no console errors');
  } finally {
    await browser.close();
    await server.close();
  }
});
