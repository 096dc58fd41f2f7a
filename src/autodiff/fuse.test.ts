// The fused update against the unfused one: same step, same numbers, fewer nodes.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { randomTensor } from '../../test/gradcheck.js';
import { createModel } from '../nn/index.js';
import { Tensor } from '../ir/tensor.js';
import { Session } from '../runtime/session.js';
import type { OptimizerConfig } from './optimizer.js';
import { buildTrainStep } from './train-step.js';
import type { TrainStep } from './train-step.js';
import type { Attribute, Model } from '../ir/graph.js';
import { attr, Graph, makeModel, opsetOf } from '../ir/graph.js';
import { convTransposeAsMatMul, splitLongConvs, unfoldSingleChannelConvs } from './fuse.js';
import { addGradients } from './gradients.js';
import { upgradeOpset } from '../ir/opset.js';

/** Three steps of `step` on fixed batches; the carried values after them. */
async function threeSteps(step: TrainStep, init: (name: string) => Tensor = createInit): Promise<Map<string, Float32Array>> {
  const session = await Session.create(step.model, { threads: 1 });
  const state = new Map<string, Tensor>();
  for (const c of step.carried)
    state.set(c.input, c.init.kind === 'initializer' ? (step.model.graph.initializers.get(c.init.name) ?? init(c.init.name)) : new Tensor(c.dtype, c.dims));
  try {
    for (let s = 0; s < 3; s++) {
      const feeds: Record<string, Tensor> = {
        [step.input]: randomTensor('float32', [8, 1, 28, 28], 10 + s, 0, 1),
        [step.labels]: new Tensor(
          'int64',
          [8],
          BigInt64Array.from({ length: 8 }, (_, i) => BigInt((i * 3 + s) % 10)),
        ),
      };
      for (const name of step.scalars) feeds[name] = Tensor.scalar('float32', 0.05);
      for (const [k, v] of state) feeds[k] = v;
      const r = await session.run(feeds);
      for (const c of step.carried) state.set(c.input, r[c.output] as Tensor);
    }
  } finally {
    await session.release();
  }
  return new Map([...state].map(([k, t]) => [k, t.data as Float32Array]));
}

const MODEL = createModel('lenet-300-100', { seed: 3 });
function createInit(name: string): Tensor {
  const t = MODEL.graph.initializers.get(name);
  if (t === undefined) throw new Error(`no initializer ${name}`);
  return t;
}

// [label, optimizer, fusions, what C holds, beta]
for (const [label, optimizer, expected, cSuffix, beta] of [
  ['sgd + momentum', { kind: 'sgd', momentum: 0.9 }, 3, '.momentum', 0.9],
  ['nesterov (momentum read twice: not fused)', { kind: 'sgd', momentum: 0.9, nesterov: true }, 0, '.momentum', 0.9],
  ['sgd + weight decay (the decay term is folded instead: g + wd·p)', { kind: 'sgd', momentum: 0.9, weightDecay: 1e-3 }, 3, '.weight', 1e-3],
] as [string, OptimizerConfig, number, string, number][]) {
  test(`momentum folded into the weight-gradient Gemm: ${label}`, async () => {
    const fused = buildTrainStep(MODEL, { optimizer });
    const plain = buildTrainStep(MODEL, { optimizer, fuse: false });
    // 2 threads keep it for weights under 2¹⁸ elements (fc1 is 300 × 784).
    const twoThreads = buildTrainStep(MODEL, { optimizer, threads: 2 });
    assert.equal(twoThreads.model.graph.nodes.filter((n) => n.opType === 'Gemm' && n.inputs[2]?.endsWith(cSuffix) === true).length, expected);
    const gemmsWithC = fused.model.graph.nodes.filter((n) => n.opType === 'Gemm' && n.inputs[2]?.endsWith(cSuffix) === true);
    assert.equal(gemmsWithC.length, expected);
    assert.equal(plain.model.graph.nodes.length - fused.model.graph.nodes.length, 2 * expected, 'each fusion removes a Mul and an Add');
    for (const n of gemmsWithC) assert.deepEqual(n.attributes['beta'], { type: 'float', value: Math.fround(beta) });
    const [a, b] = await Promise.all([threeSteps(fused), threeSteps(plain)]);
    for (const [name, x] of b) {
      const y = a.get(name) as Float32Array;
      let worst = 0;
      for (let i = 0; i < x.length; i++) worst = Math.max(worst, Math.abs((x[i] as number) - (y[i] as number)) / (1e-3 + Math.abs(x[i] as number)));
      assert.ok(worst < 1e-4, `${name}: fused and unfused updates differ by ${worst} (relative)`);
    }
    // The state moved: the comparison is not between two untouched copies.
    const w = b.get('fc1.weight') as Float32Array;
    const w0 = createInit('fc1.weight').data as Float32Array;
    assert.ok(w.some((v, i) => v !== w0[i]));
  });
}

