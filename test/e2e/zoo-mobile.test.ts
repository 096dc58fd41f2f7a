// The zoo's MobileNetV2 trains end to end on MNIST (depthwise convs, ReLU6, BatchNorm, residual adds).
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { tempDir, whittle } from './cli.js';

test('mobilenet-v2 at width 0.35 learns in one short epoch', () => {
  const out = join(tempDir(), 'mobilenet.onnx');
  const r = whittle(['train', '--model', 'mobilenet-v2:0.35', '--epochs', '1', '--samples', '3200', '--seed', '0', '--out', out, '--json'], {
    timeoutMs: 900_000,
  });
  assert.equal(r.code, 0, r.stderr);
  // Chance is 10%; 50 steps measured 40% (a gradient wrong anywhere in the 52 convs stays near chance).
  assert.ok(Number(r.json?.['accuracy']) > 0.25, `accuracy ${r.json?.['accuracy']}`);
});
