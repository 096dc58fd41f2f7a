// Run logs: every line is in the file as soon as it is written (a killed run keeps it), JSONL
// and CSV hold the same values, and the trainer's other progress events pass through.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { CSV_COLUMNS, logEpochs, openRunLog } from './run-log.js';
import type { EpochRecord, ProgressEvent } from './trainer.js';

const record = (epoch: number): EpochRecord => ({
  epoch,
  loss: 1 / epoch,
  trainAccuracy: 0.5 + epoch / 10,
  valLoss: 2 / epoch,
  valAccuracy: 0.4 + epoch / 10,
  lr: 0.05,
  seconds: 1.5,
  samplesPerSec: 1000,
});

test('JSONL: each line reaches the file before write returns; epochs go through logEpochs', () => {
  const dir = mkdtempSync(join(tmpdir(), 'whittle-runlog-'));
  try {
    const path = join(dir, 'sub', 'run.log.jsonl');
    const log = openRunLog(path, { command: 'train', model: 'lenet-5' });
    const seen: ProgressEvent[] = [];
    const onProgress = logEpochs(log, 'fine-tune', (e: ProgressEvent) => seen.push(e));
    const lines = (): Record<string, unknown>[] =>
      readFileSync(path, 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.equal(lines()[0]?.['command'], 'train');
    onProgress({ type: 'step', epoch: 0, step: 1, stepsPerEpoch: 10, loss: 1, accuracy: 0.1, lr: 0.05 });
    assert.equal(lines().length, 1, 'steps are not logged');
    onProgress({ type: 'epoch', record: record(1) });
    // Read back before close: the line is already on disk.
    assert.deepEqual(lines()[1], { type: 'epoch', phase: 'fine-tune', ...record(1) });
    log.write({ type: 'stage', stage: 'pruned', accuracy: 0.97, seconds: 2 });
    log.write({ type: 'result', result: { accuracy: 0.97, layers: [{ name: 'fc1' }] } });
    log.close();
    assert.deepEqual(
      lines().map((l) => l['type']),
      ['run', 'epoch', 'stage', 'result'],
    );
    assert.deepEqual(lines()[3]?.['result'], { accuracy: 0.97, layers: [{ name: 'fc1' }] });
    assert.deepEqual(
      seen.map((e) => e.type),
      ['step', 'epoch'],
      'every event reaches the human reporter too',
    );
    assert.equal(logEpochs(undefined, 'x', undefined), undefined, 'no log: the callback is unchanged');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('CSV: a header, then one row per epoch or stage with the same values; results are JSON-only', () => {
  const dir = mkdtempSync(join(tmpdir(), 'whittle-runlog-'));
  try {
    const path = join(dir, 'run.csv');
    const log = openRunLog(path, { command: 'prune', model: 'a,"b"' });
    logEpochs(log, 'agp', () => {})({ type: 'epoch', record: record(2) });
    log.write({ type: 'stage', stage: 'final', accuracy: 0.9812, seconds: 3 });
    log.write({ type: 'result', result: { x: 1 } });
    log.close();
    const rows = readFileSync(path, 'utf8').trim().split('\n');
    assert.equal(rows[0], CSV_COLUMNS.join(','));
    assert.equal(rows.length, 4);
    const cell = (row: number, col: string): string | undefined => rows[row]?.split(',')[CSV_COLUMNS.indexOf(col as (typeof CSV_COLUMNS)[number])];
    assert.equal(cell(2, 'type'), 'epoch');
    assert.equal(cell(2, 'phase'), 'agp');
    assert.equal(Number(cell(2, 'loss')), 0.5);
    assert.equal(Number(cell(2, 'valAccuracy')), record(2).valAccuracy);
    assert.equal(cell(3, 'stage'), 'final');
    assert.equal(Number(cell(3, 'accuracy')), 0.9812);
    assert.ok(rows[1]?.includes('"a,""b"""'), 'text with commas and quotes is quoted');
    const failed = join(dir, 'failed.log.jsonl');
    openRunLog(failed, { command: 'train' }).close();
    assert.ok(!existsSync(failed), 'a run that failed before its first epoch leaves no log');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
