// Issue 15, item 8: a 100,000-node model must go through info, eval and quantize in seconds. What
// makes a large graph slow is paying for whole-model passes more than once (a parse, a
// serialization, an onnxruntime compilation each cost about as much as the file is large), so this
// guards how many each command pays for, on a short chain of the same shape as the large one.
// bench/large-graph.ts times the 100,000-node model itself.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';
import { saveModel } from '../../src/ir/io.js';
import { identityChainModel } from '../chain-model.js';
import { CLI, tempDir } from './cli.js';

interface Passes {
  decodes: number;
  encodes: number;
  sessions: number;
}

function passes(args: string[]): { passes: Passes; json: Record<string, unknown> } {
  const r = spawnSync(process.execPath, [CLI, ...args, '--json'], { encoding: 'utf8', env: { ...process.env, WHITTLE_PASS_COUNTS: '1' }, timeout: 300_000 });
  assert.equal(r.status, 0, r.stderr);
  const line = /whittle: passes (\{.*\})/.exec(r.stderr);
  assert.ok(line, `no pass counts on stderr: ${r.stderr}`);
  return { passes: JSON.parse(line[1] as string) as Passes, json: JSON.parse(r.stdout) as Record<string, unknown> };
}

const dir = tempDir();
const model = join(dir, 'chain.onnx');
saveModel(identityChainModel(300), model);

test('info parses the model once and serializes and compiles nothing', () => {
  const { passes: p, json } = passes(['info', '--model', model]);
  assert.deepEqual(json['ops'], { MatMul: 1, Add: 1, Identity: 300 });
  assert.deepEqual(p, { decodes: 1, encodes: 0, sessions: 0 });
});

test('eval parses once, serializes once and compiles one session (scored on the host, no second graph)', () => {
  const { passes: p, json } = passes(['eval', '--model', model, '--eval-limit', '500']);
  assert.equal(json['samples'], 500);
  // The fixed weights score near chance on MNIST; what matters is that it was measured.
  assert.ok(typeof json['accuracy'] === 'number' && json['accuracy'] > 0 && json['accuracy'] < 0.5);
  assert.deepEqual(p, { decodes: 1, encodes: 1, sessions: 1 });
});

test('quantize --scheme dynamic: one parse; one session per model (input, result), reused by the accuracy figures; the file written once', () => {
  const { passes: p, json } = passes(['quantize', '--model', model, '--scheme', 'dynamic', '--eval-limit', '500', '--out', join(dir, 'q.onnx')]);
  assert.equal(json['evalSamples'], 500);
  assert.ok(typeof json['accuracy'] === 'number' && typeof json['baselineAccuracy'] === 'number');
  // Encodes: the two sessions' graphs and the output file.
  assert.deepEqual(p, { decodes: 1, encodes: 3, sessions: 2 });
});
