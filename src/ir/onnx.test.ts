import assert from 'node:assert/strict';
import { test } from 'node:test';
import { attr, Graph, makeModel } from './graph.js';
import { decodeModel, encodeModel } from './onnx.js';
import { Tensor } from './tensor.js';
import { WhittleError } from './errors.js';

function sample(): Graph {
  const g = new Graph('t');
  g.inputs.push({ name: 'x', dtype: 'float32', shape: ['N', 3] });
  g.initializers.set('w', Tensor.fromArray('float32', [2, 3], [1, 2, 3, 4, 5, 6]));
  g.initializers.set('b', Tensor.fromArray('float64', [2], [0.5, -0.25]));
  g.initializers.set('shape', Tensor.int64([-1, 2]));
  g.nodes.push({
    name: 'fc',
    opType: 'Gemm',
    domain: '',
    inputs: ['x', 'w'],
    outputs: ['y'],
    attributes: { transB: attr.int(1), alpha: attr.float(0.5), pads: attr.ints([1, 2]) },
  });
  g.outputs.push({ name: 'y', dtype: 'float32', shape: ['N', 2] });
  return g;
}

test('encode → decode → encode is lossless', () => {
  const m = makeModel(sample(), { 'whittle.normalize': 'x/255' });
  const bytes = encodeModel(m);
  const back = decodeModel(bytes);
  assert.deepEqual(back.metadata, { 'whittle.normalize': 'x/255' });
  assert.equal(back.graph.nodes[0]?.opType, 'Gemm');
  assert.deepEqual(back.graph.nodes[0]?.attributes, m.graph.nodes[0]?.attributes);
  assert.deepEqual(back.graph.inputs, m.graph.inputs);
  assert.deepEqual([...(back.graph.initializers.get('w')?.data ?? [])], [1, 2, 3, 4, 5, 6]);
  assert.deepEqual([...(back.graph.initializers.get('b')?.data ?? [])], [0.5, -0.25]);
  assert.deepEqual(back.graph.initializers.get('shape')?.toNumbers(), [-1, 2]);
  assert.deepEqual(encodeModel(back), bytes);
});

test('garbage bytes give a BAD_ONNX error naming the file', () => {
  const junk = new Uint8Array(200).map((_, i) => (i * 37 + 11) & 0xff);
  assert.throws(
    () => decodeModel(junk, 'junk.onnx'),
    (e: unknown) => e instanceof WhittleError && e.code === 'BAD_ONNX' && e.message.includes('junk.onnx'),
  );
});

test('a truncated file is refused', () => {
  const bytes = encodeModel(makeModel(sample()));
  assert.throws(
    () => decodeModel(bytes.slice(0, Math.floor(bytes.length / 2)), 'cut.onnx'),
    (e: unknown) => e instanceof WhittleError && e.code === 'BAD_ONNX',
  );
});

test('a declared dim past 2^53 is a named BAD_ONNX error at decode, not an internal error when the model is written again', () => {
  for (const [dim, ok] of [
    [2 ** 53 - 1, true],
    [2 ** 62, false],
  ] as const) {
    const g = sample();
    const out = g.outputs[0];
    assert.ok(out !== undefined);
    g.outputs[0] = { ...out, shape: [dim, ...out.shape.slice(1)] };
    const bytes = encodeModel(makeModel(g));
    if (ok) assert.deepEqual(encodeModel(decodeModel(bytes)), bytes);
    else
      assert.throws(
        () => decodeModel(bytes, 'big.onnx'),
        (e: unknown) => e instanceof WhittleError && e.code === 'BAD_ONNX' && e.message.includes(`declares dim ${2n ** 62n} on axis 0`),
      );
  }
});
