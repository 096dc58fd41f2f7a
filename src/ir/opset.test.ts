// The upgraded model must compute exactly what onnxruntime computes for the original file at its
// own opset. (test/conformance/opset-upgrade.test.ts does the same for ONNX's opset-7–12 node tests.)
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { randomTensor } from '../../test/gradcheck.js';
import { SHAPE_RULES } from '../ops/index.js';
import { Session } from '../runtime/session.js';
import { WhittleError } from './errors.js';
import type { Model } from './graph.js';
import { attr, Graph, makeModel, opsetOf } from './graph.js';
import { upgradeOpset } from './opset.js';
import { Tensor } from './tensor.js';

function atOpset(g: Graph, version: number): Model {
  return { ...makeModel(g), opsetImports: [{ domain: '', version }], irVersion: 6 };
}

async function runOnce(model: Model, feeds: Record<string, Tensor>): Promise<Record<string, Tensor>> {
  const s = await Session.create(model, { threads: 1 });
  const out = await s.run(feeds);
  await s.release();
  return out;
}

async function assertSameOutputs(model: Model, feeds: Record<string, Tensor>, target = 17): Promise<Model> {
  const up = upgradeOpset(model, target, { rules: SHAPE_RULES });
  assert.equal(opsetOf(up), target);
  const [want, got] = [await runOnce(model, feeds), await runOnce(up, feeds)];
  for (const o of model.graph.outputs) {
    const a = want[o.name] as Tensor;
    const b = got[o.name] as Tensor;
    assert.deepEqual([...b.dims], [...a.dims], `${o.name} shape`);
    for (let i = 0; i < a.size; i++) assert.ok(Math.abs(Number(a.data[i]) - Number(b.data[i])) < 1e-6, `${o.name}[${i}]: ${a.data[i]} vs ${b.data[i]}`);
  }
  return up;
}

for (const [op, axis] of [
  ['Softmax', 1],
  ['LogSoftmax', 1],
  ['Softmax', 0],
  ['Softmax', 2],
  ['Softmax', -1],
  ['Hardmax', 1],
] as const) {
  test(`opset 11 ${op} (axis ${axis}, flatten-to-2-D semantics) on [2,3,4] computes the same at opset 17`, async () => {
    const g = new Graph('sm');
    g.inputs.push({ name: 'x', dtype: 'float32', shape: [2, 3, 4] });
    g.nodes.push({ name: 'sm', opType: op, domain: '', inputs: ['x'], outputs: ['y'], attributes: { axis: attr.int(axis) } });
    g.outputs.push({ name: 'y', dtype: 'float32', shape: [2, 3, 4] });
    const up = await assertSameOutputs(atOpset(g, 11), { x: randomTensor('float32', [2, 3, 4], 1, -2, 2) });
    // Only axis 2 = the last axis keeps the single node.
    assert.equal(up.graph.nodes.length, axis === 2 || axis === -1 ? 1 : 4);
  });
}

test('opset 11 Squeeze, Unsqueeze, ReduceSum, Split (attributes) compute the same at opset 17 (inputs)', async () => {
  const g = new Graph('attrs');
  g.inputs.push({ name: 'x', dtype: 'float32', shape: [2, 1, 6] });
  g.nodes.push(
    { name: 'sq', opType: 'Squeeze', domain: '', inputs: ['x'], outputs: ['s'], attributes: { axes: attr.ints([1]) } },
    { name: 'un', opType: 'Unsqueeze', domain: '', inputs: ['s'], outputs: ['u'], attributes: { axes: attr.ints([0, 3]) } },
    { name: 'rs', opType: 'ReduceSum', domain: '', inputs: ['u'], outputs: ['r'], attributes: { axes: attr.ints([2]), keepdims: attr.int(0) } },
    { name: 'sp', opType: 'Split', domain: '', inputs: ['s'], outputs: ['p', 'q'], attributes: { axis: attr.int(1), split: attr.ints([2, 4]) } },
  );
  g.outputs.push(
    { name: 'r', dtype: 'float32', shape: [1, 2, 1] },
    { name: 'p', dtype: 'float32', shape: [2, 2] },
    { name: 'q', dtype: 'float32', shape: [2, 4] },
  );
  await assertSameOutputs(atOpset(g, 11), { x: randomTensor('float32', [2, 1, 6], 2) });
});

