// The MobileNetV3 recipe's allocation (recipes/prune-mobilenet-v3.md) keeps its promises without
// the slow fine-tune: at least half of all prunable channels go, the thinned file keeps at most
// 55% of the FLOPs, every group keeps a multiple of 8 channels (--round-to 8: onnxruntime's x86
// blocked convolutions), and the sensitive residual projections keep more than the SE reductions.
// `sensitivity --round-to` measures the same rounded models.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { tempDir, whittle } from './cli.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const MODEL = join(ROOT, 'test/fixtures/corpus/mnist_mobilenet_v3.opset17.onnx');
type Group = { name: string; channelsBefore: number; channelsAfter: number };

function prune(perLayer: string, extra: string[]): { groups: Group[]; flopsRatio: number; stderr: string } {
  const out = join(tempDir(), 'mv3.onnx');
  const args = ['prune', '--model', MODEL, '--granularity', 'channel', '--per-layer', perLayer, ...extra];
  const r = whittle([...args, '--normalize', 'mnist-mean-std', '--eval-limit', '200', '--threads', '1', '--out', out, '--json']);
  assert.equal(r.code, 0, r.stderr);
  return { groups: r.json?.['groups'] as Group[], flopsRatio: Number(r.json?.['flops']) / Number(r.json?.['flopsBefore']), stderr: r.stderr };
}

test('the MobileNetV3 recipe removes ≥ 50% of the channels, keeps ≤ 55% of the FLOPs, every group a multiple of 8', () => {
  const perLayer = readFileSync(join(ROOT, 'recipes/prune-mobilenet-v3.per-layer.txt'), 'utf8').trim();
  const { groups, flopsRatio, stderr } = prune(perLayer, ['--round-to', '8']);
  assert.doesNotMatch(stderr, /not a multiple of 8/);
  assert.equal(groups.length, 16);
  const before = groups.reduce((a, g) => a + g.channelsBefore, 0);
  const after = groups.reduce((a, g) => a + g.channelsAfter, 0);
  assert.equal(before, 1112);
  assert.ok(after <= before / 2, `${after} of ${before} channels kept`);
  assert.ok(flopsRatio <= 0.55, `FLOPs ratio ${flopsRatio}`);
  for (const g of groups) assert.equal(g.channelsAfter % 8, 0, `${g.name} keeps ${g.channelsAfter}`);
  const kept = (name: string): number => {
    const g = groups.find((x) => x.name === name);
    return (g?.channelsAfter ?? 0) / (g?.channelsBefore ?? 1);
  };
  assert.ok(kept('/features/features.4/block/block.3/block.3.0/Conv') > kept('/features/features.4/block/block.2/fc1/Conv'));
  // The same sparsities unrounded leave counts off the blocked layout (72 at 0.625 keeps 27): the flag is what rounds.
  const plain = prune(perLayer, []);
  assert.ok(
    plain.groups.some((g) => g.channelsAfter % 8 !== 0),
    plain.groups.map((g) => g.channelsAfter).join(', '),
  );
  assert.match(plain.stderr, /thinned convolution group\(s\) keep a channel count that is not a multiple of 8 .*--round-to 8 keeps them there/);
  // Nearest rounding: 72 → 27 → 24 rather than 32.
  const nearest = prune(perLayer, ['--round-to', '8', '--rounding', 'nearest']);
  assert.equal(nearest.groups.find((g) => g.name === '/features/features.3/block/block.0/block.0.0/Conv')?.channelsAfter, 24);
  // Weights have no channel count to round: refused before any work.
  const weights = whittle(['prune', '--model', MODEL, '--sparsity', '0.5', '--round-to', '8', '--json']);
  assert.equal(weights.code, 2);
  assert.match(weights.stderr, /--round-to rounds the neurons\/filters each layer keeps: set --granularity to 'neuron', 'filter' or 'channel'/);
});

test('sensitivity --round-to measures the rounded models prune builds, on the validation split', () => {
  const layer = '/features/features.3/block/block.0/block.0.0/Conv';
  const args = ['sensitivity', '--model', MODEL, '--granularity', 'channel', '--layers', layer, '--sparsities', '0.5,0.625', '--eval-limit', '100'];
  const s = whittle([...args, '--round-to', '8', '--normalize', 'mnist-mean-std', '--threads', '1', '--json']);
  assert.equal(s.code, 0, s.stderr);
  assert.equal(s.json?.['roundTo'], 8);
  assert.equal(s.json?.['samples'], 100);
  const points = (s.json?.['layers'] as { points: { sparsity: number; accuracy: number; channels: number }[] }[])[0]?.points ?? [];
  // 72 channels: 0.5 keeps 36 → 40, 0.625 keeps 27 → 32 (unrounded: 36 and 27).
  assert.deepEqual(
    points.map((p) => p.channels),
    [40, 32],
  );
  for (const p of points) assert.ok(p.accuracy > 0.5 && p.accuracy <= 1, `accuracy ${p.accuracy}`);
  const bad = whittle(['sensitivity', '--model', MODEL, '--round-to', '8', '--sparsities', '0.5']);
  assert.notEqual(bad.code, 0);
  assert.match(bad.stderr, /--round-to and --rounding round the channels a group keeps: add --granularity channel/);
});
