// whittle optimize --teacher / --shifts end to end on small MLPs and a few thousand MNIST samples:
// the final distils from another model that records another input normalization (fed its own),
// the shift probe is reported and decides, and a bad teacher is one clear error before any trial.
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, test } from 'node:test';
import { encodeModel } from '../../src/ir/onnx.js';
import { createModel } from '../../src/nn/index.js';
import { tempDir, whittle } from './cli.js';

const dir = tempDir();
const student = join(dir, 'student.onnx');
const teacher = join(dir, 'teacher.onnx');
const BUDGET = 12000;
const args = (out: string, ...more: string[]): string[] => [
  'optimize',
  '--model',
  student,
  '--out',
  out,
  '--target',
  'size',
  '--budget',
  String(BUDGET),
  '--trials',
  '2',
  '--population',
  '2',
  '--workers',
  '1',
  '--train-samples',
  '800',
  '--val-samples',
  '400',
  '--final-epochs',
  '1',
  '--final-samples',
  '1500',
  '--latency-table',
  join(dir, 'latency.json'),
  '--seed',
  '3',
  '--json',
  ...more,
];

before(() => {
  // Student on x/255, teacher on mean/std: the teacher must be fed its own normalization.
  const s = whittle([
    'train',
    '--model',
    'mlp:784-64-10',
    '--epochs',
    '2',
    '--samples',
    '4000',
    '--seed',
    '3',
    '--normalize',
    'x/255',
    '--out',
    student,
    '--json',
  ]);
  assert.equal(s.code, 0, s.stderr);
  const t = whittle([
    'train',
    '--model',
    'mlp:784-128-10',
    '--epochs',
    '3',
    '--samples',
    '4000',
    '--seed',
    '4',
    '--normalize',
    'mnist-mean-std',
    '--out',
    teacher,
    '--json',
  ]);
  assert.equal(t.code, 0, t.stderr);
});

test('optimize --teacher --shifts: the final distils from the teacher fed its recorded normalization; the shift probe decides on validation', () => {
  const out = join(dir, 'taught');
  const r = whittle(args(out, '--teacher', teacher, '--shifts', '1'), { timeoutMs: 900_000 });
  assert.equal(r.code, 0, r.stderr);
  const j = r.json as {
    teachers?: { path: string; normalization: string; valAccuracy: number; split: string }[];
    shiftProbe?: { shift: number; valAccuracy: number; without: number; used: boolean };
    distillation?: { probes: { valAccuracy: number }[] };
    final: { bytes: number; testAccuracy: number; file: string; withinBudget: boolean };
  };
  assert.equal(j.teachers?.length, 1);
  const t = j.teachers?.[0];
  assert.ok(t !== undefined && t.path === teacher && t.normalization === 'mnist-mean-std', JSON.stringify(t));
  assert.ok(t.valAccuracy > 0.85, `teacher validation ${t.valAccuracy}`);
  assert.match(r.stderr, /optimize: teacher .*teacher\.onnx \(inputs mnist-mean-std\): validation/);
  // A teacher whose split is not this search's is flagged (it may have seen the validation samples).
  if (t.split !== 'same') assert.match(r.stderr, /warning: teacher .* may have trained on the validation samples/);
  const p = j.shiftProbe;
  assert.ok(p !== undefined && p.shift === 1, JSON.stringify(p));
  assert.equal(p.without, Math.max(...(j.distillation?.probes ?? []).map((q) => q.valAccuracy)));
  assert.equal(p.used, p.valAccuracy > p.without);
  assert.match(r.stderr, /images shifted by up to 1 px: validation/);
  assert.equal(j.final.withinBudget, true);
  assert.equal(readFileSync(j.final.file).length, j.final.bytes);
  assert.ok(j.final.testAccuracy > 0.8, `test accuracy ${j.final.testAccuracy}`);
});

test('optimize --teacher: a missing file or a teacher of other classes is one clear error before any trial', () => {
  const missing = whittle(args(join(dir, 'missing'), '--teacher', join(dir, 'nope.onnx')));
  assert.notEqual(missing.code, 0);
  assert.match(missing.stderr, /--teacher .*nope\.onnx does not exist/);
  const five = join(dir, 'five.onnx');
  writeFileSync(five, encodeModel(createModel('mlp:784-16-5', { seed: 1 })));
  const out = join(dir, 'five');
  const r = whittle(args(out, '--teacher', five));
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /the teacher must predict the same classes as the student/);
  assert.ok(!existsSync(join(out, 'result.json')));
  assert.doesNotMatch(r.stderr, /optimize: trial 1/);
});
