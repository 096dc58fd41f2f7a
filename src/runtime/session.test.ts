import assert from 'node:assert/strict';
import { test } from 'node:test';
import { identityCornersModel } from '../../test/chain-model.js';
import { attr, Graph, makeModel } from '../ir/graph.js';
import { encodeModel } from '../ir/onnx.js';
import { Tensor } from '../ir/tensor.js';
import { Session, SessionCache } from './session.js';

function gemmModel() {
  const g = new Graph('t');
  g.inputs.push({ name: 'x', dtype: 'float32', shape: ['N', 3] });
  g.initializers.set('w', Tensor.fromArray('float32', [2, 3], [1, 2, 3, 4, 5, 6]));
  g.initializers.set('b', Tensor.fromArray('float32', [2], [0.5, -1]));
  g.nodes.push({ name: 'fc', opType: 'Gemm', domain: '', inputs: ['x', 'w', 'b'], outputs: ['y'], attributes: { transB: attr.int(1) } });
  g.outputs.push({ name: 'y', dtype: 'float32', shape: ['N', 2] });
  return makeModel(g);
}

for (const backend of ['node', 'web'] as const) {
  test(`a Gemm graph runs in onnxruntime (${backend}) and matches a hand computation`, async () => {
    const s = await Session.create(gemmModel(), { threads: 1, backend });
    const { y } = await s.run({ x: Tensor.fromArray('float32', [2, 3], [1, 0, 0, 1, 1, 1]) });
    assert.deepEqual(y?.dims, [2, 2]);
    assert.deepEqual([...(y?.data ?? [])], [1.5, 3, 6.5, 14]);
    await s.release();
  });
}

test('SessionCache: the same graph again reuses its session; other weights or threads build a new one', async () => {
  const cache = new SessionCache({ capacity: 2 });
  const x = Tensor.fromArray('float32', [1, 3], [1, 0, 0]);
  const a = await cache.acquire(gemmModel(), { threads: 1 });
  assert.deepEqual([...((await a.session.run({ x })).y?.data ?? [])], [1.5, 3]);
  await a.release();
  const again = await cache.acquire(gemmModel(), { threads: 1 });
  assert.equal(again.session, a.session, 'the same bytes get the same session');
  assert.deepEqual(cache.stats, { created: 1, hits: 1, live: 1 });
  await again.release();
  const other = gemmModel();
  (other.graph.initializers.get('b')?.data as Float32Array)[0] = 10;
  const b = await cache.acquire(other, { threads: 1 });
  assert.notEqual(b.session, a.session);
  assert.deepEqual([...((await b.session.run({ x })).y?.data ?? [])], [11, 3], 'new weights, new session');
  await b.release();
  await (await cache.acquire(gemmModel(), { threads: 2 })).release();
  assert.deepEqual(cache.stats, { created: 3, hits: 1, live: 2 }, 'capacity 2: the oldest went');
  await cache.clear();
  assert.equal(cache.stats.live, 0);
});

test('SessionCache: a model that differs only in metadata reuses the session, without serializing the model again', async () => {
  const { codecCounts } = await import('../ir/onnx.js');
  const cache = new SessionCache();
  const a = await cache.acquire(gemmModel(), { threads: 1 });
  await a.release();
  const encodes = codecCounts().encodes;
  const tagged = { ...gemmModel(), metadata: { 'whittle.normalize': 'x/255' } };
  const b = await cache.acquire(tagged, { threads: 1 });
  assert.equal(b.session, a.session);
  assert.equal(codecCounts().encodes, encodes, 'a hit costs no encode');
  await b.release();
  await cache.clear();
});

test('threads: more than the cores is capped (a recipe asking for 99 runs); none or a fraction is refused clearly', async () => {
  const s = await Session.create(gemmModel(), { threads: 99 });
  const { y } = await s.run({ x: Tensor.fromArray('float32', [1, 3], [1, 0, 0]) });
  assert.deepEqual([...(y?.data ?? [])], [1.5, 3]);
  await s.release();
  for (const threads of [0, -1, 1.5])
    await assert.rejects(
      Session.create(gemmModel(), { threads }),
      (e: Error & { code?: string }) => e.code === 'BAD_ARGUMENT' && /options\.threads/.test(e.message),
    );
});

test('a session runs the model without its Identity nodes and gives every graph output as the full graph does', async () => {
  const model = identityCornersModel();
  const x = Tensor.fromArray('float32', [2, 3], [1, -2, 3, -0.5, 0.25, 4]);
  // The file's own bytes, every Identity in place, against the session Whittle builds from the model.
  const full = await Session.create(encodeModel(model), { threads: 1 });
  const elided = await Session.create(model, { threads: 1 });
  const want = await full.run({ x });
  const got = await elided.run({ x });
  assert.deepEqual(Object.keys(got).sort(), ['n', 'out_a', 'out_b', 'out_s', 'out_x']);
  for (const [name, t] of Object.entries(want)) assert.deepEqual([...(got[name]?.data ?? [])], [...t.data], name);
  await full.release();
  await elided.release();
});
