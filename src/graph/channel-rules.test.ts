// Channel rules of Einsum attention, GroupNormalization and Tile, checked by the thinning oracle
// (test/channel-oracle.ts): silence every other channel of each prunable group, thin them away,
// and onnxruntime's outputs must not change (within 1e-5).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { assertThinMatchesMasked } from '../../test/channel-oracle.js';
import { attr, Graph, makeModel } from '../ir/graph.js';
import type { Model, Node } from '../ir/graph.js';
import { Tensor } from '../ir/tensor.js';
import { loadModel } from '../load.js';
import { createModel } from '../nn/index.js';
import { dependencyGroups } from './dependency.js';
import { thinChannels } from './thin.js';

const FIXTURES = fileURLToPath(new URL('../../../test/fixtures/', import.meta.url));

const wave = (dims: number[], seed: number): Tensor => {
  const t = new Tensor('float32', dims);
  for (let i = 0; i < t.size; i++) (t.data as Float32Array)[i] = Math.sin(seed + 0.37 * i);
  return t;
};

/** Thins every other channel of every prunable group and compares outputs; returns the thinned model. */
async function checkOracle(model: Model, x: Tensor): Promise<Model> {
  const groups = dependencyGroups(model.graph).filter((g) => g.prunable);
  assert.ok(groups.length > 0);
  const thin = await assertThinMatchesMasked(model, groups, x);
  return thin;
}

const node = (name: string, opType: string, inputs: string[], attributes: Node['attributes'] = {}): Node => ({
  name,
  opType,
  domain: '',
  inputs,
  outputs: [name],
  attributes,
});

/** input [N,1,6,6] → conv (4) → middle(conv) → Relu → conv2 (2, reading `cin` channels) → Flatten → Gemm. */
function convModel(middle: (g: Graph) => { out: string; cin: number }, opset = 17): Model {
  const g = new Graph('rules');
  g.inputs.push({ name: 'input', dtype: 'float32', shape: ['N', 1, 6, 6] });
  g.initializers.set('conv.weight', wave([4, 1, 3, 3], 1));
  g.initializers.set('conv.bias', wave([4], 2));
  g.nodes.push(node('conv', 'Conv', ['input', 'conv.weight', 'conv.bias'], { kernel_shape: attr.ints([3, 3]), pads: attr.ints([1, 1, 1, 1]) }));
  const { out, cin } = middle(g);
  g.nodes.push(node('relu', 'Relu', [out]));
  g.initializers.set('conv2.weight', wave([2, cin, 3, 3], 3));
  g.nodes.push(node('conv2', 'Conv', ['relu', 'conv2.weight'], { kernel_shape: attr.ints([3, 3]), pads: attr.ints([1, 1, 1, 1]) }));
  g.nodes.push(node('flat', 'Flatten', ['conv2'], { axis: attr.int(1) }));
  g.initializers.set('fc.weight', wave([10, 72], 4));
  g.nodes.push({ ...node('fc', 'Gemm', ['flat', 'fc.weight'], { transB: attr.int(1) }), outputs: ['logits'] });
  g.outputs.push({ name: 'logits', dtype: 'float32', shape: ['N', 10] });
  const m = makeModel(g);
  return { ...m, opsetImports: [{ domain: '', version: opset }] };
}

const images = (): Tensor => wave([3, 1, 6, 6], 5);

for (const opset of [13, 17]) {
  test(`Einsum attention ('bihd,bjhd->bhij', 'bhij,bjhd->bihd'), opset ${opset}: heads are one group and thin exactly`, async () => {
    const model = loadModel(`${FIXTURES}einsum_attention.opset${opset}.onnx`);
    const groups = dependencyGroups(model.graph).filter((g) => g.prunable);
    assert.deepEqual(
      groups.map((g) => [g.name, g.unit, g.channels]),
      [
        ['/in_proj/MatMul', 'head', 4],
        ['/out_proj/MatMul', 'channel', 16],
      ],
    );
    const thin = await checkOracle(model, wave([5, 6, 16], 7));
    const w = (n: string): readonly number[] | undefined => thin.graph.initializers.get(thin.graph.nodes.find((x) => x.name === n)?.inputs[1] ?? '')?.dims;
    // Two of four heads of 4 stay: Q, K and V keep 8 columns each; the out-projection 8 rows.
    assert.deepEqual(w('/in_proj/MatMul'), [16, 24]);
    assert.deepEqual(w('/out_proj/MatMul'), [8, 8]);
  });
}

test('an Einsum that mixes heads (no per-head product) is not matched as attention', () => {
  const model = loadModel(`${FIXTURES}einsum_attention.opset17.onnx`);
  const e = model.graph.nodes.find((n) => n.name === '/Einsum') as Node;
  // 'bihd,bjhd->bij' sums over the heads as well: removing one would change every score.
  e.attributes = { equation: attr.string('bihd,bjhd->bij') };
  const groups = dependencyGroups(model.graph);
  assert.ok(!groups.some((g) => g.unit === 'head'));
  assert.ok(!groups.find((g) => g.name === '/in_proj/MatMul')?.prunable);
});

