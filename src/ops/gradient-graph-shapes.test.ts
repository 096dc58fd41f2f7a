// The gradient rules emit ops that must themselves have shape rules (for re-inference after
// autodiff and for export). Builds one forward graph through most differentiable ops, appends
// its gradients, infers every value's shape, and lets ORT load the graph with those shapes
// written as value_info: ORT rejects a value_info that contradicts its own inference.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { addGradients } from '../autodiff/gradients.js';
import { attr, Graph, makeModel } from '../ir/graph.js';
import type { Attribute } from '../ir/graph.js';
import { inferShapes } from '../ir/shape.js';
import { Tensor } from '../ir/tensor.js';
import { Session } from '../runtime/session.js';
import { randomTensor } from '../../test/gradcheck.js';
import { SHAPE_RULES } from './index.js';

test('a training graph through the new ops shape-infers end to end and ORT agrees', async () => {
  const g = new Graph('many-ops');
  g.inputs.push(
    { name: 'x', dtype: 'float32', shape: ['N', 1, 4, 4] },
    { name: 'W', dtype: 'float32', shape: [16, 6] },
    { name: 'bias', dtype: 'float32', shape: [6] },
  );
  const consts: Record<string, Tensor> = {
    flat: Tensor.int64([0, -1]),
    zero: Tensor.int64([0]),
    one: Tensor.int64([1]),
    four: Tensor.int64([4]),
    end: Tensor.int64([2 ** 53]),
    f0: Tensor.scalar('float32', 0),
    f1: Tensor.scalar('float32', 1),
    f2: Tensor.scalar('float32', 2),
    target: Tensor.int64([2, 1, 6]),
  };
  for (const [k, v] of Object.entries(consts)) g.initializers.set(k, v);
  const node = (opType: string, inputs: string[], output: string, attributes: Record<string, Attribute> = {}): void => {
    g.nodes.push({ name: output, opType, domain: '', inputs, outputs: [output], attributes });
  };
  node('Reshape', ['x', 'flat'], 'h0');
  node('MatMul', ['h0', 'W'], 'h1');
  node('Add', ['h1', 'bias'], 'h2');
  node('LeakyRelu', ['h2'], 'h3', { alpha: attr.float(0.1) });
  node('Slice', ['h3', 'zero', 'four', 'one'], 'h4');
  node('Slice', ['h3', 'one', 'end', 'zero'], 'h5');
  node('Concat', ['h4', 'h4'], 'h6', { axis: attr.int(1) });
  node('Concat', ['h3', 'h5'], 'h7', { axis: attr.int(0) });
  node('Unsqueeze', ['h6', 'one'], 'h8');
  node('Transpose', ['h8'], 'h9', { perm: attr.ints([1, 0, 2]) });
  node('Squeeze', ['h9', 'zero'], 'h10');
  node('Softmax', ['h10'], 'h11', { axis: attr.int(0) });
  node('LogSoftmax', ['h7'], 'h12', { axis: attr.int(-1) });
  node('Tanh', ['h12'], 'h13');
  node('Clip', ['h11', 'f0', 'f1'], 'h14');
  node('Pow', ['h14', 'f2'], 'h15');
  node('Sigmoid', ['h13'], 'h16');
  node('Sqrt', ['h16'], 'h17');
  node('Exp', ['h17'], 'h18');
  node('Div', ['h15', 'h11'], 'h19');
  node('Flatten', ['h9'], 'h20', { axis: attr.int(2) });
  node('Greater', ['h20', 'f0'], 'm');
  node('Neg', ['h20'], 'h21');
  node('Where', ['m', 'h20', 'h21'], 'h22');
  node('Cast', ['h22'], 'h23', { to: attr.int(11) });
  node('Cast', ['h23'], 'h24', { to: attr.int(1) });
  node('Log', ['h18'], 'h25');
  node('Sub', ['h19', 'h24'], 'h26');
  node('ReduceSum', ['h26'], 's1', { keepdims: attr.int(0) });
  node('Expand', ['bias', 'target'], 'h27');
  node('ReduceSum', ['h27'], 's2', { keepdims: attr.int(0) });
  node('ReduceSum', ['h25'], 's3', { keepdims: attr.int(0) });
  node('Sum', ['s1', 's2', 's3'], 'loss');

  const grads = addGradients(g, 'loss', ['W', 'bias']);
  const shapes = inferShapes(g, SHAPE_RULES);
  const gW = grads.get('W') as string;
  const gB = grads.get('bias') as string;
  assert.deepEqual(shapes.get(gW), { dtype: 'float32', shape: [16, 6] });
  assert.deepEqual(shapes.get(gB), { dtype: 'float32', shape: [6] });
  assert.deepEqual(shapes.get('h7')?.shape.length, 2);
  assert.deepEqual(shapes.get('h10')?.shape, ['N', 8]);

  g.outputs = [
    { name: 'loss', dtype: 'float32', shape: [] },
    { name: gW, dtype: 'float32', shape: [16, 6] },
    { name: gB, dtype: 'float32', shape: [6] },
  ];
  const s = await Session.create(makeModel(g), { threads: 1 });
  const out = await s.run({ x: randomTensor('float32', [2, 1, 4, 4], 1), W: randomTensor('float32', [16, 6], 2), bias: randomTensor('float32', [6], 3) });
  await s.release();
  assert.deepEqual([...(out[gW] as Tensor).dims], [16, 6]);
  assert.ok(Number.isFinite(Number((out['loss'] as Tensor).data[0])));
});