test('Convs with more filters than output positions are split into filter groups: same training steps', async () => {
  // One block per stage on 28×28: the last stage has 64 filters on 7×7 = 49 positions.
  const model = createModel('resnet-cifar', { seed: 2, inChannels: 1, inputSize: 28, blocks: 1 });
  const optimizer: OptimizerConfig = { kind: 'sgd', momentum: 0.9 };
  const split = buildTrainStep(model, { optimizer, threads: 2 });
  const plain = buildTrainStep(model, { optimizer, threads: 2, fuse: false });
  const oneThread = buildTrainStep(model, { optimizer, threads: 1 });
  assert.ok(!oneThread.model.graph.nodes.some((n) => n.opType === 'Split'), 'no split for a 1-thread step');
  const concats = split.model.graph.nodes.filter((n) => n.opType === 'Concat' && n.inputs.every((i) => i.startsWith('split_conv/')));
  // layer3's two 3×3 convs forward and conv2's input gradient (a stride-1 Conv with the flipped
  // kernel); stride-2 input gradients are ConvTransposes, and the 1×1 stride-2 shortcut
  // (64·49·32 multiply-adds per image) is under the size worth splitting.
  assert.equal(concats.length, 3);
  for (const c of concats) assert.equal(c.inputs.length, 2, '64 filters on 49 positions: two groups of 32');
  const init = (name: string): Tensor => model.graph.initializers.get(name) as Tensor;
  const [a, b] = await Promise.all([threeSteps(split, init), threeSteps(plain, init)]);
  for (const [name, x] of b) {
    const y = a.get(name) as Float32Array;
    let worst = 0;
    for (let i = 0; i < x.length; i++) worst = Math.max(worst, Math.abs((x[i] as number) - (y[i] as number)) / (1e-3 + Math.abs(x[i] as number)));
    assert.ok(worst < 1e-4, `${name}: split and unsplit steps differ by ${worst} (relative)`);
  }
  const w = b.get('layer3.0.conv1.weight') as Float32Array;
  assert.ok(
    w.some((v, i) => v !== (init('layer3.0.conv1.weight').data as Float32Array)[i]),
    'the split layer trained',
  );
});

test('ConvTranspose as a batched MatMul and Col2Im: same outputs (strides, dilations, pads, output_padding, bias)', async () => {
  // [label, x dims, w dims, attributes, bias]
  const cases: [string, number[], number[], Record<string, Attribute>, boolean][] = [
    ["LeNet-5 conv2's input gradient", [3, 5, 4, 4], [5, 2, 5, 5], {}, false],
    [
      'stride 2, pads, output_padding 1, bias',
      [2, 3, 4, 3],
      [3, 4, 3, 3],
      { strides: attr.ints([2, 2]), pads: attr.ints([1, 0, 1, 1]), output_padding: attr.ints([1, 0]) },
      true,
    ],
    ['dilations [2, 1], strides [1, 3], 1-row kernel', [2, 2, 3, 4], [2, 3, 1, 2], { strides: attr.ints([1, 3]), dilations: attr.ints([2, 1]) }, true],
    ['1-D, stride 2', [2, 3, 5], [3, 2, 3], { strides: attr.ints([2]), pads: attr.ints([1, 0]) }, false],
  ];
  for (const [label, xDims, wDims, attributes, bias] of cases) {
    const g = new Graph('ct');
    g.inputs.push({ name: 'x', dtype: 'float32', shape: ['N', ...xDims.slice(1)] }, { name: 'w', dtype: 'float32', shape: wDims });
    if (bias) g.inputs.push({ name: 'b', dtype: 'float32', shape: [wDims[1] as number] });
    g.nodes.push({ name: 'ct', opType: 'ConvTranspose', domain: '', inputs: bias ? ['x', 'w', 'b'] : ['x', 'w'], outputs: ['y'], attributes });
    g.outputs.push({ name: 'y', dtype: 'float32', shape: [] });
    const rewritten = g.clone();
    assert.equal(convTransposeAsMatMul(rewritten), 1, label);
    assert.ok(!rewritten.nodes.some((n) => n.opType === 'ConvTranspose'), `${label}: no ConvTranspose left`);
    const feeds: Record<string, Tensor> = { x: randomTensor('float32', xDims, 1), w: randomTensor('float32', wDims, 2) };
    if (bias) feeds['b'] = randomTensor('float32', [wDims[1] as number], 3);
    const run = async (model: Model): Promise<Tensor> => {
      const s = await Session.create(model, { threads: 1 });
      try {
        return (await s.run(feeds))['y'] as Tensor;
      } finally {
        await s.release();
      }
    };
    const want = await run(makeModel(g));
    const got = await run(upgradeOpset(makeModel(rewritten), 18));
    assert.deepEqual([...got.dims], [...want.dims], `${label}: shape`);
    let worst = 0;
    for (let i = 0; i < want.size; i++) worst = Math.max(worst, Math.abs((want.data[i] as number) - (got.data[i] as number)));
    assert.ok(worst < 1e-5, `${label}: max |ConvTranspose − MatMul·Col2Im| = ${worst}`);
  }
  // auto_pad and output_shape derive pads from the output size: left to ConvTranspose.
  const same = new Graph('same');
  same.inputs.push({ name: 'x', dtype: 'float32', shape: [1, 2, 3, 3] }, { name: 'w', dtype: 'float32', shape: [2, 2, 3, 3] });
  same.nodes.push({ name: 'ct', opType: 'ConvTranspose', domain: '', inputs: ['x', 'w'], outputs: ['y'], attributes: { auto_pad: attr.string('SAME_UPPER') } });
  same.outputs.push({ name: 'y', dtype: 'float32', shape: [] });
  assert.equal(convTransposeAsMatMul(same), 0);
});