test('opset 11 Dropout (ratio attribute) in inference computes the same at opset 17', async () => {
  const g = new Graph('drop');
  g.inputs.push({ name: 'x', dtype: 'float32', shape: [3, 4] });
  g.nodes.push({ name: 'd', opType: 'Dropout', domain: '', inputs: ['x'], outputs: ['y'], attributes: { ratio: attr.float(0.3) } });
  g.outputs.push({ name: 'y', dtype: 'float32', shape: [3, 4] });
  const up = await assertSameOutputs(atOpset(g, 11), { x: randomTensor('float32', [3, 4], 3) });
  const ratio = up.graph.initializers.get(up.graph.nodes[0]?.inputs[1] ?? '');
  assert.ok(ratio !== undefined && Math.abs(Number(ratio.data[0]) - 0.3) < 1e-7);
});

test('nodes inside a Loop body are rewritten too', async () => {
  const body = new Graph('body');
  body.inputs.push({ name: 'i', dtype: 'int64', shape: [] }, { name: 'c', dtype: 'bool', shape: [] }, { name: 'acc', dtype: 'float32', shape: [2, 3] });
  body.nodes.push(
    { name: 'cid', opType: 'Identity', domain: '', inputs: ['c'], outputs: ['c_out'], attributes: {} },
    { name: 'bsm', opType: 'Softmax', domain: '', inputs: ['acc'], outputs: ['acc_out'], attributes: { axis: attr.int(0) } },
  );
  body.outputs.push({ name: 'c_out', dtype: 'bool', shape: [] }, { name: 'acc_out', dtype: 'float32', shape: [2, 3] });
  const g = new Graph('loop');
  g.inputs.push({ name: 'x', dtype: 'float32', shape: [2, 3] });
  g.initializers.set('trip', Tensor.fromArray('int64', [], [2]));
  g.nodes.push({ name: 'loop', opType: 'Loop', domain: '', inputs: ['trip', '', 'x'], outputs: ['y'], attributes: { body: attr.graph(body) } });
  g.outputs.push({ name: 'y', dtype: 'float32', shape: [2, 3] });
  const up = await assertSameOutputs(atOpset(g, 11), { x: randomTensor('float32', [2, 3], 4, -2, 2) });
  const newBody = up.graph.nodes[0]?.attributes['body'];
  assert.ok(newBody?.type === 'graph' && newBody.value.nodes.some((n) => n.opType === 'Flatten'));
});

test('opsets older than 7 are refused with the fix named; a model at the target or newer is kept', () => {
  const g = new Graph('id');
  g.inputs.push({ name: 'x', dtype: 'float32', shape: [1] });
  g.nodes.push({ name: 'id', opType: 'Identity', domain: '', inputs: ['x'], outputs: ['y'], attributes: {} });
  g.outputs.push({ name: 'y', dtype: 'float32', shape: [1] });
  assert.throws(
    () => upgradeOpset(atOpset(g, 6), 17),
    (e: unknown) => e instanceof WhittleError && e.code === 'UNSUPPORTED_OPSET' && /opset_version=17/.test(e.message),
  );
  assert.throws(
    () => upgradeOpset(atOpset(g, 9), 22),
    (e: unknown) => e instanceof WhittleError && e.code === 'BAD_ARGUMENT' && /21/.test(e.message),
  );
  assert.equal(upgradeOpset(atOpset(g, 17), 17).graph, g);
  assert.equal(upgradeOpset(atOpset(g, 18), 17).graph, g);
});

