// Gradient checks (float64, central finite differences in ORT) for the elementwise ops,
// including numpy broadcasting of [2,3,4] against [3,1] and [4].
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { attr, Graph } from '../ir/graph.js';
import { Tensor } from '../ir/tensor.js';
import { checkOneNode, gradCheck, oneNodeGraph, randomTensor } from '../../test/gradcheck.js';

const f64 = (dims: number[], seed: number, lo = -1, hi = 1): Tensor => randomTensor('float64', dims, seed, lo, hi);

for (const [bDims, label] of [
  [[2, 3, 4], 'same shape'],
  [[3, 1], '[3,1]'],
  [[4], '[4]'],
] as const) {
  test(`Sub [2,3,4] − ${label}: gradients sum back over broadcast axes`, async () => {
    await checkOneNode({ op: 'Sub', inputs: ['a', 'b'], feeds: { a: f64([2, 3, 4], 1), b: f64([...bDims], 2) } });
  });
  test(`Div [2,3,4] / ${label} and ${label} / [2,3,4]: gradients match finite differences`, async () => {
    await checkOneNode({ op: 'Div', inputs: ['a', 'b'], feeds: { a: f64([2, 3, 4], 3), b: f64([...bDims], 4, 0.5, 2) } });
    await checkOneNode({ op: 'Div', inputs: ['b', 'a'], feeds: { a: f64([2, 3, 4], 5, 0.5, 2), b: f64([...bDims], 6) } });
  });
}

test('Neg, Exp, Log, Sqrt, Sigmoid, Tanh: gradients match finite differences', async () => {
  await checkOneNode({ op: 'Neg', inputs: ['x'], feeds: { x: f64([2, 3], 7) } });
  await checkOneNode({ op: 'Exp', inputs: ['x'], feeds: { x: f64([2, 3], 8) } });
  await checkOneNode({ op: 'Log', inputs: ['x'], feeds: { x: f64([2, 3], 9, 0.2, 3) } });
  await checkOneNode({ op: 'Sqrt', inputs: ['x'], feeds: { x: f64([2, 3], 10, 0.2, 3) } });
  await checkOneNode({ op: 'Sigmoid', inputs: ['x'], feeds: { x: f64([2, 3], 11, -3, 3) } });
  await checkOneNode({ op: 'Tanh', inputs: ['x'], feeds: { x: f64([2, 3], 12, -2, 2) } });
});

test('Pow with a broadcast tensor exponent: gradients w.r.t. base and exponent', async () => {
  await checkOneNode({ op: 'Pow', inputs: ['x', 'e'], feeds: { x: f64([2, 3, 4], 13, 0.5, 2), e: f64([3, 1], 14, -2, 3) } });
});

for (const p of [2, 3, 0.5, 1, -1.5]) {
  test(`Pow with constant exponent ${p}: gradient w.r.t. the base`, async () => {
    await checkOneNode({ op: 'Pow', inputs: ['x', 'e'], feeds: { x: f64([3, 4], 15, 0.5, 2) }, init: { e: Tensor.scalar('float64', p) } });
  });
}

test('LeakyRelu (alpha 0.2) away from the kink: gradient matches finite differences', async () => {
  const x = Tensor.fromArray('float64', [2, 3], [-0.9, -0.3, -0.05, 0.07, 0.4, 1.1]);
  await checkOneNode({ op: 'LeakyRelu', inputs: ['x'], feeds: { x }, attributes: { alpha: attr.float(0.2) } });
});

test('Clip with min and max inputs: dX passes inside, the bounds collect the clipped dY', async () => {
  const x = Tensor.fromArray('float64', [2, 4], [-0.9, -0.6, -0.3, 0, 0.2, 0.45, 0.7, 1.2]);
  const lo = Tensor.scalar('float64', -0.5);
  const hi = Tensor.scalar('float64', 0.6);
  await checkOneNode({ op: 'Clip', inputs: ['x', 'lo', 'hi'], feeds: { x, lo, hi } });
  await checkOneNode({ op: 'Clip', inputs: ['x', '', 'hi'], feeds: { x, hi } });
  await checkOneNode({ op: 'Clip', inputs: ['x', 'lo'], feeds: { x }, init: { lo } });
});