test('a 2-thread LeNet-5 step (conv2’s input gradient as MatMul + Col2Im at opset 18, conv1 as a product over the unfolded input): same training steps as the 1-thread step', async () => {
  const model = createModel('lenet-5', { seed: 4 });
  const optimizer: OptimizerConfig = { kind: 'sgd', momentum: 0.9 };
  const two = buildTrainStep(model, { optimizer, threads: 2, unfoldInputConvs: true });
  const one = buildTrainStep(model, { optimizer, threads: 1 });
  assert.equal(opsetOf(two.model), 18);
  assert.equal(opsetOf(one.model), 17);
  assert.equal(two.model.graph.nodes.filter((n) => n.opType === 'Col2Im').length, 1, "conv2's input gradient (conv1's is not needed)");
  assert.ok(!two.model.graph.nodes.some((n) => n.opType === 'ConvTranspose'));
  assert.ok(one.model.graph.nodes.some((n) => n.opType === 'ConvTranspose'));
  // conv1 reads the single-channel input: a product over its unfold, weight gradient included.
  assert.ok(!two.model.graph.nodes.some((n) => n.opType === 'Conv' && n.inputs[1] === 'conv1.weight'), 'conv1 unfolded');
  assert.ok(one.model.graph.nodes.some((n) => n.opType === 'Conv' && n.inputs[1] === 'conv1.weight'));
  assert.ok(
    !two.model.graph.nodes.some((n) => n.opType === 'Conv' && n.attributes['group']?.value === 2),
    'no batch-as-channels weight gradient left to split',
  );
  // Momentum in the weight-gradient Gemm: fc2 at both, fc1 (400k weights) only at 1 thread.
  const momentumGemms = (step: TrainStep): string[] =>
    step.model.graph.nodes.filter((n) => n.opType === 'Gemm' && n.inputs[2]?.endsWith('.momentum') === true).map((n) => n.inputs[2] as string);
  assert.deepEqual(momentumGemms(one).sort(), ['fc1.weight.momentum', 'fc2.weight.momentum']);
  assert.deepEqual(momentumGemms(two), ['fc2.weight.momentum']);
  const init = (name: string): Tensor => model.graph.initializers.get(name) as Tensor;
  const [a, b] = await Promise.all([threeSteps(two, init), threeSteps(one, init)]);
  for (const [name, x] of b) {
    const y = a.get(name) as Float32Array;
    let worst = 0;
    for (let i = 0; i < x.length; i++) worst = Math.max(worst, Math.abs((x[i] as number) - (y[i] as number)) / (1e-3 + Math.abs(x[i] as number)));
    assert.ok(worst < 1e-4, `${name}: Col2Im and ConvTranspose steps differ by ${worst} (relative)`);
  }
  const w = b.get('conv1.weight') as Float32Array;
  assert.ok(
    w.some((v, i) => v !== (init('conv1.weight').data as Float32Array)[i]),
    'conv1 trained (through conv2’s input gradient)',
  );
});

