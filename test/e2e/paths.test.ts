// Outputs never land on inputs, folders are made before work starts, and two runs never share an
// output (issue 15, items 1, 7 and 10).
import assert from 'node:assert/strict';
import { existsSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { tempDir, whittle, whittleAsync } from './cli.js';
import { encodeModel } from '../../src/ir/onnx.js';
import { createModel } from '../../src/nn/index.js';

function model(dir: string): string {
  const p = join(dir, 'in.onnx');
  writeFileSync(p, encodeModel(createModel('mlp:784-16-10')));
  return p;
}

test('train refuses a checkpoint on the input model, and a link to it as --out, before training', () => {
  const dir = tempDir();
  const input = model(dir);
  const before = readFileSync(input);
  const r = whittle(['train', '--model', input, '--checkpoint', input, '--out', join(dir, 'o.onnx'), '--epochs', '1', '--samples', '64']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /BAD_ARGUMENT.*--checkpoint .*in\.onnx is the input --model/);
  assert.doesNotMatch(r.stderr, /epoch/, 'refused before any training');
  assert.deepEqual(readFileSync(input), before);
  assert.equal(existsSync(join(dir, 'o.onnx')), false);
  symlinkSync(input, join(dir, 'link.onnx'));
  const l = whittle(['train', '--model', input, '--out', join(dir, 'link.onnx'), '--epochs', '1', '--samples', '64']);
  assert.equal(l.code, 2);
  assert.match(l.stderr, /--out .*link\.onnx is the input/);
  assert.deepEqual(readFileSync(input), before);
  const log = whittle(['train', '--model', input, '--log', input, '--out', join(dir, 'o.onnx'), '--epochs', '1', '--samples', '64']);
  assert.match(log.stderr, /--log .*in\.onnx is the input/);
  assert.deepEqual(readFileSync(input), before);
});

test('prune, quantize, distill, merge and grow refuse --out on an input model before any work', () => {
  const dir = tempDir();
  const input = model(dir);
  const before = readFileSync(input);
  const runs: [string, string[]][] = [
    ['--model', ['prune', '--model', input, '--sparsity', '0.5', '--samples', '64', '--out', input]],
    ['--model', ['quantize', '--model', input, '--scheme', 'dynamic', '--out', input]],
    ['--teacher', ['distill', '--teacher', input, '--student', 'mlp:784-8-10', '--epochs', '1', '--samples', '64', '--out', input]],
    ['--model', ['merge', '--model', input, '--layer', 'fc1', '--count', '4', '--out', input]],
    ['--model', ['grow', '--model', input, '--widen', 'fc1=32', '--out', input]],
  ];
  for (const [flag, args] of runs) {
    const r = whittle(args);
    assert.equal(r.code, 2, `${args[0]}: ${r.stderr}`);
    assert.match(r.stderr, new RegExp(`BAD_ARGUMENT.*--out .*in\\.onnx is the input ${flag}`), args[0]);
    assert.doesNotMatch(r.stderr, /epoch|accuracy/, `${args[0]} refused before any work`);
    assert.deepEqual(readFileSync(input), before, `${args[0]} left the input as it was`);
  }
});

test('a missing output folder is created (mkdir -p); an unwritable one is refused before any work', () => {
  const dir = tempDir();
  const input = model(dir);
  const out = join(dir, 'runs', 'deep', 'q.onnx');
  const r = whittle(['quantize', '--model', input, '--scheme', 'dynamic', '--out', out, '--eval-limit', '100', '--json']);
  assert.equal(r.code, 0, r.stderr);
  assert.ok(existsSync(out));
  if (process.getuid?.() !== 0) {
    const ro = whittle(['quantize', '--model', input, '--scheme', 'dynamic', '--out', '/proc/whittle/q.onnx', '--json']);
    assert.notEqual(ro.code, 0);
    assert.match(ro.stderr, /not writable|cannot create/);
    assert.doesNotMatch(ro.stderr, /accuracy/);
  }
});

test('a second run writing the same output is refused while the first runs', async () => {
  const dir = tempDir();
  const out = join(dir, 'm.onnx');
  // Long enough to outlast the second run's start-up on a fast machine (it is killed once that run is refused).
  const first = whittleAsync(['train', '--model', 'mlp:784-16-10', '--epochs', '1000', '--samples', '4000', '--out', out]);
  // Wait until the first run holds its lock.
  for (let i = 0; i < 300 && !existsSync(`${out}.lock`); i++) await new Promise((r) => setTimeout(r, 100));
  assert.ok(existsSync(`${out}.lock`), 'the first run takes a lock');
  const second = whittle(['train', '--model', 'mlp:784-16-10', '--epochs', '1', '--samples', '64', '--out', out]);
  first.child.kill('SIGKILL');
  await first.done;
  assert.equal(second.code, 2);
  assert.match(second.stderr, /is being written by another whittle run \(process \d+/);
  // The killed run's lock is stale: a new run takes it over.
  const third = whittle(['train', '--model', 'mlp:784-16-10', '--epochs', '1', '--samples', '64', '--out', out]);
  assert.equal(third.code, 0, third.stderr);
  assert.equal(existsSync(`${out}.lock`), false, 'the lock goes with the run');
});
