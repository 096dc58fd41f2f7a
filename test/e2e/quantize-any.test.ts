// `whittle quantize` on models Whittle did not make (test/fixtures/corpus): dynamic int8 with no
// data (agreement on random inputs), static int8 calibrated from an .npy file, fp16; each result
// is written, runs in onnxruntime-node (quantize's own agreement) and onnxruntime-web (`whittle
// eval --runtime web --reference`), and follows the input model.
import assert from 'node:assert/strict';
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { tempDir, whittle } from './cli.js';

const CORPUS = fileURLToPath(new URL('../../../test/fixtures/corpus/', import.meta.url));
const dir = tempDir();

interface Agreement {
  inputs: string;
  samples: number;
  outputs: { name: string; cosine: number; top1: number | null }[];
}

function quantize(model: string, args: string[], out: string): Record<string, unknown> {
  const r = whittle(['quantize', '--model', join(CORPUS, model), '--threads', '1', '--out', join(dir, out), '--json', ...args]);
  assert.equal(r.code, 0, r.stderr);
  const j = r.json as Record<string, unknown>;
  assert.equal(j['bytes'], statSync(join(dir, out)).size);
  return j;
}

/** Runs the result against its input in onnxruntime-web (quantize measured it in node); returns the worst cosine. */
function checkRunsOnWeb(model: string, out: string, data: string[]): number {
  const e = whittle(['eval', '--model', join(dir, out), '--reference', join(CORPUS, model), '--runtime', 'web', '--eval-limit', '16', '--json', ...data]);
  assert.equal(e.code, 0, e.stderr);
  assert.equal(e.json?.['runtime'], 'web');
  return Math.min(...(e.json?.['agreement'] as { cosine: number }[]).map((a) => a.cosine));
}

test('dynamic int8 without data: Transformer and LSTM outputs keep cosine ≥ 0.99 on random inputs; attention MatMuls listed as float', () => {
  const tr = quantize('transformer_encoder.opset13.onnx', ['--scheme', 'dynamic'], 'tr.onnx');
  const a = tr['agreement'] as Agreement;
  assert.equal(a.inputs, 'random');
  for (const o of a.outputs) assert.ok(o.cosine >= 0.99, `${o.name} cosine ${o.cosine}`);
  assert.ok((tr['skipped'] as { op: string }[]).some((s) => s.op === 'MatMul'));
  assert.ok(checkRunsOnWeb('transformer_encoder.opset13.onnx', 'tr.onnx', []) >= 0.99);
  const lstm = quantize('lstm.opset17.onnx', ['--scheme', 'dynamic', '--data', join(CORPUS, 'lstm.input.npy')], 'lstm.onnx');
  assert.equal((lstm['agreement'] as Agreement).inputs, 'data');
  assert.ok((lstm['layers'] as { op: string }[]).some((l) => l.op === 'LSTM'));
  for (const o of (lstm['agreement'] as Agreement).outputs) assert.ok(o.cosine >= 0.99, `${o.name} cosine ${o.cosine}`);
  assert.ok(Number(lstm['sizeRatio']) < 0.45);
});

test('static int8 from an .npy file and fp16 on MobileNetV3 (HardSwish, depthwise, SE) run in node and web', () => {
  const data = ['--data', join(CORPUS, 'images32.input.npy')];
  const q = quantize('mobilenet_v3_small.opset13.onnx', [...data, '--calibration-samples', '16', '--calibration', 'percentile'], 'mb3-int8.onnx');
  assert.deepEqual(q['calibration'], { method: 'percentile', samples: 16, data: join(CORPUS, 'images32.input.npy') });
  assert.equal((q['agreement'] as Agreement).samples, 16, 'agreement on the samples calibration did not use');
  assert.ok(Number(q['sizeRatio']) < 0.6);
  checkRunsOnWeb('mobilenet_v3_small.opset13.onnx', 'mb3-int8.onnx', data);
  const h = quantize('mobilenet_v3_small.opset17.onnx', ['--format', 'fp16'], 'mb3-fp16.onnx');
  assert.ok(Number(h['sizeRatio']) <= 0.55, `fp16 ${h['sizeRatio']}`);
  assert.ok((h['agreement'] as Agreement).outputs.every((o) => o.cosine >= 0.9999));
  assert.ok(checkRunsOnWeb('mobilenet_v3_small.opset17.onnx', 'mb3-fp16.onnx', data) >= 0.9999);
});

test('bad input: static int8 without data, data of the wrong shape: one line, non-zero, no file', () => {
  const out = join(dir, 'bad.onnx');
  const noData = whittle(['quantize', '--model', join(CORPUS, 'resnet18.opset17.onnx'), '--out', out]);
  assert.notEqual(noData.code, 0);
  assert.match(noData.stderr, /--scheme ptq\) calibrates activation ranges on sample inputs: pass --data/);
  assert.equal(noData.stderr.trim().split('\n').length, 1);
  const wrong = whittle(['quantize', '--model', join(CORPUS, 'resnet18.opset17.onnx'), '--data', join(CORPUS, 'lstm.input.npy'), '--out', out]);
  assert.notEqual(wrong.code, 0);
  assert.match(wrong.stderr, /input/);
  assert.ok(!wrong.stderr.includes('    at '), 'no stack trace');
  assert.ok(!existsSync(out));
});

test('static int8 of the corpus MNIST ResNet-20 from .npy calibration: ≥ 99% top-1 agreement, ≤ 0.5 points accuracy drop on the MNIST test set', () => {
  const model = 'mnist_resnet20.opset13.onnx';
  const q = quantize(model, ['--data', join(CORPUS, 'mnist.calib.npy'), '--calibration-samples', '256', '--calibration', 'percentile'], 'r20-int8.onnx');
  assert.equal((q['agreement'] as Agreement).samples, 256, 'agreement on the 256 calibration-file samples calibration did not use');
  assert.ok(Number(q['sizeRatio']) < 0.33, `int8 file ${q['sizeRatio']} of the fp32 file`);
  // The test images come from the bundled MNIST, normalized as the model was trained.
  const e = whittle([
    'eval',
    '--model',
    join(dir, 'r20-int8.onnx'),
    '--reference',
    join(CORPUS, model),
    '--normalize',
    'mnist-mean-std',
    '--eval-limit',
    '2000',
    '--threads',
    '1',
    '--json',
  ]);
  assert.equal(e.code, 0, e.stderr);
  const top1 = (e.json?.['agreement'] as { top1: number }[])[0]?.top1 as number;
  const drop = Number(e.json?.['referenceAccuracy']) - Number(e.json?.['accuracy']);
  assert.ok(Number(e.json?.['referenceAccuracy']) > 0.98);
  assert.ok(top1 >= 0.99, `top-1 agreement ${top1}`);
  assert.ok(drop <= 0.005, `accuracy drop ${drop}`);
});
