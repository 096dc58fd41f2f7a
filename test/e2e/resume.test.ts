// Nothing lost: kill -9 during training, then --resume, gives the same model as a run that was
// never interrupted; Ctrl-C saves a checkpoint and exits cleanly.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { tempDir, whittle, whittleAsync } from './cli.js';

const ARGS = [
  'train',
  '--model',
  'lenet-300-100',
  '--epochs',
  '4',
  '--samples',
  '12800',
  '--seed',
  '3',
  '--threads',
  '1',
  '--lr-schedule',
  'cosine',
  '--optimizer',
  'adam',
  '--lr',
  '0.001',
];

async function waitFor(path: string, ms: number): Promise<void> {
  const t0 = Date.now();
  while (!existsSync(path)) {
    if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${path}`);
    await sleep(20);
  }
}

test('kill -9 mid-run then --resume ends bit-identical to an uninterrupted run', async () => {
  const dir = tempDir();
  const ref = join(dir, 'ref.onnx');
  const r = whittle([...ARGS, '--out', ref, '--json']);
  assert.equal(r.code, 0, r.stderr);

  const out = join(dir, 'killed.onnx');
  const { child, done } = whittleAsync([...ARGS, '--out', out]);
  await waitFor(`${out}.ckpt`, 120_000);
  child.kill('SIGKILL');
  const killed = await done;
  assert.equal(killed.code, null, 'the first run was killed');
  assert.ok(!existsSync(out), 'a killed run leaves no model file');

  const resumed = whittle([...ARGS, '--out', out, '--resume', '--json']);
  assert.equal(resumed.code, 0, resumed.stderr);
  assert.match(resumed.stderr, /resuming at epoch [2-4]/);
  assert.deepEqual(readFileSync(out), readFileSync(ref), 'resumed model is byte-identical');
  assert.equal(resumed.json?.['accuracy'], r.json?.['accuracy']);
});

test('Ctrl-C saves a checkpoint, exits 130, and --resume completes the run', async () => {
  const dir = tempDir();
  const out = join(dir, 'int.onnx');
  const { child, done } = whittleAsync([...ARGS, '--out', out]);
  await waitFor(`${out}.ckpt`, 120_000);
  child.kill('SIGINT');
  const r = await done;
  assert.equal(r.code, 130, r.stderr);
  assert.match(r.stderr, /interrupted; saving a checkpoint/);
  assert.match(r.stderr, /--resume/);
  const resumed = whittle([...ARGS, '--out', out, '--resume', '--json']);
  assert.equal(resumed.code, 0, resumed.stderr);
  assert.equal(resumed.json?.['epochs'], 4);
  assert.ok(existsSync(out));
});

test('--resume with different settings is refused', () => {
  const dir = tempDir();
  const out = join(dir, 'm.onnx');
  const first = whittle(['train', '--model', 'lenet-300-100', '--epochs', '1', '--samples', '1024', '--out', out]);
  assert.equal(first.code, 0, first.stderr);
  const r = whittle([
    'train',
    '--model',
    'lenet-300-100',
    '--epochs',
    '1',
    '--samples',
    '1024',
    '--lr',
    '0.2',
    '--out',
    join(dir, 'm2.onnx'),
    '--checkpoint',
    `${out}.ckpt`,
    '--resume',
  ]);
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /other settings/);
});
