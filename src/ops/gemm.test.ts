import assert from 'node:assert/strict';
import { test } from 'node:test';
import { attr, Graph } from '../ir/graph.js';
import { gradCheck, randomTensor } from '../../test/gradcheck.js';

for (const [ta, tb] of [
  [0, 0],
  [0, 1],
  [1, 0],
  [1, 1],
] as const) {
  test(`Gemm transA=${ta} transB=${tb} alpha/beta with broadcast bias: gradients match finite differences`, async () => {
    const g = new Graph('gemm');
    const aDims = ta ? [4, 3] : [3, 4];
    const bDims = tb ? [5, 4] : [4, 5];
    g.inputs.push({ name: 'a', dtype: 'float64', shape: aDims }, { name: 'b', dtype: 'float64', shape: bDims }, { name: 'c', dtype: 'float64', shape: [5] });
    g.nodes.push({
      name: 'gemm',
      opType: 'Gemm',
      domain: '',
      inputs: ['a', 'b', 'c'],
      outputs: ['y'],
      attributes: { transA: attr.int(ta), transB: attr.int(tb), alpha: attr.float(0.7), beta: attr.float(1.3) },
    });
    g.outputs.push({ name: 'y', dtype: 'float64', shape: [3, 5] });
    const r = await gradCheck({
      graph: g,
      feeds: { a: randomTensor('float64', aDims, 1), b: randomTensor('float64', bDims, 2), c: randomTensor('float64', [5], 3) },
      wrt: ['a', 'b', 'c'],
    });
    assert.equal(r.checked, 12 + 20 + 5);
  });
}
