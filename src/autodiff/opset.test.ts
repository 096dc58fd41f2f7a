// The opset-17 rewrite of older models must compute exactly what onnxruntime computes for the
// original file at its own opset.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { randomTensor } from '../../test/gradcheck.js';
import { WhittleError } from '../ir/errors.js';
import type { Model } from '../ir/graph.js';
import { attr, Graph, makeModel, opsetOf } from '../ir/graph.js';
import { Tensor } from '../ir/tensor.js';
import { Session } from '../runtime/session.js';
import { raiseToOpset18, TRAINING_OPSET, upgradeToTrainingOpset } from './opset.js';

function atOpset(g: Graph, version: number): Model {
  return { ...makeModel(g), opsetImports: [{ domain: '', version }], irVersion: 6 };
}

async function runOnce(model: Model, feeds: Record<string, Tensor>): Promise<Record<string, Tensor>> {
  const s = await Session.create(model, { threads: 1 });
  const out = await s.run(feeds);
  await s.release();
  return out;
}

async function assertSameOutputs(model: Model, feeds: Record<string, Tensor>): Promise<Model> {
  const up = upgradeToTrainingOpset(model);
  assert.equal(opsetOf(up), TRAINING_OPSET);
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

test('opsets older than 11 are refused with the fix named; 17 and newer are kept', () => {
  const g = new Graph('id');
  g.inputs.push({ name: 'x', dtype: 'float32', shape: [1] });
  g.nodes.push({ name: 'id', opType: 'Identity', domain: '', inputs: ['x'], outputs: ['y'], attributes: {} });
  g.outputs.push({ name: 'y', dtype: 'float32', shape: [1] });
  assert.throws(
    () => upgradeToTrainingOpset(atOpset(g, 9)),
    (e: unknown) => e instanceof WhittleError && e.code === 'UNSUPPORTED_OPSET' && /opset_version=17/.test(e.message),
  );
  assert.equal(upgradeToTrainingOpset(atOpset(g, 17)).graph, g);
  assert.equal(upgradeToTrainingOpset(atOpset(g, 18)).graph, g);
});

test('raiseToOpset18: reductions with axes attributes and an even Split (in a Loop body too) compute the same at 18', async () => {
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
  const up = raiseToOpset18(model);
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
  assert.equal(raiseToOpset18(up), up);
});
