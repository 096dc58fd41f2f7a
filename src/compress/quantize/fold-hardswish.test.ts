// HardSwish spelled out by exporters (x · Clip(x + 3, 0, 6) / 6; x · HardSigmoid(x; 1/6, 1/2))
// becomes one HardSwish node: onnxruntime computes the same, and only unshared patterns fold.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { randomTensor } from '../../../test/gradcheck.js';
import type { Model } from '../../ir/graph.js';
import { attr, Graph, makeModel } from '../../ir/graph.js';
import { Tensor } from '../../ir/tensor.js';
import { Session } from '../../runtime/session.js';
import { foldHardSwish } from './fold-hardswish.js';

async function run(m: Model, x: Tensor): Promise<Record<string, Tensor>> {
  const s = await Session.create(m, { threads: 1 });
  try {
    return await s.run({ x });
  } finally {
    await s.release();
  }
}

test('foldHardSwish: Paddle and PyTorch-13 spellings become HardSwish with the same outputs; a shared intermediate blocks the fold', async () => {
  const g = new Graph('hs');
  g.inputs.push({ name: 'x', dtype: 'float32', shape: [2, 8] });
  for (const [k, v] of [
    ['three', 3],
    ['zero', 0],
    ['six', 6],
    ['sixth', 1 / 6],
  ] as const)
    g.initializers.set(k, Tensor.scalar('float32', v));
  g.nodes.push(
    // Paddle: Div(Mul(x, Clip(Add(x, 3), 0, 6)), 6)
    { name: 'a', opType: 'Add', domain: '', inputs: ['x', 'three'], outputs: ['a'], attributes: {} },
    { name: 'c', opType: 'Clip', domain: '', inputs: ['a', 'zero', 'six'], outputs: ['c'], attributes: {} },
    { name: 'm', opType: 'Mul', domain: '', inputs: ['x', 'c'], outputs: ['m'], attributes: {} },
    { name: 'd', opType: 'Div', domain: '', inputs: ['m', 'six'], outputs: ['p'], attributes: {} },
    // PyTorch at opset 13: Mul(HardSigmoid(x), x)
    { name: 'h', opType: 'HardSigmoid', domain: '', inputs: ['x'], outputs: ['h'], attributes: { alpha: attr.float(1 / 6), beta: attr.float(0.5) } },
    { name: 't', opType: 'Mul', domain: '', inputs: ['h', 'x'], outputs: ['t'], attributes: {} },
    // The same Paddle form with Mul by 1/6, but its Clip output is also a graph output: left alone.
    { name: 'a2', opType: 'Add', domain: '', inputs: ['x', 'three'], outputs: ['a2'], attributes: {} },
    { name: 'c2', opType: 'Clip', domain: '', inputs: ['a2', 'zero', 'six'], outputs: ['c2'], attributes: {} },
    { name: 'm2', opType: 'Mul', domain: '', inputs: ['c2', 'x'], outputs: ['m2'], attributes: {} },
    { name: 'd2', opType: 'Mul', domain: '', inputs: ['m2', 'sixth'], outputs: ['q'], attributes: {} },
  );
  g.outputs.push(
    { name: 'p', dtype: 'float32', shape: [2, 8] },
    { name: 't', dtype: 'float32', shape: [2, 8] },
    { name: 'q', dtype: 'float32', shape: [2, 8] },
    { name: 'c2', dtype: 'float32', shape: [2, 8] },
  );
  const m = makeModel(g);
  const { model: f, folded } = foldHardSwish(m);
  assert.deepEqual(folded, ['p', 't']);
  assert.deepEqual(
    f.graph.nodes.map((n) => n.opType),
    ['HardSwish', 'HardSwish', 'Add', 'Clip', 'Mul', 'Mul'],
  );
  const x = randomTensor('float32', [2, 8], 3, -5, 5);
  const [want, got] = [await run(m, x), await run(f, x)];
  for (const o of ['p', 't', 'q', 'c2']) {
    const a = want[o] as Tensor;
    const b = got[o] as Tensor;
    for (let i = 0; i < a.size; i++) assert.ok(Math.abs(Number(a.data[i]) - Number(b.data[i])) < 1e-5, `${o}[${i}]: ${a.data[i]} vs ${b.data[i]}`);
  }
  // Below opset 14 there is no HardSwish op.
  assert.deepEqual(foldHardSwish({ ...m, opsetImports: [{ domain: '', version: 13 }] }).folded, []);
});
