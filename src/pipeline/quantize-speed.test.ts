// keepFloat 'auto': attributing onnxruntime's per-node profile to the model's layers, the per-layer
// choice, the batch tiling, and the whole search on a trained corpus CNN.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { loadDataForModel, sliceTensorDataset, tensorBatch } from '../data/index.js';
import { Tensor } from '../ir/tensor.js';
import { loadModel } from '../load.js';
import type { NodeProfile } from '../runtime/profile.js';
import { quantizeModel } from './quantize.js';
import { attributeTimes, chooseInt8Units, feedsOfBatch, runnableTargets, UNIT_NOISE } from './quantize-speed.js';

const CORPUS = fileURLToPath(new URL('../../../test/fixtures/corpus/', import.meta.url));
const resnet = (): ReturnType<typeof loadModel> => loadModel(`${CORPUS}mnist_resnet20.opset17.onnx`);

test('attributeTimes: QDQ-fused nodes by their layer name, NCHWc nodes by the value the layer (and its fused Relu) computes', () => {
  const m = resnet();
  const g = m.graph;
  const convs = g.nodes.filter((n) => n.opType === 'Conv');
  const [c0, c1] = convs as [(typeof convs)[number], (typeof convs)[number]];
  const relu = g.consumersOf(c0.outputs[0] as string)[0];
  assert.equal(relu?.opType, 'Relu');
  const profile: NodeProfile = {
    msPerRun: 1,
    nodes: [
      { name: `${c0.name}_token_12`, op: 'QLinearConv', us: 30 },
      { name: `${relu?.outputs[0]}_nchwc`, op: 'Conv', us: 7 },
      { name: c1.name, op: 'Conv', us: 5 },
      { name: 'QuantizeLinear_3', op: 'QuantizeLinear', us: 100 },
      { name: 'ReorderInput_token_1', op: 'ReorderInput', us: 100 },
    ],
  };
  const t = attributeTimes(g, [c0.name, c1.name], profile);
  assert.equal(t.get(c0.name), 37);
  assert.equal(t.get(c1.name), 5);
  assert.equal(
    [...t.values()].reduce((a, b) => a + b, 0),
    42,
    'Q/DQ and layout reorders belong to no layer',
  );
});

test('chooseInt8Units: int8 only where not slower over the settings, each weighted by its own float model time', () => {
  const g = resnet().graph;
  const [a, b, c] = g.nodes.filter((n) => n.opType === 'Conv').map((n) => n.name) as [string, string, string];
  const p = (times: Record<string, number>, filler: number): NodeProfile => ({
    msPerRun: 1,
    nodes: [...Object.entries(times).map(([name, us]) => ({ name, op: 'Conv', us })), { name: 'Other', op: 'Other', us: filler }],
  });
  // Setting 1 (float total 1000 µs): a +10 µs slower in int8; setting 2 (float total 100 µs): a 20 µs faster.
  const int8 = [p({ [a]: 110, [b]: 300 }, 0), p({ [a]: 10, [b]: 30 }, 0)];
  const float = [p({ [a]: 100, [b]: 100, [c]: 50 }, 750), p({ [a]: 30, [b]: 10, [c]: 5 }, 55)];
  const u = chooseInt8Units(g, [a, b, c], int8, float);
  const byName = new Map(u.map((x) => [x.name, x]));
  assert.ok(Math.abs((byName.get(a)?.cost ?? 0) - (10 / 1000 - 20 / 100)) < 1e-12);
  assert.equal(byName.get(a)?.int8, true, '+1% of one model, −20% of the other: int8');
  assert.equal(byName.get(b)?.int8, false, 'slower in int8 at both settings: float');
  assert.equal(byName.get(c)?.int8, true, 'not run as an int8 node of its own: left as it was');
  assert.deepEqual(byName.get(b)?.int8Us, [300, 30]);
});

test('chooseInt8Units: a kernel within the profile noise of its float time stays int8; clearly slower goes float', () => {
  const g = resnet().graph;
  const [a, b] = g.nodes.filter((n) => n.opType === 'Conv').map((n) => n.name) as [string, string];
  const p = (times: Record<string, number>): NodeProfile => ({
    msPerRun: 1,
    nodes: [...Object.entries(times).map(([name, us]) => ({ name, op: 'Conv', us })), { name: 'Other', op: 'Other', us: 800 }],
  });
  // a: 5% slower in int8 (noise); b: 25% slower at both settings.
  const near = 1 + UNIT_NOISE / 2;
  const u = chooseInt8Units(
    g,
    [a, b],
    [p({ [a]: 100 * near, [b]: 125 }), p({ [a]: 100 * near, [b]: 125 })],
    [p({ [a]: 100, [b]: 100 }), p({ [a]: 100, [b]: 100 })],
  );
  const byName = new Map(u.map((x) => [x.name, x]));
  assert.ok((byName.get(a)?.cost ?? 0) > 0, 'a is (slightly) slower in int8');
  assert.equal(byName.get(a)?.int8, true, 'within the noise: int8');
  assert.equal(byName.get(b)?.int8, false, 'clearly slower: float');
});

