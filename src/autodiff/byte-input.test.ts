// In-graph normalization of byte inputs against data/'s JavaScript tables, value by value.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { NORMALIZATIONS, normalizationAffine, normalizeValue } from '../data/index.js';
import { Graph, makeModel } from '../ir/graph.js';
import { Tensor } from '../ir/tensor.js';
import { Session } from '../runtime/session.js';
import { byteInput } from './byte-input.js';

for (const normalization of NORMALIZATIONS) {
  test(`byteInput normalizes every byte value as data/ does (${normalization})`, async () => {
    const g = new Graph('identity');
    g.inputs.push({ name: 'x', dtype: 'float32', shape: [256] });
    g.nodes.push({ name: 'id', opType: 'Identity', domain: '', inputs: ['x'], outputs: ['y'], attributes: {} });
    g.outputs.push({ name: 'y', dtype: 'float32', shape: [256] });
    const fed = byteInput(g, 'x', normalizationAffine(normalization));
    assert.equal(fed, 'x.bytes');
    assert.deepEqual(
      g.inputs.map((v) => [v.name, v.dtype]),
      [['x.bytes', 'uint8']],
    );
    const session = await Session.create(makeModel(g), { threads: 1 });
    try {
      const bytes = Uint8Array.from({ length: 256 }, (_, i) => i);
      const y = (await session.run({ [fed]: new Tensor('uint8', [256], bytes) }))['y']?.data as Float32Array;
      for (let v = 0; v < 256; v++) {
        const want = normalizeValue(v, normalization);
        // x/255 and none are one correctly rounded operation: bit-identical. mean-std rounds three
        // times in float32 instead of once: within a few ulps.
        if (normalization === 'mnist-mean-std')
          assert.ok(Math.abs((y[v] as number) - want) <= 4e-7 * Math.max(1, Math.abs(want)), `byte ${v}: ${y[v]} vs ${want}`);
        else assert.equal(y[v], want, `byte ${v}`);
      }
    } finally {
      await session.release();
    }
  });
}

test('byteInput refuses an input that is not float32', () => {
  const g = new Graph('ints');
  g.inputs.push({ name: 'ids', dtype: 'int64', shape: [4] });
  assert.throws(
    () => byteInput(g, 'ids', { scale: 255, mean: 0, std: 1 }),
    (e: Error & { code?: string }) => e.code === 'BAD_ARGUMENT' && /not a float32 input/.test(e.message),
  );
});
