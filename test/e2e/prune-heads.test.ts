// Structured pruning of attention heads end to end: `whittle prune --granularity head` on the
// PyTorch-exported ViT of the test corpus (4 blocks, 4 heads of 8), the thinned file's exact
// shapes, and `whittle info` naming the prunable groups and what blocks the others.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { decodeModel } from '../../src/ir/onnx.js';
import { tempDir, whittle } from './cli.js';

const CORPUS = fileURLToPath(new URL('../../../test/fixtures/corpus/', import.meta.url));
const VIT = join(CORPUS, 'mnist_vit.opset13.onnx');
const dir = tempDir();

test("prune --granularity head removes half of every block's heads: Q/K/V columns and out-projection rows together", () => {
  const out = join(dir, 'vit-heads.onnx');
  const r = whittle([
    'prune',
    '--model',
    VIT,
    '--granularity',
    'head',
    '--sparsity',
    '0.5',
    '--normalize',
    'mnist-mean-std',
    '--eval-limit',
    '500',
    '--threads',
    '1',
    '--out',
    out,
    '--json',
  ]);
  assert.equal(r.code, 0, r.stderr);
  const groups = r.json?.['groups'] as { name: string; channelsBefore: number; channelsAfter: number }[];
  assert.equal(groups.length, 4);
  for (const g of groups) assert.deepEqual([g.channelsBefore, g.channelsAfter], [4, 2], g.name);
  const g = decodeModel(readFileSync(out)).graph;
  for (let b = 0; b < 4; b++) {
    const inProj = g.nodes.find((n) => n.name === `/encoder/layers.${b}/self_attn/MatMul`);
    const outProj = g.nodes.find((n) => n.name === `/encoder/layers.${b}/self_attn/Gemm`);
    const mlp = g.nodes.find((n) => n.name === `/encoder/layers.${b}/linear1/MatMul`);
    assert.deepEqual(g.initializers.get(inProj?.inputs[1] ?? '')?.dims, [32, 48]);
    assert.deepEqual(g.initializers.get(outProj?.inputs[1] ?? '')?.dims, [32, 16]);
    assert.deepEqual(g.initializers.get(mlp?.inputs[1] ?? '')?.dims, [32, 64], 'the MLP keeps its units');
  }
  // Attention is about a fifth of this ViT's FLOPs; the prediction still works without fine-tuning.
  const ratio = Number(r.json?.['flops']) / Number(r.json?.['flopsBefore']);
  assert.ok(ratio > 0.7 && ratio < 0.9, `FLOPs ratio ${ratio}`);
  assert.ok(Number(r.json?.['accuracy']) > 0.5, `accuracy ${r.json?.['accuracy']}`);
});

test('prune --granularity head on a network without attention names what it found instead', () => {
  const r = whittle(['prune', '--model', 'lenet-300-100', '--granularity', 'head', '--sparsity', '0.5', '--eval-limit', '100', '--threads', '1']);
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /granularity.*head.*: the model has no prunable attention heads/);
});

test('info lists the channel groups by unit and the op that blocks each blocked group', () => {
  const r = whittle(['info', '--model', VIT, '--json']);
  assert.equal(r.code, 0, r.stderr);
  const groups = r.json?.['channelGroups'] as { name: string; unit: string; prunable: boolean; reason: string | null }[];
  assert.equal(groups.filter((g) => g.prunable && g.unit === 'head').length, 4);
  assert.equal(groups.filter((g) => g.prunable && g.unit === 'channel').length, 4);
  const patch = groups.find((g) => g.name === '/patch/Conv');
  assert.equal(patch?.prunable, false);
  assert.match(patch?.reason ?? '', /Reshape "\/Reshape" reshapes the channel axis/);
  assert.match(r.stderr, /channel groups: 8 prunable of \d+ \(4 channel, 4 head\)/);
});