test('Tile along the channel axis: each copy of a channel goes with it', async () => {
  const model = convModel((g) => {
    g.initializers.set('reps', Tensor.int64([1, 2, 1, 1]));
    g.nodes.push(node('tile', 'Tile', ['conv', 'reps']));
    return { out: 'tile', cin: 8 };
  });
  const group = dependencyGroups(model.graph).find((g) => g.name === 'conv');
  assert.equal(group?.prunable, true, group?.reason);
  assert.deepEqual(
    group?.members.filter((m) => m.tensor === 'conv2.weight').map((m) => [m.axis, m.offset]),
    [
      [1, 0],
      [1, 4],
    ],
  );
  const thin = await checkOracle(model, images());
  assert.deepEqual(thin.graph.initializers.get('conv2.weight')?.dims, [1, 4, 3, 3]);
});

test('Tile along spatial axes passes the channels through', async () => {
  const model = convModel((g) => {
    g.initializers.set('reps', Tensor.int64([1, 1, 1, 1]));
    g.nodes.push(node('tile', 'Tile', ['conv', 'reps']));
    return { out: 'tile', cin: 4 };
  });
  const thin = await checkOracle(model, images());
  assert.deepEqual(thin.graph.initializers.get('conv2.weight')?.dims, [1, 2, 3, 3]);
});

test('Tile by computed repeats blocks the channels, naming the node', () => {
  const model = convModel((g) => {
    g.nodes.push(node('shape', 'Shape', ['input']));
    g.initializers.set('ones', Tensor.int64([1, 1, 1, 1]));
    g.nodes.push(node('reps', 'Div', ['shape', 'shape']));
    g.nodes.push(node('tile', 'Tile', ['conv', 'reps']));
    return { out: 'tile', cin: 4 };
  });
  const group = dependencyGroups(model.graph).find((g) => g.name === 'conv');
  assert.equal(group?.prunable, false);
  assert.match(group?.reason ?? '', /Tile "tile" repeats by a computed count/);
});

for (const opset of [18, 21]) {
  test(`GroupNormalization with one channel per group (opset ${opset}): scale and bias follow, num_groups is rewritten`, async () => {
    const model = convModel((g) => {
      g.initializers.set('gn.scale', wave([4], 8));
      g.initializers.set('gn.bias', wave([4], 9));
      g.nodes.push(node('gn', 'GroupNormalization', ['conv', 'gn.scale', 'gn.bias'], { num_groups: attr.int(4), epsilon: attr.float(1e-3) }));
      return { out: 'gn', cin: 4 };
    }, opset);
    const thin = await checkOracle(model, images());
    assert.deepEqual(thin.graph.initializers.get('gn.scale')?.dims, [2]);
    assert.equal(thin.graph.nodes.find((n) => n.name === 'gn')?.attributes['num_groups']?.value, 2);
  });
}

test('GroupNormalization with groups of several channels refuses, naming the group sizes', () => {
  const model = convModel((g) => {
    g.initializers.set('gn.scale', wave([4], 8));
    g.initializers.set('gn.bias', wave([4], 9));
    g.nodes.push(node('gn', 'GroupNormalization', ['conv', 'gn.scale', 'gn.bias'], { num_groups: attr.int(2) }));
    return { out: 'gn', cin: 4 };
  }, 21);
  const group = dependencyGroups(model.graph).find((g) => g.name === 'conv');
  assert.equal(group?.prunable, false);
  assert.match(group?.reason ?? '', /GroupNormalization "gn" normalizes groups of 2 channels together \(num_groups 2 of 4\)/);
  assert.throws(
    () => thinChannels(model, [group as NonNullable<typeof group>], new Map([[group?.id as number, [0, 1]]])),
    /channels of "conv" cannot be removed: GroupNormalization "gn"/,
  );
});

test("the zoo's vit-tiny: every block's heads and MLP units are groups, and thin exactly", async () => {
  const model = createModel('vit-tiny:patch=7,depth=2,heads=4,dim=32', { seed: 3 });
  const groups = dependencyGroups(model.graph).filter((g) => g.prunable);
  assert.deepEqual(
    groups.map((g) => [g.name, g.unit, g.channels]),
    [
      ['blocks.0.attn.in_proj.matmul', 'head', 4],
      ['blocks.0.mlp.fc1.matmul', 'channel', 64],
      ['blocks.1.attn.in_proj.matmul', 'head', 4],
      ['blocks.1.mlp.fc1.matmul', 'channel', 64],
    ],
  );
  const thin = await checkOracle(model, wave([3, 1, 28, 28], 11));
  assert.deepEqual(thin.graph.initializers.get('blocks.1.attn.in_proj.weight')?.dims, [32, 48]);
  assert.deepEqual(thin.graph.initializers.get('blocks.1.attn.out_proj.weight')?.dims, [16, 32]);
  assert.deepEqual(thin.graph.initializers.get('blocks.1.mlp.fc2.weight')?.dims, [32, 32]);
});

