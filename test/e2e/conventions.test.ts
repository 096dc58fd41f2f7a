// CLI conventions (README "Output, errors and exit codes"): the result on stdout (a human summary,
// or one JSON object with --json), progress and logs on stderr, --quiet silences them; one error
// line format; exit codes 2 usage errors, 1 failures, 130 Ctrl-C.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { tempDir, whittle, whittleAsync } from './cli.js';

const ERROR_LINE = /^whittle: error \[[A-Z_]+\]: .+\n$/;

test('results go to stdout: the human summary without --json, exactly one JSON object with it', () => {
  const human = whittle(['info', '--model', 'lenet-300-100']);
  assert.equal(human.code, 0, human.stderr);
  assert.match(human.stdout, /^lenet-300-100: 266,610 params/, 'info | grep sees the summary');
  assert.equal(human.json, undefined);
  const json = whittle(['info', '--model', 'lenet-300-100', '--json']);
  assert.equal(json.code, 0, json.stderr);
  assert.equal(json.stdout.trim().split('\n').length, 1, 'one line of JSON, nothing else');
  assert.equal(json.json?.['params'], 266_610);
  assert.doesNotMatch(json.stdout, /MFLOPs/, 'no human text beside the JSON');
  assert.match(json.stderr, /^lenet-300-100: 266,610 params/m, 'with --json the summary goes to stderr with the progress');
});

test('progress and logs go to stderr, and --quiet silences them but not the result', () => {
  const dir = tempDir();
  const out = join(dir, 'm.onnx');
  const loud = whittle(['train', '--model', 'mlp:784-16-10', '--epochs', '1', '--samples', '600', '--threads', '1', '--out', out]);
  assert.equal(loud.code, 0, loud.stderr);
  assert.match(loud.stderr, /epoch 1\/1/, 'per-epoch progress on stderr');
  assert.match(loud.stdout, /train: test accuracy \d+\.\d\d%/, 'the result on stdout');
  assert.doesNotMatch(loud.stdout, /epoch 1\/1/, 'no progress on stdout');
  const quiet = whittle(['eval', '--model', out, '--eval-limit', '200', '--threads', '1', '--quiet']);
  assert.equal(quiet.code, 0, quiet.stderr);
  assert.equal(quiet.stderr, '');
  assert.match(quiet.stdout, /^eval .*m\.onnx: accuracy \d+\.\d\d% \(\d+\/200\)/);
  const quietJson = whittle(['prune', '--model', out, '--sparsity', '0.5', '--eval-limit', '200', '--threads', '1', '--quiet', '--json']);
  assert.equal(quietJson.code, 0, quietJson.stderr);
  assert.equal(quietJson.stderr, '');
  assert.equal(quietJson.json?.['sparsity'], 0.5);
});

test('one error format; usage errors exit 2, failures exit 1, errors still print with --quiet', () => {
  const dir = tempDir();
  const unknownFlag = whittle(['eval', '--model', 'lenet-5', '--no-such-flag']);
  assert.equal(unknownFlag.code, 2);
  assert.equal(unknownFlag.stdout, '');
  const badValue = whittle(['eval', '--model', 'lenet-5', '--eval-limit', '0']);
  assert.equal(badValue.code, 2);
  assert.match(badValue.stderr, /--eval-limit must be an integer ≥ 1/);
  const missing = whittle(['info', '--model', join(dir, 'missing.onnx'), '--quiet']);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, ERROR_LINE);
  // A library error in library terms comes out in flag terms.
  const combo = whittle(['quantize', '--model', 'lenet-5', '--scheme', 'dynamic', '--keep-float', 'auto', '--out', join(dir, 'q.onnx')]);
  assert.equal(combo.code, 2);
  assert.match(combo.stderr, /^whittle: error \[BAD_ARGUMENT\]: --keep-float auto times static int8 forms .*--scheme ptq/);
  assert.doesNotMatch(combo.stderr, /options\./);
  // Not a usage error: the file exists but is not a model.
  const junk = join(dir, 'junk.onnx');
  writeFileSync(junk, 'not a model'.repeat(20));
  const failure = whittle(['info', '--model', junk]);
  assert.equal(failure.code, 1);
  assert.match(failure.stderr, ERROR_LINE);
});

test('Ctrl-C exits 130', async () => {
  const dir = tempDir();
  const run = whittleAsync([
    'prune',
    '--model',
    'lenet-300-100',
    '--sparsity',
    '0.5',
    '--fine-tune-epochs',
    '20',
    '--threads',
    '1',
    '--out',
    join(dir, 'p.onnx'),
  ]);
  let stderr = '';
  run.child.stderr?.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  // Wait until it is working (the accuracy before pruning is printed), then interrupt.
  for (let i = 0; i < 600 && !/accuracy before/.test(stderr); i++) await new Promise((r) => setTimeout(r, 100));
  assert.match(stderr, /accuracy before/, 'the command started');
  run.child.kill('SIGINT');
  const r = await run.done;
  assert.equal(r.code, 130);
});
