// Run logs from the CLI: written beside --out as the run goes (a killed run keeps its epochs),
// CSV with --log FILE.csv, and `whittle report` over them; a missing or truncated log is refused
// naming the file and line. Recipes are found by name.
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { resolveRecipePath } from '../../src/cli/recipes.js';
import { readRunLog } from '../../src/report/index.js';
import { tempDir, whittle, whittleAsync } from './cli.js';

test('train: OUT.log.jsonl has one line per epoch as it goes; a killed run keeps them', async () => {
  const dir = tempDir();
  const out = join(dir, 'm.onnx');
  const logPath = `${out}.log.jsonl`;
  const { child, done } = whittleAsync(['train', '--model', 'mlp:784-30-10', '--epochs', '200', '--samples', '1000', '--threads', '1', '--out', out]);
  const epochs = (): number =>
    existsSync(logPath)
      ? readFileSync(logPath, 'utf8')
          .split('\n')
          .filter((l) => l.includes('"type":"epoch"')).length
      : 0;
  const t0 = Date.now();
  while (epochs() < 2 && Date.now() - t0 < 60_000) await new Promise((r) => setTimeout(r, 100));
  child.kill('SIGKILL');
  await done;
  const log = readRunLog(logPath);
  assert.equal(log.command, 'train');
  assert.equal(log.model, 'mlp:784-30-10');
  assert.ok(log.epochs.length >= 2, `${log.epochs.length} epochs survived the kill`);
  assert.deepEqual(
    log.epochs.map((e) => e.epoch),
    log.epochs.map((_, i) => i + 1),
  );
  assert.ok(log.epochs.every((e) => e.phase === 'train' && e.valAccuracy !== undefined && Number.isFinite(e.loss)));
  assert.equal(log.result, undefined, 'a killed run has no result line');
});