test('to 18: reductions with axes attributes and an even Split (in a Loop body too) compute the same at 18', async () => {
  const body = new Graph('body');
  body.inputs.push({ name: 'i', dtype: 'int64', shape: [] }, { name: 'c', dtype: 'bool', shape: [] }, { name: 'acc', dtype: 'float32', shape: [2, 3] });
  body.nodes.push(
    { name: 'cid', opType: 'Identity', domain: '', inputs: ['c'], outputs: ['c_out'], attributes: {} },
    { name: 'bmax', opType: 'ReduceMax', domain: '', inputs: ['acc'], outputs: ['m'], attributes: { axes: attr.ints([1]), keepdims: attr.int(1) } },
    { name: 'bsub', opType: 'Sub', domain: '', inputs: ['acc', 'm'], outputs: ['acc_out'], attributes: {} },
  );
  body.outputs.push({ name: 'c_out', dtype: 'bool', shape: [] }, { name: 'acc_out', dtype: 'float32', shape: [2, 3] });
  const g = new Graph('r18');
  g.inputs.push({ name: 'x', dtype: 'float32', shape: [2, 4] }, { name: 'z', dtype: 'float32', shape: [2, 3] });
  g.initializers.set('trip', Tensor.fromArray('int64', [], [2]));
  g.nodes.push(
    { name: 'mean', opType: 'ReduceMean', domain: '', inputs: ['x'], outputs: ['mean'], attributes: { axes: attr.ints([0]), keepdims: attr.int(0) } },
    { name: 'l2', opType: 'ReduceL2', domain: '', inputs: ['x'], outputs: ['l2'], attributes: { axes: attr.ints([-1]) } },
    { name: 'all', opType: 'ReduceProd', domain: '', inputs: ['x'], outputs: ['prod'], attributes: { keepdims: attr.int(0) } },
    { name: 'sp', opType: 'Split', domain: '', inputs: ['x'], outputs: ['p', 'q'], attributes: { axis: attr.int(1) } },
    { name: 'loop', opType: 'Loop', domain: '', inputs: ['trip', '', 'z'], outputs: ['y'], attributes: { body: attr.graph(body) } },
  );
  g.outputs.push(
    { name: 'mean', dtype: 'float32', shape: [4] },
    { name: 'l2', dtype: 'float32', shape: [2, 1] },
    { name: 'prod', dtype: 'float32', shape: [] },
    { name: 'p', dtype: 'float32', shape: [2, 2] },
    { name: 'q', dtype: 'float32', shape: [2, 2] },
    { name: 'y', dtype: 'float32', shape: [2, 3] },
  );
  const model = atOpset(g, 17);
  const up = upgradeOpset(model, 18);
  assert.equal(opsetOf(up), 18);
  assert.ok(!up.graph.nodes.some((n) => n.attributes['axes'] !== undefined), 'no axes attribute left');
  const feeds = { x: randomTensor('float32', [2, 4], 5, 0.5, 2), z: randomTensor('float32', [2, 3], 6, -2, 2) };
  const [want, got] = [await runOnce(model, feeds), await runOnce(up, feeds)];
  for (const o of g.outputs) {
    const a = want[o.name] as Tensor;
    const b = got[o.name] as Tensor;
    assert.deepEqual([...b.dims], [...a.dims], `${o.name} shape`);
    for (let i = 0; i < a.size; i++) assert.ok(Math.abs(Number(a.data[i]) - Number(b.data[i])) < 1e-6, `${o.name}[${i}]: ${a.data[i]} vs ${b.data[i]}`);
  }
  // Opset 17 itself refuses the opset-18 form: the rewrite is what makes the graph valid there.
  await assert.rejects(runOnce({ ...up, opsetImports: [{ domain: '', version: 17 }] }, feeds));
  assert.equal(upgradeOpset(up, 18), up);
});

