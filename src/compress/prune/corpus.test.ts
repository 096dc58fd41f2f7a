// Structured pruning of PyTorch-exported networks (test/fixtures/corpus: MobileNetV3 with
// depthwise convs and squeeze-excite, ResNet-20 with and without BatchNorm, a ViT, an LSTM; at
// opsets 11, 13 and 17). The oracle: silence every other channel of each prunable group by
// zeroing its consumers' input slices (math says those channels then change nothing), thin
// them away, and compare onnxruntime's outputs — equal within 1e-5.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { readNpy } from '../../data/npy.js';
import type { PruneGroup } from '../../graph/dependency.js';
import { shapeRules } from '../../graph/channel-rules.js';
import { dependencyGroups } from '../../graph/dependency.js';
import type { Model } from '../../ir/graph.js';
import { foldConstants } from '../../ir/fold.js';
import { decodeModel, encodeModel } from '../../ir/onnx.js';
import { inferShapes } from '../../ir/shape.js';
import { modelStats } from '../../ir/stats.js';
import { Tensor } from '../../ir/tensor.js';
import { assertThinMatchesMasked } from '../../../test/channel-oracle.js';
import { loadModel } from '../../load.js';
import { SHAPE_RULES } from '../../ops/index.js';
import { pruneChannels } from './structured.js';

const CORPUS = fileURLToPath(new URL('../../../../test/fixtures/corpus/', import.meta.url));

const images = (): Tensor => {
  const a = readNpy(`${CORPUS}mnist.calib.npy`);
  const n = 16;
  return new Tensor('float32', [n, ...a.dims.slice(1)], (a.data as Float32Array).slice(0, n * 784));
};

// Prunable groups each model must expose, by unit.
const EXPECT: Record<string, { channel: number; head?: number; hidden?: number }> = {
  mnist_mobilenet_v3: { channel: 16 },
  mnist_resnet20: { channel: 12 },
  mnist_resnet20_bn: { channel: 12 },
  mnist_vit: { channel: 4, head: 4 },
  mnist_lstm: { channel: 0, hidden: 1 },
};

/** Silences every other channel of every prunable group, thins them, and checks the outputs; returns the thinned model. */
async function checkThinning(model: Model, want: { channel: number; head?: number; hidden?: number }): Promise<Model> {
  const groups = dependencyGroups(model.graph).filter((g) => g.prunable);
  const count = (u: PruneGroup['unit']): number => groups.filter((g) => g.unit === u).length;
  assert.deepEqual(
    { channel: count('channel'), head: count('head'), hidden: count('hidden') },
    { channel: want.channel, head: want.head ?? 0, hidden: want.hidden ?? 0 },
  );
  const x = images();
  const thin = await assertThinMatchesMasked(model, groups, x);
  // Half the channels of every group went: the parameters shrink accordingly.
  const [before, after] = [modelStats(model, SHAPE_RULES), modelStats(thin, SHAPE_RULES)];
  assert.ok(after.params < 0.75 * before.params, `params ${before.params} → ${after.params}`);
  return thin;
}

for (const name of Object.keys(EXPECT)) {
  for (const opset of [11, 13, 17]) {
    test(`${name} opset ${opset}: thinning every other channel of every group gives the masked model's outputs, twice`, async () => {
      const want = EXPECT[name] as { channel: number; head?: number; hidden?: number };
      const thin = await checkThinning(loadModel(`${CORPUS}${name}.opset${opset}.onnx`), want);
      // Saved, loaded again with every shape recorded and constants folded against them (the
      // ViT's Q/K/V slice bounds become constants), it thins again.
      const again = decodeModel(encodeModel(thin)).graph;
      inferShapes(again, shapeRules(SHAPE_RULES), undefined, { unknown: 'skip' });
      const folded = foldConstants(again, SHAPE_RULES);
      if (name === 'mnist_vit') assert.ok(folded.nodes.some((n) => n.opType === 'Slice' && folded.initializers.has(n.inputs[2] ?? '')));
      await checkThinning({ ...thin, graph: folded }, want);
    });
  }
}

test('a layer whose channels belong to another group is refused with that group named (MobileNetV3 depthwise conv)', async () => {
  const model = loadModel(`${CORPUS}mnist_mobilenet_v3.opset13.onnx`);
  const dw = '/features/features.2/block/block.1/block.1.0/Conv';
  await assert.rejects(
    pruneChannels(model, { perLayer: { [dw]: 0.5 } }),
    (e: Error) =>
      e.message.includes(`"${dw}" has no channel group of its own`) && e.message.includes('group "/features/features.2/block/block.0/block.0.0/Conv"'),
  );
  // The ViT's output projection reads the heads but produces the residual stream, which its Reshape back to [S, N, E] (and the LayerNorms) couple.
  const vit = loadModel(`${CORPUS}mnist_vit.opset17.onnx`);
  await assert.rejects(pruneChannels(vit, { perLayer: { '/encoder/layers.0/self_attn/Gemm': 0.5 } }), /cannot be removed: .*reshapes the channel axis/);
});