test('a long single-image Conv as two half-kernel groups: same outputs (stride, dilation, bias, a transposed kernel)', async () => {
  // [label, x dims, w dims (or the dims of T when the kernel is Transpose(T)), attributes, bias, transposed]
  const cases: [string, number[], number[], Record<string, Attribute>, boolean, boolean][] = [
    ["LeNet-5 conv1's weight gradient (kernel = Transpose(dY))", [1, 16, 28, 28], [16, 20, 24, 24], {}, false, true],
    ['stride 2, dilation 2, bias', [1, 32, 30, 20], [6, 32, 6, 5], { strides: attr.ints([2, 1]), dilations: attr.ints([2, 3]) }, true, false],
  ];
  for (const [label, xDims, wDims, attributes, bias, transposed] of cases) {
    const g = new Graph('long');
    g.inputs.push({ name: 'x', dtype: 'float32', shape: xDims }, { name: transposed ? 't' : 'w', dtype: 'float32', shape: wDims });
    if (transposed) g.nodes.push({ name: 'tr', opType: 'Transpose', domain: '', inputs: ['t'], outputs: ['w'], attributes: { perm: attr.ints([1, 0, 2, 3]) } });
    const filters = (transposed ? wDims[1] : wDims[0]) as number;
    if (bias) g.inputs.push({ name: 'b', dtype: 'float32', shape: [filters] });
    g.nodes.push({ name: 'conv', opType: 'Conv', domain: '', inputs: bias ? ['x', 'w', 'b'] : ['x', 'w'], outputs: ['y'], attributes });
    g.outputs.push({ name: 'y', dtype: 'float32', shape: [] });
    const rewritten = g.clone();
    assert.equal(splitLongConvs(rewritten), 1, label);
    const convs = rewritten.nodes.filter((n) => n.opType === 'Conv');
    assert.equal(convs.length, 1);
    assert.deepEqual(convs[0]?.attributes['group'], { type: 'int', value: 2 });
    if (transposed) assert.ok(!rewritten.nodes.some((n) => n.name === 'tr'), `${label}: the kernel's Transpose is folded into the halves' one`);
    const feeds: Record<string, Tensor> = { x: randomTensor('float32', xDims, 1), [transposed ? 't' : 'w']: randomTensor('float32', wDims, 2) };
    if (bias) feeds['b'] = randomTensor('float32', [filters], 3);
    const run = async (graph: Graph): Promise<Tensor> => {
      const s = await Session.create(makeModel(graph), { threads: 1 });
      try {
        return (await s.run(feeds))['y'] as Tensor;
      } finally {
        await s.release();
      }
    };
    const [want, got] = [await run(g), await run(rewritten)];
    assert.deepEqual([...got.dims], [...want.dims], `${label}: shape`);
    // Sums of thousands of products in another order: float32 rounding, relative to the largest value.
    let worst = 0;
    let scale = 0;
    for (let i = 0; i < want.size; i++) {
      worst = Math.max(worst, Math.abs((want.data[i] as number) - (got.data[i] as number)));
      scale = Math.max(scale, Math.abs(want.data[i] as number));
    }
    assert.ok(scale > 1 && worst < 1e-5 * scale, `${label}: max difference ${worst} at values up to ${scale}`);
  }
  // Batch above 1, an odd kernel, or a short reduction: left alone.
  for (const [xDims, wDims] of [
    [
      [2, 16, 28, 28],
      [20, 16, 24, 24],
    ],
    [
      [1, 16, 28, 28],
      [20, 16, 23, 24],
    ],
    [
      [1, 2, 8, 8],
      [4, 2, 4, 4],
    ],
  ] as [number[], number[]][]) {
    const g = new Graph('kept');
    g.inputs.push({ name: 'x', dtype: 'float32', shape: xDims }, { name: 'w', dtype: 'float32', shape: wDims });
    g.nodes.push({ name: 'conv', opType: 'Conv', domain: '', inputs: ['x', 'w'], outputs: ['y'], attributes: {} });
    g.outputs.push({ name: 'y', dtype: 'float32', shape: [] });
    assert.equal(splitLongConvs(g), 0, `x [${xDims}], w [${wDims}]`);
  }
});

