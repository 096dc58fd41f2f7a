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
import { dependencyGroups } from '../../graph/dependency.js';
import { thinChannels } from '../../graph/thin.js';
import type { Model } from '../../ir/graph.js';
import { foldConstants } from '../../ir/fold.js';
import { decodeModel, encodeModel } from '../../ir/onnx.js';
import { modelStats } from '../../ir/stats.js';
import { Tensor } from '../../ir/tensor.js';
import { loadModel } from '../../load.js';
import { SHAPE_RULES } from '../../ops/index.js';
import { Session } from '../../runtime/session.js';

const CORPUS = fileURLToPath(new URL('../../../../test/fixtures/corpus/', import.meta.url));

async function outputs(m: Model, x: Tensor): Promise<Float32Array> {
  const s = await Session.create(m, { threads: 1 });
  try {
    const r = await s.run({ [m.graph.inputs[0]?.name as string]: x });
    return r[m.graph.outputs[0]?.name as string]?.data as Float32Array;
  } finally {
    await s.release();
  }
}

/** Zeros the consumers' slices of the odd channels of the given groups; returns the kept (even) channels. */
function silenceOddChannels(model: Model, groups: readonly PruneGroup[]): { model: Model; keep: Map<number, number[]> } {
  const g = model.graph.clone();
  const keep = new Map<number, number[]>();
  for (const grp of groups) {
    keep.set(
      grp.id,
      Array.from({ length: Math.ceil(grp.channels / 2) }, (_, i) => 2 * i),
    );
    for (const m of grp.members.filter((x) => x.role === 'in')) {
      const t = (g.initializers.get(m.tensor) as Tensor).clone();
      const d = t.data as Float32Array;
      const n = t.dims[m.axis] as number;
      const inner = t.dims.slice(m.axis + 1).reduce((a, b) => a * b, 1);
      for (let o = 0; o < t.size / (n * inner); o++) {
        for (let c = 1; c < grp.channels; c += 2) d.fill(0, (o * n + m.offset + c * m.repeat) * inner, (o * n + m.offset + (c + 1) * m.repeat) * inner);
      }
      g.initializers.set(m.tensor, t);
    }
  }
  return { model: { ...model, graph: g }, keep };
}

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
  const { model: masked, keep } = silenceOddChannels(model, groups);
  const thin = thinChannels(masked, groups, keep);
  const [a, b] = [await outputs(masked, x), await outputs(thin, x)];
  assert.equal(a.length, b.length);
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs((a[i] as number) - (b[i] as number)) / Math.max(1, Math.abs(a[i] as number)));
  assert.ok(worst <= 1e-5, `thinned outputs differ from the masked model's by ${worst}`);
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
      // Saved and loaded again (constants folded against the shapes thinning recorded), it thins again.
      await checkThinning({ ...thin, graph: foldConstants(decodeModel(encodeModel(thin)).graph, SHAPE_RULES) }, want);
    });
  }
}