test('opset 9 Clip, Slice, Pad, TopK and Scatter (attribute forms) compute the same at 13 and 17', async () => {
  const g = new Graph('old');
  g.inputs.push({ name: 'x', dtype: 'float32', shape: [2, 3, 4] });
  g.initializers.set('idx', Tensor.fromArray('int64', [2, 1, 2], [0, 3, 2, 1]));
  g.initializers.set('upd', Tensor.fromArray('float32', [2, 1, 2], [9, 8, 7, 6]));
  g.nodes.push(
    { name: 'clip', opType: 'Clip', domain: '', inputs: ['x'], outputs: ['c'], attributes: { min: attr.float(-0.5), max: attr.float(0.25) } },
    { name: 'clipLo', opType: 'Clip', domain: '', inputs: ['x'], outputs: ['cl'], attributes: { min: attr.float(0) } },
    {
      name: 'slice',
      opType: 'Slice',
      domain: '',
      inputs: ['x'],
      outputs: ['s'],
      attributes: { starts: attr.ints([1, 0]), ends: attr.ints([3, 1000]), axes: attr.ints([2, 1]) },
    },
    { name: 'pad', opType: 'Pad', domain: '', inputs: ['x'], outputs: ['p'], attributes: { pads: attr.ints([0, 1, 0, 0, 2, 1]), value: attr.float(1.5) } },
    {
      name: 'refl',
      opType: 'Pad',
      domain: '',
      inputs: ['x'],
      outputs: ['r'],
      attributes: { pads: attr.ints([0, 0, 1, 0, 0, 2]), mode: attr.string('reflect') },
    },
    { name: 'topk', opType: 'TopK', domain: '', inputs: ['x'], outputs: ['tv', 'ti'], attributes: { k: attr.int(2) } },
    { name: 'scatter', opType: 'Scatter', domain: '', inputs: ['x', 'idx', 'upd'], outputs: ['sc'], attributes: { axis: attr.int(2) } },
  );
  g.outputs.push(
    { name: 'c', dtype: 'float32', shape: [2, 3, 4] },
    { name: 'cl', dtype: 'float32', shape: [2, 3, 4] },
    { name: 's', dtype: 'float32', shape: [2, 1, 2] },
    { name: 'p', dtype: 'float32', shape: [2, 6, 5] },
    { name: 'r', dtype: 'float32', shape: [2, 3, 7] },
    { name: 'tv', dtype: 'float32', shape: [2, 3, 2] },
    { name: 'ti', dtype: 'int64', shape: [2, 3, 2] },
    { name: 'sc', dtype: 'float32', shape: [2, 3, 4] },
  );
  const x = randomTensor('float32', [2, 3, 4], 7, -1, 1);
  for (const target of [13, 17]) {
    const up = await assertSameOutputs(atOpset(g, 9), { x }, target);
    assert.ok(!up.graph.nodes.some((n) => ['min', 'max', 'starts', 'pads', 'k'].some((a) => n.attributes[a] !== undefined)), 'no attribute form left');
    assert.ok(up.graph.nodes.some((n) => n.opType === 'ScatterElements'));
  }
});

test('opset 7 BatchNormalization (spatial) and Upsample (scales attribute, nearest and linear) compute the same at 17 as Resize', async () => {
  const g = new Graph('up');
  g.inputs.push({ name: 'x', dtype: 'float32', shape: [1, 2, 3, 3] });
  g.initializers.set('s', Tensor.fromArray('float32', [2], [1.5, 0.5]));
  g.initializers.set('b', Tensor.fromArray('float32', [2], [0.1, -0.2]));
  g.initializers.set('m', Tensor.fromArray('float32', [2], [0.3, -0.1]));
  g.initializers.set('v', Tensor.fromArray('float32', [2], [2, 0.5]));
  g.nodes.push(
    { name: 'bn', opType: 'BatchNormalization', domain: '', inputs: ['x', 's', 'b', 'm', 'v'], outputs: ['n'], attributes: { spatial: attr.int(1) } },
    { name: 'near', opType: 'Upsample', domain: '', inputs: ['n'], outputs: ['u'], attributes: { scales: attr.floats([1, 1, 2, 3]) } },
    {
      name: 'lin',
      opType: 'Upsample',
      domain: '',
      inputs: ['x'],
      outputs: ['l'],
      attributes: { scales: attr.floats([1, 1, 2, 2]), mode: attr.string('linear') },
    },
  );
  g.outputs.push({ name: 'u', dtype: 'float32', shape: [1, 2, 6, 9] }, { name: 'l', dtype: 'float32', shape: [1, 2, 6, 6] });
  const up = await assertSameOutputs(atOpset(g, 7), { x: randomTensor('float32', [1, 2, 3, 3], 8, -2, 2) });
  assert.deepEqual(
    up.graph.nodes.map((n) => n.opType),
    ['BatchNormalization', 'Resize', 'Resize'],
  );
});

