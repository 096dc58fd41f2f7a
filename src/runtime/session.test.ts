import assert from 'node:assert/strict';
import { test } from 'node:test';
import { attr, Graph, makeModel } from '../ir/graph.js';
import { Tensor } from '../ir/tensor.js';
import { Session } from './session.js';

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