test('prune --log FILE.csv and train logs → whittle report; bad logs name the file and line', () => {
  const dir = tempDir();
  const trained = join(dir, 'm.onnx');
  const t = whittle(['train', '--model', 'mlp:784-30-10', '--epochs', '2', '--samples', '1000', '--threads', '1', '--out', trained, '--json']);
  assert.equal(t.code, 0, t.stderr);
  const trainLog = readRunLog(`${trained}.log.jsonl`);
  const history = t.json?.['history'] as { loss: number; valAccuracy: number }[];
  assert.deepEqual(
    trainLog.epochs.map((e) => [e.loss, e.valAccuracy]),
    history.map((h) => [h.loss, h.valAccuracy]),
  );
  assert.equal(trainLog.result?.['accuracy'], t.json?.['accuracy']);

  const csv = join(dir, 'prune.csv');
  const p = whittle([
    'prune',
    '--model',
    trained,
    '--sparsity',
    '0.8',
    '--fine-tune-epochs',
    '1',
    '--samples',
    '1000',
    '--eval-limit',
    '1000',
    '--threads',
    '1',
    '--out',
    join(dir, 'p.onnx'),
    '--log',
    csv,
    '--json',
  ]);
  assert.equal(p.code, 0, p.stderr);
  assert.ok(!existsSync(join(dir, 'p.onnx.log.jsonl')), '--log replaces the default');
  const pruneLog = readRunLog(csv);
  assert.deepEqual(
    pruneLog.stages.map((s) => s.stage),
    ['before', 'pruned', 'final'],
  );
  assert.deepEqual(
    pruneLog.stages.map((s) => s.accuracy),
    [p.json?.['accuracyBefore'], p.json?.['accuracyPruned'], p.json?.['accuracy']],
  );
  assert.deepEqual(
    pruneLog.epochs.map((e) => e.phase),
    ['fine-tune'],
  );

  const sensLog = join(dir, 's.jsonl');
  const sens = whittle(['sensitivity', '--model', trained, '--sparsities', '0.5,0.9', '--eval-limit', '500', '--threads', '1', '--log', sensLog, '--json']);
  assert.equal(sens.code, 0, sens.stderr);
  assert.deepEqual(readRunLog(sensLog).result?.['layers'], sens.json?.['layers']);

  const html = join(dir, 'r.html');
  const r = whittle(['report', `${trained}.log.jsonl`, csv, sensLog, '--model', join(dir, 'p.onnx'), '--out', html, '--json']);
  assert.equal(r.code, 0, r.stderr);
  const text = readFileSync(html, 'utf8');
  assert.equal(r.json?.['bytes'], Buffer.byteLength(text));
  assert.ok(text.includes('<h2>train mlp:784-30-10</h2>') && text.includes('<h2>prune ') && text.includes('<h2>Model</h2>'));
  assert.ok(text.includes('<h3>Sensitivity per layer</h3>'), 'sensitivity curves (the CSV prune log has no result line, so no per-layer pruning section)');
  assert.ok(text.includes(`${(100 * Number(p.json?.['accuracy'])).toFixed(2)}%`), 'the final pruned accuracy is in the stage table');

  // export --web with a plain ONNX model: one (dense) column, the test set cut to --eval-limit.
  const site = join(dir, 'site');
  const x = whittle(['export', '--web', site, '--model', join(dir, 'p.onnx'), '--eval-limit', '100', '--json']);
  assert.equal(x.code, 0, x.stderr);
  const manifest = JSON.parse(readFileSync(join(site, 'manifest.json'), 'utf8')) as {
    models: { id: string; format: string; bytes: number }[];
    test: { count: number; sampleSize: number };
    inputShape: number[];
  };
  assert.deepEqual(
    manifest.models.map((m) => [m.id, m.format, m.bytes]),
    [['dense', 'onnx', readFileSync(join(dir, 'p.onnx')).length]],
  );
  assert.deepEqual(readFileSync(join(site, 'model.onnx')), readFileSync(join(dir, 'p.onnx')));
  assert.deepEqual([manifest.test.count, manifest.test.sampleSize, manifest.inputShape], [100, 784, [1, 28, 28]]);
  const noWeb = whittle(['export', '--model', join(dir, 'p.onnx')]);
  assert.equal(noWeb.code, 2, noWeb.stderr);
  assert.match(noWeb.stderr, /whittle export needs --web DIR/);

  const cut = join(dir, 'cut.jsonl');
  const full = readFileSync(`${trained}.log.jsonl`, 'utf8');
  writeFileSync(cut, full.slice(0, full.length - 20));
  const lines = full.trimEnd().split('\n').length;
  // A damaged log is a failure (exit 1); a missing one a missing input, a usage error (exit 2).
  for (const [args, re, code] of [
    [[cut], new RegExp(`${cut.replace(/[.]/g, '\\.')}:${lines}: the last line is truncated`), 1],
    [[join(dir, 'nope.jsonl')], /nope\.jsonl: no such run log/, 2],
  ] as const) {
    const bad = whittle(['report', ...args, '--out', join(dir, 'bad.html')]);
    assert.equal(bad.code, code, bad.stderr);
    assert.match(bad.stderr, re);
    assert.ok(!existsSync(join(dir, 'bad.html')), 'no report written');
  }
});

test('--recipe takes a shipped recipe by name, from any directory', () => {
  for (const spec of ['deep-compression-lenet-5', 'recipes/deep-compression-lenet-5.yaml', 'deep-compression-lenet-5.yaml']) {
    const path = resolveRecipePath(spec);
    assert.ok(path.endsWith('recipes/deep-compression-lenet-5.yaml') && existsSync(path), spec);
  }
  const r = whittle(['compress', '--recipe', 'deep-compression-nope', '--out', join(tempDir(), 'x')]);
  assert.equal(r.code, 2, r.stderr);
  assert.match(
    r.stderr,
    /--recipe deep-compression-nope: no such file, and not a shipped recipe \(deep-compression-any, deep-compression-lenet-300-100, deep-compression-lenet-5\)/,
  );
});