test('a Conv on the single-channel input as a product over its unfold: same outputs, weight and bias gradients (stride, pads, dilation, 1-D, no bias)', async () => {
  // [label, x dims, w dims, attributes, bias]
  const cases: [string, number[], number[], Record<string, Attribute>, boolean][] = [
    ["LeNet-5's conv1", [4, 1, 28, 28], [20, 1, 5, 5], {}, true],
    [
      'stride [2, 1], pads, dilations [2, 1]',
      [3, 1, 11, 9],
      [4, 1, 3, 2],
      { strides: attr.ints([2, 1]), pads: attr.ints([1, 0, 2, 1]), dilations: attr.ints([2, 1]) },
      true,
    ],
    ['1-D, no bias', [2, 1, 10], [3, 1, 4], {}, false],
  ];
  for (const [label, xDims, wDims, attributes, bias] of cases) {
    const g = new Graph('unfold');
    g.inputs.push({ name: 'x', dtype: 'float32', shape: xDims });
    g.initializers.set('w', randomTensor('float32', wDims, 2));
    if (bias) g.initializers.set('b', randomTensor('float32', [wDims[0] as number], 3));
    g.nodes.push({ name: 'conv', opType: 'Conv', domain: '', inputs: bias ? ['x', 'w', 'b'] : ['x', 'w'], outputs: ['y'], attributes });
    // loss = Σ y · r with a fixed random r: dL/dy = r, so the gradients see every output position.
    const plain = g.clone();
    const yDims = (await runGraph(plain, { x: randomTensor('float32', xDims, 1) }, ['y']))['y']?.dims as number[];
    const steps = (graph: Graph): Graph => {
      graph.initializers.set('r', randomTensor('float32', yDims, 4));
      graph.nodes.push({ name: 'weigh', opType: 'Mul', domain: '', inputs: ['y', 'r'], outputs: ['yr'], attributes: {} });
      graph.nodes.push({ name: 'sum', opType: 'ReduceSum', domain: '', inputs: ['yr'], outputs: ['loss'], attributes: { keepdims: attr.int(0) } });
      return graph;
    };
    const rewritten = steps(g.clone());
    assert.equal(unfoldSingleChannelConvs(rewritten, 'x'), 1, label);
    assert.ok(!rewritten.nodes.some((n) => n.opType === 'Conv' && n.inputs[1] === 'w'), `${label}: the weights go to a MatMul`);
    const params = bias ? ['w', 'b'] : ['w'];
    const fetch = (graph: Graph): string[] => {
      const grads = addGradients(graph, 'loss', params);
      const names = ['y', ...params.map((p) => grads.get(p) as string)];
      for (const n of names) graph.outputs.push({ name: n, dtype: 'float32', shape: [] });
      return names;
    };
    const reference = steps(plain);
    const feeds = { x: randomTensor('float32', xDims, 1) };
    const want = await runGraph(reference, feeds, fetch(reference));
    const got = await runGraph(rewritten, feeds, fetch(rewritten));
    ['y', ...params.map((p) => `d${p}`)].forEach((what, i) => {
      const [a, b] = [Object.values(want)[i] as Tensor, Object.values(got)[i] as Tensor];
      assert.deepEqual([...b.dims], [...a.dims], `${label}: ${what} shape`);
      let worst = 0;
      let scale = 0;
      for (let j = 0; j < a.size; j++) {
        worst = Math.max(worst, Math.abs((a.data[j] as number) - (b.data[j] as number)));
        scale = Math.max(scale, Math.abs(a.data[j] as number));
      }
      assert.ok(scale > 0.1 && worst < 1e-5 * Math.max(1, scale), `${label}: ${what} differs by ${worst} (values up to ${scale})`);
    });
  }
  // Two input channels, or a Conv that does not read the input: left alone.
  for (const [label, channels, reads] of [
    ['two channels', 2, 'x'],
    ['not on the input', 1, 'relu'],
  ] as [string, number, string][]) {
    const g = new Graph('kept');
    g.inputs.push({ name: 'x', dtype: 'float32', shape: ['N', channels, 8, 8] }, { name: 'w', dtype: 'float32', shape: [3, channels, 3, 3] });
    g.nodes.push({ name: 'relu', opType: 'Relu', domain: '', inputs: ['x'], outputs: ['relu'], attributes: {} });
    g.nodes.push({ name: 'conv', opType: 'Conv', domain: '', inputs: [reads, 'w'], outputs: ['y'], attributes: {} });
    g.outputs.push({ name: 'y', dtype: 'float32', shape: [] });
    assert.equal(unfoldSingleChannelConvs(g, 'x'), 0, label);
  }
});

/** Runs `graph` (opset 17) once; the named values, in order. */
async function runGraph(graph: Graph, feeds: Record<string, Tensor>, names: string[]): Promise<Record<string, Tensor>> {
  const g = graph.clone();
  g.outputs = names.map((name) => ({ name, dtype: 'float32', shape: [] }));
  const s = await Session.create(makeModel(g), { threads: 1 });
  try {
    const r = await s.run(feeds);
    return Object.fromEntries(names.map((n) => [n, r[n] as Tensor]));
  } finally {
    await s.release();
  }
}