test('chooseInt8Units: a residual Add fused away in float follows the int8 layer that feeds it', () => {
  const g = resnet().graph;
  const add = g.nodes.find((n) => n.opType === 'Add');
  assert.ok(add !== undefined);
  // The Add's inputs come from convolutions (one through a Relu, or the block's input).
  const convs = add.inputs.map((v) => g.producerOf(v)).filter((p) => p?.opType === 'Conv');
  const conv = convs[0]?.name as string;
  assert.ok(conv !== undefined);
  const p = (times: Record<string, number>): NodeProfile => ({
    msPerRun: 1,
    nodes: [...Object.entries(times).map(([name, us]) => ({ name, op: 'X', us })), { name: 'Other', op: 'Other', us: 500 }],
  });
  // Float: the Add fused into the conv (no time of its own). Int8: the conv is faster, the QLinearAdd costs 5 µs.
  const fast = chooseInt8Units(g, [conv, add.name], [p({ [conv]: 10, [add.name]: 5 })], [p({ [conv]: 50 })]);
  assert.deepEqual(
    fast.map((u) => u.int8),
    [true, true],
    'conv int8, so the Add stays int8 too',
  );
  const slow = chooseInt8Units(g, [conv, add.name], [p({ [conv]: 90, [add.name]: 5 })], [p({ [conv]: 50 })]);
  assert.deepEqual(
    slow.map((u) => u.int8),
    [false, false],
    'conv float: the Add is free fused into it',
  );
});

test('feedsOfBatch repeats the rows it has to fill the batch', () => {
  const x = new Tensor('float32', [2, 3], Float32Array.of(1, 2, 3, 4, 5, 6));
  const ids = new Tensor('int64', [2, 1], BigInt64Array.of(7n, 8n));
  const f = feedsOfBatch({ x, ids }, 5);
  assert.deepEqual(f['x']?.dims, [5, 3]);
  assert.deepEqual([...((f['x'] as Tensor).data as Float32Array)], [1, 2, 3, 4, 5, 6, 1, 2, 3, 4, 5, 6, 1, 2, 3]);
  assert.deepEqual([...((f['ids'] as Tensor).data as BigInt64Array)], [7n, 8n, 7n, 8n, 7n]);
  assert.deepEqual(feedsOfBatch({ x }, 1)['x']?.dims, [1, 3]);
  assert.equal(feedsOfBatch({ x, ids }, 4, (name) => name === 'x')['ids'], ids, 'an input that is not batched is passed as it is');
});

test('runnableTargets: a model whose input fixes batch 1 is timed at batch 1 only', () => {
  const m = resnet();
  const targets = [
    { batch: 1, threads: 1 },
    { batch: 32, threads: 1 },
    { batch: 32, threads: 2 },
  ];
  assert.deepEqual(runnableTargets(m, targets), targets, 'dynamic batch: as asked');
  const fixed = { ...m, graph: m.graph.clone() };
  fixed.graph.inputs = fixed.graph.inputs.map((i) => ({ ...i, shape: [1, ...i.shape.slice(1)] }));
  assert.deepEqual(runnableTargets(fixed, targets), [
    { batch: 1, threads: 1 },
    { batch: 1, threads: 2 },
  ]);
});

test("keepFloat 'auto' on a trained MNIST ResNet-20: profiles, times the forms, keeps the fastest, and stays accurate", async () => {
  const m = resnet();
  const ds = loadDataForModel(m, `${CORPUS}mnist.calib.npy`);
  const samples = tensorBatch(ds, 0, 16).feeds[m.graph.inputs[0]?.name as string] as Tensor;
  const notes: string[] = [];
  const r = await quantizeModel(m, {
    scheme: 'ptq',
    samples,
    keepFloat: 'auto',
    speedTargets: [{ batch: 2, threads: 1 }],
    evaluation: sliceTensorDataset(ds, 16, Math.min(ds.count, 528)),
    threads: 1,
    onEvent: (e) => {
      if (e.type === 'note') notes.push(e.message);
    },
  });
  const auto = r.keepFloatAuto;
  assert.ok(auto !== undefined);
  const convs = m.graph.nodes.filter((n) => n.opType === 'Conv').map((n) => n.name);
  for (const c of convs)
    assert.ok(
      auto.units.some((u) => u.name === c),
      `${c} was profiled`,
    );
  assert.ok(
    auto.units.filter((u) => u.op === 'Conv').every((u) => (u.int8Us[0] as number) > 0 && (u.floatUs[0] as number) > 0),
    'every conv found in both profiles',
  );
  assert.equal(auto.rows[0]?.form, 'fp32');
  assert.deepEqual(auto.rows.at(-1)?.form, 'float-compute');
  assert.ok(auto.rows.every((x) => x.ms.length === 1 && (x.ms[0] as number) > 0));
  const kept = auto.rows.find((x) => x.form === auto.form);
  assert.ok(kept !== undefined);
  // float-compute unless an int8 form beat it by the margin (≥ 3%, or the fp32 / float-compute gap).
  const fc = auto.rows.at(-1);
  assert.ok(fc !== undefined && auto.margin >= 1.03 - 1e-9);
  const fp32 = auto.rows[0]?.ms ?? [];
  assert.ok(auto.margin >= Math.max(...fc.ms.map((m, i) => Math.max(m / (fp32[i] as number), (fp32[i] as number) / m))) - 1e-9);
  if (kept !== fc) assert.ok(kept.vsFp32 > fc.vsFp32 * auto.margin, `${kept.form} kept: clearly faster than float-compute`);
  else
    for (const x of auto.rows.slice(1, -1))
      assert.ok(!(x.vsFp32 > fc.vsFp32 * auto.margin && x.ms.every((m, i) => m <= (fc.ms[i] as number) * auto.margin)), `${x.form} was clearly faster`);
  assert.deepEqual(r.keepFloat, auto.form === 'all-int8' ? [] : kept.keepFloat);
  assert.ok(notes.some((n) => /← kept/.test(n)));
  // Every layer is stored in 8 bits whichever form won; the float ones are float32 compute only.
  assert.equal(r.layers.length, convs.length + 1);
  assert.ok(r.layers.every((l) => l.bits === 8));
  const top1 = r.comparison?.outputs[0]?.top1 ?? 0;
  assert.ok(top1 >= 0.99, `top-1 agreement ${top1}`);
});
