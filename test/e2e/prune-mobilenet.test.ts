// The MobileNetV3 recipe's allocation (recipes/prune-mobilenet-v3.md) keeps its promises without
// the slow fine-tune: at least half of all prunable channels go, the thinned file keeps at most
// 55% of the FLOPs, and the sensitive residual projections keep more than the SE reductions.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { tempDir, whittle } from './cli.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

test('the MobileNetV3 recipe removes ≥ 50% of the channels and keeps ≤ 55% of the FLOPs', () => {
  const perLayer = readFileSync(join(ROOT, 'recipes/prune-mobilenet-v3.per-layer.txt'), 'utf8').trim();
  const out = join(tempDir(), 'mv3.onnx');
  const r = whittle([
    'prune',
    '--model',
    join(ROOT, 'test/fixtures/corpus/mnist_mobilenet_v3.opset17.onnx'),
    '--granularity',
    'channel',
    '--per-layer',
    perLayer,
    '--normalize',
    'mnist-mean-std',
    '--eval-limit',
    '200',
    '--threads',
    '1',
    '--out',
    out,
    '--json',
  ]);
  assert.equal(r.code, 0, r.stderr);
  const groups = r.json?.['groups'] as { name: string; channelsBefore: number; channelsAfter: number }[];
  assert.equal(groups.length, 16);
  const before = groups.reduce((a, g) => a + g.channelsBefore, 0);
  const after = groups.reduce((a, g) => a + g.channelsAfter, 0);
  assert.ok(after <= before / 2, `${after} of ${before} channels kept`);
  const ratio = Number(r.json?.['flops']) / Number(r.json?.['flopsBefore']);
  assert.ok(ratio <= 0.55, `FLOPs ratio ${ratio}`);
  const kept = (name: string): number => {
    const g = groups.find((x) => x.name === name);
    return (g?.channelsAfter ?? 0) / (g?.channelsBefore ?? 1);
  };
  assert.ok(kept('/features/features.4/block/block.3/block.3.0/Conv') > kept('/features/features.4/block/block.2/fc1/Conv'));
});