test('Where with broadcast branches [3,1] and [4] under a [2,3,4] condition', async () => {
  const g = new Graph('where');
  g.inputs.push({ name: 'c', dtype: 'float64', shape: [2, 3, 4] }, { name: 'a', dtype: 'float64', shape: [3, 1] }, { name: 'b', dtype: 'float64', shape: [4] });
  g.initializers.set('zero', Tensor.scalar('float64', 0));
  g.nodes.push({ name: 'cond', opType: 'Greater', domain: '', inputs: ['c', 'zero'], outputs: ['mask'], attributes: {} });
  g.nodes.push({ name: 'where', opType: 'Where', domain: '', inputs: ['mask', 'a', 'b'], outputs: ['y'], attributes: {} });
  g.outputs.push({ name: 'y', dtype: 'float64', shape: [2, 3, 4] });
  const r = await gradCheck({ graph: g, feeds: { c: f64([2, 3, 4], 16), a: f64([3, 1], 17), b: f64([4], 18) }, wrt: ['a', 'b'] });
  assert.equal(r.checked, 7);
});

test('Expand [3,1] to [2,3,4]: the gradient sums back', async () => {
  await checkOneNode({ op: 'Expand', inputs: ['x', 'shape'], feeds: { x: f64([3, 1], 19) }, init: { shape: Tensor.int64([2, 3, 4]) } });
});

// reduceToShape (broadcast.ts) reshapes with 0 = "copy this dim" after summing away leading
// axes, which copies the wrong dim when the operand has a symbolic dim; Squeeze would be exact.
test('Expand of a symbolic-batch [N,3] to [2,N,3]: the gradient sums back over the new axis', async () => {
  const g = oneNodeGraph('Expand', {
    inputs: [{ name: 'x', dtype: 'float64', shape: ['N', 3] }],
    initializers: { shape: Tensor.int64([2, 1, 3]) },
    operands: ['x', 'shape'],
    outputs: [{ name: 'y', dtype: 'float64', shape: [2, 'N', 3] }],
  });
  await gradCheck({ graph: g, feeds: { x: f64([4, 3], 21) }, wrt: ['x'] });
});

test('Cast float64 → float32 → float64: the gradient is cast back through both', async () => {
  const g = new Graph('cast');
  g.inputs.push({ name: 'x', dtype: 'float64', shape: [2, 3] });
  g.nodes.push({ name: 'down', opType: 'Cast', domain: '', inputs: ['x'], outputs: ['x32'], attributes: { to: attr.int(1) } });
  g.nodes.push({ name: 'square', opType: 'Mul', domain: '', inputs: ['x32', 'x32'], outputs: ['sq'], attributes: {} });
  g.nodes.push({ name: 'up', opType: 'Cast', domain: '', inputs: ['sq'], outputs: ['y'], attributes: { to: attr.int(11) } });
  g.outputs.push({ name: 'y', dtype: 'float64', shape: [2, 3] });
  // float32 in the middle: a coarse step keeps rounding out of the difference quotient.
  await gradCheck({ graph: g, feeds: { x: f64([2, 3], 20) }, wrt: ['x'], eps: 1e-2, tol: 1e-4 });
});

test('Max of three operands with broadcasting, away from ties: gradients match finite differences', async () => {
  await checkOneNode({ op: 'Max', inputs: ['a', 'b', 'c'], feeds: { a: f64([2, 3, 4], 21), b: f64([3, 1], 22), c: f64([4], 23) } });
});

test('Max(x, x) is the identity: the tied inputs share dY and their halves sum back to dY', async () => {
  await checkOneNode({ op: 'Max', inputs: ['x', 'x'], feeds: { x: f64([2, 3], 24) } });
});