test('opset 10 Resize (nearest, shrinking: onnxruntime rounds up) and Upsample with a scales input compute the same at 11 and 17', async () => {
  const g = new Graph('rs');
  g.inputs.push({ name: 'x', dtype: 'float32', shape: [1, 1, 5, 7] });
  g.initializers.set('down', Tensor.fromArray('float32', [4], [1, 1, 0.6, 0.5]));
  g.initializers.set('upsc', Tensor.fromArray('float32', [4], [1, 1, 2, 1.5]));
  g.nodes.push(
    { name: 'down', opType: 'Resize', domain: '', inputs: ['x', 'down'], outputs: ['d'], attributes: { mode: attr.string('nearest') } },
    { name: 'downlin', opType: 'Resize', domain: '', inputs: ['x', 'down'], outputs: ['dl'], attributes: { mode: attr.string('linear') } },
    { name: 'up', opType: 'Resize', domain: '', inputs: ['x', 'upsc'], outputs: ['u'], attributes: {} },
  );
  g.outputs.push(
    { name: 'd', dtype: 'float32', shape: [1, 1, 3, 3] },
    { name: 'dl', dtype: 'float32', shape: [1, 1, 3, 3] },
    { name: 'u', dtype: 'float32', shape: [1, 1, 10, 10] },
  );
  const x = randomTensor('float32', [1, 1, 5, 7], 9, -2, 2);
  for (const target of [11, 17]) await assertSameOutputs(atOpset(g, 10), { x }, target);
});

test('forms with no equivalent at the target are one UNSUPPORTED_OPSET error naming the node', () => {
  const g = new Graph('bad');
  g.inputs.push({ name: 'x', dtype: 'float32', shape: [1, 1, 4, 4] }, { name: 'sc', dtype: 'float32', shape: [4] });
  g.nodes.push({ name: 'resize_dyn', opType: 'Resize', domain: '', inputs: ['x', 'sc'], outputs: ['y'], attributes: {} });
  g.outputs.push({ name: 'y', dtype: 'float32', shape: [1, 1, 4, 4] });
  assert.throws(
    () => upgradeOpset(atOpset(g, 10), 17),
    (e: unknown) => e instanceof WhittleError && e.code === 'UNSUPPORTED_OPSET' && /Resize "resize_dyn"/.test(e.message) && /opset 10/.test(e.message),
  );
  const h = new Graph('bn0');
  h.inputs.push({ name: 'x', dtype: 'float32', shape: [1, 2] });
  for (const k of ['s', 'b', 'm', 'v']) h.initializers.set(k, Tensor.fromArray('float32', [2], [1, 1]));
  h.nodes.push({
    name: 'bn_elem',
    opType: 'BatchNormalization',
    domain: '',
    inputs: ['x', 's', 'b', 'm', 'v'],
    outputs: ['y'],
    attributes: { spatial: attr.int(0) },
  });
  h.outputs.push({ name: 'y', dtype: 'float32', shape: [1, 2] });
  assert.throws(
    () => upgradeOpset(atOpset(h, 7), 13),
    (e: unknown) => e instanceof WhittleError && /BatchNormalization "bn_elem".*spatial = 0/.test(e.message),
  );
});

test('opset 9 ImageScaler (experimental, removed at 10) computes the same at 17 as Mul + Add', async () => {
  const g = new Graph('is');
  g.inputs.push({ name: 'x', dtype: 'float32', shape: [2, 3, 2, 2] });
  g.nodes.push({
    name: 'sc',
    opType: 'ImageScaler',
    domain: '',
    inputs: ['x'],
    outputs: ['y'],
    attributes: { scale: attr.float(0.5), bias: attr.floats([1, -2, 3]) },
  });
  g.outputs.push({ name: 'y', dtype: 'float32', shape: [2, 3, 2, 2] });
  const up = await assertSameOutputs(atOpset(g, 9), { x: randomTensor('float32', [2, 3, 2, 2], 11, -2, 2) });
  assert.deepEqual(
    up.graph.nodes.map((n) => n.opType),
    ['Mul', 'Add'],
  );
});
