// QAT, ternary, cross-family distillation, merging and Net2Net growth on the PyTorch-trained
// modern corpus nets (ResNet-20, MobileNetV3, the ViT): each writes a model that onnxruntime runs
// (`whittle eval` loads the written file) above an accuracy floor, and growth keeps the function.
// Short runs (a few dozen steps) so the suite stays fast; floors sit far above chance (10%).
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { tempDir, whittle } from './cli.js';

const CORPUS = fileURLToPath(new URL('../../../test/fixtures/corpus/', import.meta.url));
const RESNET = join(CORPUS, 'mnist_resnet20.opset13.onnx');
const MOBILENET = join(CORPUS, 'mnist_mobilenet_v3.opset13.onnx');
const VIT = join(CORPUS, 'mnist_vit.opset13.onnx');
const COMMON = ['--normalize', 'mnist-mean-std', '--threads', '1', '--json'];

/** Accuracy of a written file on the first 500 test images, run by onnxruntime through `whittle eval`. */
function evalAccuracy(path: string): number {
  const r = whittle(['eval', '--model', path, '--normalize', 'mnist-mean-std', '--eval-limit', '500', '--json']);
  assert.equal(r.code, 0, r.stderr);
  return r.json?.['accuracy'] as number;
}

test('QAT 8-bit on the corpus ResNet-20: a QDQ file onnxruntime runs, within 2 points of the float model', () => {
  const out = join(tempDir(), 'qat.onnx');
  const r = whittle(['quantize', '--model', RESNET, '--scheme', 'qat', '--epochs', '1', '--samples', '256', '--eval-limit', '500', ...COMMON, '--out', out]);
  assert.equal(r.code, 0, r.stderr);
  const j = r.json ?? {};
  assert.equal(j['bits'], 8);
  assert.ok((j['accuracyDrop'] as number) <= 0.02, `QAT dropped ${j['accuracyDrop']}`);
  assert.ok(evalAccuracy(out) >= 0.97);
});

test('ternary on the corpus ResNet-20 (stem and classifier float): packed 2-bit file runs above a floor after 30 steps', () => {
  const out = join(tempDir(), 'ternary.onnx');
  const r = whittle([
    'quantize',
    '--model',
    RESNET,
    '--scheme',
    'ternary',
    '--keep-float',
    '/stem/stem.0/Conv,/fc/Gemm',
    '--epochs',
    '1',
    '--samples',
    '1920',
    '--lr',
    '0.01',
    '--eval-limit',
    '500',
    ...COMMON,
    '--out',
    out,
  ]);
  assert.equal(r.code, 0, r.stderr);
  assert.ok((r.json?.['bytes'] as number) < 0.3 * (r.json?.['inputBytes'] as number), 'ternary file is not under 30% of the float file');
  // 77% measured (30 steps from the float weights); chance is 10%.
  assert.ok(evalAccuracy(out) >= 0.5);
});

test('distillation across families: the ViT teaches the corpus ResNet-20', () => {
  const out = join(tempDir(), 'student.onnx');
  const r = whittle(['distill', '--teacher', VIT, '--student', RESNET, '--epochs', '1', '--samples', '640', '--lr', '0.005', ...COMMON, '--out', out]);
  assert.equal(r.code, 0, r.stderr);
  assert.ok(evalAccuracy(out) >= 0.96);
});

test("merge on the corpus ResNet-20: a quarter of a block's filters merged, the file is narrower and still accurate", () => {
  const out = join(tempDir(), 'merged.onnx');
  const r = whittle(['merge', '--model', RESNET, '--layer', '/layers/layers.0/conv1/Conv', '--ratio', '0.25', ...COMMON, '--out', out]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.json?.['widthBefore'], 8);
  assert.equal(r.json?.['widthAfter'], 6);
  assert.ok((r.json?.['params'] as number) < (r.json?.['paramsBefore'] as number));
  assert.ok(evalAccuracy(out) >= 0.97);
});

for (const [what, model, layer, width, added] of [
  ["the ViT's MLP (MatMul → GELU → MatMul)", VIT, '/encoder/layers.0/linear1/MatMul', 96, 32 * 32 * 2 + 32],
  ["MobileNetV3's classifier (Gemm → HardSwish → Gemm)", MOBILENET, '/classifier/classifier.0/Gemm', 160, 32 * 288 + 32 + 32 * 10],
] as const) {
  test(`Net2WiderNet on ${what}: the grown net computes the same function before training`, () => {
    const out = join(tempDir(), 'grown.onnx');
    const r = whittle(['grow', '--model', model, '--widen', `${layer}=${width}`, '--epochs', '1', '--samples', '64', ...COMMON, '--out', out]);
    assert.equal(r.code, 0, r.stderr);
    const j = r.json ?? {};
    assert.ok((j['maxAbsOutputChange'] as number) < 1e-4, `outputs moved by ${j['maxAbsOutputChange']}`);
    assert.equal((j['params'] as number) - (j['paramsBefore'] as number), added);
    assert.equal(evalAccuracy(out), evalAccuracy(model));
  });
}

test('widening attention heads or a LayerNorm-spanned width is refused with the reason', () => {
  const heads = whittle(['grow', '--model', VIT, '--widen', '/encoder/layers.0/self_attn/MatMul=64', '--epochs', '1', '--samples', '64', ...COMMON]);
  assert.equal(heads.code, 2, heads.stderr);
  assert.match(heads.stderr, /(attention heads|channels) of "\/encoder\/layers.0\/self_attn\/MatMul".*not supported/);
  const stream = whittle(['grow', '--model', VIT, '--widen', '/patch/Conv=48', '--epochs', '1', '--samples', '64', ...COMMON]);
  assert.equal(stream.code, 2, stream.stderr);
  assert.match(stream.stderr, /patch\/Conv/);
});
