// Gradients of the ops fake quantization is built from. Abs and the PACT form relu(x) − relu(x − α)
// are checked against float64 finite differences; Round and Sign have straight-through rules, whose
// oracle is their definition and LSQ's closed-form scale gradient.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { addGradients } from '../autodiff/gradients.js';
import { attr, Graph, GraphBuilder, makeModel } from '../ir/graph.js';
import { Tensor } from '../ir/tensor.js';
import { Session } from '../runtime/session.js';
import { checkOneNode, gradCheck, randomTensor } from '../../test/gradcheck.js';

test('Abs away from 0: gradient matches finite differences', async () => {
  const x = randomTensor('float64', [3, 4], 21);
  (x.data as Float64Array).forEach((v, i, a) => (a[i] = v + (v >= 0 ? 0.1 : -0.1)));
  await checkOneNode({ op: 'Abs', inputs: ['x'], feeds: { x } });
});

test('PACT clip relu(x) − relu(x − α): gradients in x and α match finite differences', async () => {
  const g = new Graph('pact');
  g.inputs.push({ name: 'x', dtype: 'float64', shape: [4, 5] }, { name: 'alpha', dtype: 'float64', shape: [1] });
  const b = new GraphBuilder(g, 'p');
  b.op('Sub', [b.op1('Relu', ['x']), b.op1('Relu', [b.op1('Sub', ['x', 'alpha'])])], {}, ['y']);
  g.outputs.push({ name: 'y', dtype: 'float64', shape: [4, 5] });
  const x = randomTensor('float64', [4, 5], 22, -1, 2);
  // Keep every x away from the kinks at 0 and α = 0.8.
  (x.data as Float64Array).forEach((v, i, a) => (a[i] = Math.abs(v) < 0.05 || Math.abs(v - 0.8) < 0.05 ? v + 0.11 : v));
  await gradCheck({ graph: g, feeds: { x, alpha: Tensor.fromArray('float64', [1], [0.8]) }, wrt: ['x', 'alpha'] });
});

test('fake quant s·clip(round(x/s), qn, qp): dx is the clipped identity and ds is LSQ’s gradient', async () => {
  const [qn, qp] = [-8, 7];
  const g = new Graph('fq');
  g.inputs.push({ name: 'x', dtype: 'float64', shape: [40] }, { name: 's', dtype: 'float64', shape: [1] });
  const b = new GraphBuilder(g, 'f');
  const clipped = b.op1('Clip', [
    b.op1('Round', [b.op1('Div', ['x', 's'])]),
    b.constant(Tensor.scalar('float64', qn)),
    b.constant(Tensor.scalar('float64', qp)),
  ]);
  const y = b.op1('Mul', [clipped, 's']);
  const r = randomTensor('float64', [40], 23);
  const loss = b.op1('ReduceSum', [b.op1('Mul', [y, b.constant(r)])], { keepdims: attr.int(0) });
  const grads = addGradients(g, loss, ['x', 's']);
  g.outputs = [
    { name: grads.get('x') as string, dtype: 'float64', shape: [40] },
    { name: grads.get('s') as string, dtype: 'float64', shape: [1] },
  ];
  const s = 0.1;
  const x = randomTensor('float64', [40], 24, -1.2, 1.2);
  const session = await Session.create(makeModel(g), { threads: 1 });
  const out = await session.run({ x, s: Tensor.fromArray('float64', [1], [s]) });
  await session.release();
  const dx = out[grads.get('x') as string]?.data as Float64Array;
  const ds = out[grads.get('s') as string]?.data as Float64Array;
  let expectS = 0;
  for (let i = 0; i < 40; i++) {
    const v = (x.data[i] as number) / s;
    const q = Math.round(v);
    const inside = q >= qn && q <= qp;
    assert.ok(Math.abs((dx[i] as number) - (inside ? (r.data[i] as number) : 0)) < 1e-12, `dx[${i}] = ${dx[i]} at x/s = ${v}`);
    expectS += (r.data[i] as number) * (inside ? q - v : q < qn ? qn : qp);
  }
  assert.ok(Math.abs((ds[0] as number) - expectS) < 1e-9, `ds ${ds[0]} vs LSQ ${expectS}`);
});

test('Sign passes the gradient straight through', async () => {
  const g = new Graph('sign');
  g.inputs.push({ name: 'x', dtype: 'float64', shape: [6] });
  const b = new GraphBuilder(g, 's');
  const r = randomTensor('float64', [6], 25);
  const loss = b.op1('ReduceSum', [b.op1('Mul', [b.op1('Sign', ['x']), b.constant(r)])], { keepdims: attr.int(0) });
  const grads = addGradients(g, loss, ['x']);
  g.outputs = [{ name: grads.get('x') as string, dtype: 'float64', shape: [6] }];
  const session = await Session.create(makeModel(g), { threads: 1 });
  const out = await session.run({ x: randomTensor('float64', [6], 26, -3, 3) });
  await session.release();
  assert.deepEqual(Array.from(out[grads.get('x') as string]?.data as Float64Array), Array.from(r.data as Float64Array));
});