/** conv [N,4,6,6] → AveragePool 2×2 → [N,4,3,3] → `resize` back to 6×6 (bilinear). */
function resizeModel(resize: (g: Graph) => Node, opset = 17): Model {
  const model = convModel((g) => {
    g.nodes.push(node('pool', 'AveragePool', ['conv'], { kernel_shape: attr.ints([2, 2]), strides: attr.ints([2, 2]) }));
    g.nodes.push(resize(g));
    return { out: 'up', cin: 4 };
  }, opset);
  // Gemm's bias is required before opset 11.
  const fc = model.graph.nodes.find((n) => n.name === 'fc');
  if (opset < 11 && fc !== undefined) {
    model.graph.initializers.set('fc.bias', wave([10], 6));
    fc.inputs.push('fc.bias');
  }
  return model;
}
const linear = { mode: attr.string('linear') };

test('Resize by scales of 1 on the channel axis passes the channels (opset 10 and 17 forms)', async () => {
  for (const opset of [10, 17]) {
    const model = resizeModel((g) => {
      g.initializers.set('scales', Tensor.fromArray('float32', [4], [1, 1, 2, 2]));
      return node('up', 'Resize', opset === 10 ? ['pool', 'scales'] : ['pool', '', 'scales'], opset === 10 ? {} : linear);
    }, opset);
    const thin = await checkOracle(model, images());
    assert.deepEqual(thin.graph.initializers.get('conv2.weight')?.dims, [1, 2, 3, 3], `opset ${opset}`);
  }
});

test("Resize to sizes computed from the input's own shape (PyTorch's interpolate(x, size=…)) passes the channels", async () => {
  const model = resizeModel((g) => {
    g.nodes.push(node('shape', 'Shape', ['pool']));
    for (const [k, v] of [
      ['s0', [0]],
      ['s2', [2]],
      ['ax', [0]],
      ['hw', [6, 6]],
    ] as const)
      g.initializers.set(k, Tensor.int64([...v]));
    g.nodes.push(node('nc', 'Slice', ['shape', 's0', 's2', 'ax']));
    g.nodes.push(node('sizes', 'Concat', ['nc', 'hw'], { axis: attr.int(0) }));
    return node('up', 'Resize', ['pool', '', '', 'sizes'], linear);
  });
  const thin = await checkOracle(model, images());
  // conv's channels thin through the Resize (conv2's own stay: its output's spatial size is computed).
  assert.deepEqual(thin.graph.initializers.get('conv.weight')?.dims, [2, 1, 3, 3]);
  assert.equal(thin.graph.initializers.get('conv2.weight')?.dims[1], 2);
});

test('Resize to constant sizes: the channel entry is rewritten when the channels are thinned', async () => {
  const model = resizeModel((g) => {
    g.initializers.set('sizes', Tensor.int64([3, 4, 6, 6]));
    return node('up', 'Resize', ['pool', '', '', 'sizes'], linear);
  });
  const thin = await checkOracle(model, images());
  const sizes = thin.graph.nodes.find((n) => n.name === 'up')?.inputs[3] ?? '';
  assert.deepEqual(thin.graph.initializers.get(sizes)?.toNumbers().map(Number), [3, 2, 6, 6]);
});

test('Resize that scales the channel axis, or takes its sizes from another tensor, blocks them, naming the node', () => {
  const scaled = resizeModel((g) => {
    g.initializers.set('scales', Tensor.fromArray('float32', [4], [1, 2, 2, 2]));
    return node('up', 'Resize', ['pool', '', 'scales'], linear);
  });
  const other = resizeModel((g) => {
    g.nodes.push(node('shape', 'Shape', ['conv']));
    g.initializers.set('hw', Tensor.int64([6, 6]));
    g.initializers.set('s0', Tensor.int64([0]));
    g.initializers.set('s2', Tensor.int64([2]));
    g.nodes.push(node('nc', 'Slice', ['shape', 's0', 's2']));
    g.nodes.push(node('sizes', 'Concat', ['nc', 'hw'], { axis: attr.int(0) }));
    return node('up', 'Resize', ['pool', '', '', 'sizes'], linear);
  });
  for (const [model, reason] of [
    [scaled, /Resize "up" resizes the channel axis/],
    [other, /Resize "up" computes its sizes in a way Whittle cannot tell keeps axis 1/],
  ] as const) {
    const group = dependencyGroups(model.graph).find((g) => g.name === 'conv');
    assert.equal(group?.prunable, false);
    assert.match(group?.reason ?? '', reason);
  }
});

test('Upsample (opset 9) by scales of 1 on the channel axis passes the channels', async () => {
  const model = resizeModel((g) => {
    g.initializers.set('scales', Tensor.fromArray('float32', [4], [1, 1, 2, 2]));
    return node('up', 'Upsample', ['pool', 'scales'], linear);
  }, 9);
  const thin = await checkOracle(model, images());
  assert.deepEqual(thin.graph.initializers.get('conv2.weight')?.dims, [1, 2, 3, 3]);
});
