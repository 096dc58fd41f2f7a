// A small conv net through every conv/pool/norm/dropout op: its training graph (forward +
// gradients) must shape-infer end to end with a symbolic batch, give every parameter a gradient
// of the parameter's shape, and load in ORT with the inferred shapes written as value_info.
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

test('a conv-net training graph shape-infers with a symbolic batch and ORT agrees', async () => {
  const g = new Graph('convnet');
  g.inputs.push({ name: 'x', dtype: 'float32', shape: ['N', 1, 8, 8] });
  const params: Record<string, number[]> = {
    w1: [4, 1, 3, 3],
    b1: [4],
    scale: [4],
    shift: [4],
    w2: [4, 1, 3, 3],
    w3: [4, 2, 2, 2],
    b3: [2],
  };
  for (const [name, dims] of Object.entries(params)) g.inputs.push({ name, dtype: 'float32', shape: dims });
  g.initializers.set('mean', Tensor.fromArray('float32', [4], [0, 0, 0, 0]));
  g.initializers.set('var', Tensor.fromArray('float32', [4], [1, 1, 1, 1]));
  g.initializers.set('ratio', Tensor.scalar('float32', 0.2));
  g.initializers.set('training', Tensor.fromArray('bool', [], [1]));
  const node = (opType: string, inputs: string[], outputs: string[], attributes: Record<string, Attribute> = {}): void => {
    g.nodes.push({ name: outputs[0]!, opType, domain: '', inputs, outputs, attributes });
  };
  node('Conv', ['x', 'w1', 'b1'], ['c1'], { pads: attr.ints([1, 1, 1, 1]) });
  node('BatchNormalization', ['c1', 'scale', 'shift', 'mean', 'var'], ['n1', 'rm', 'rv'], { training_mode: attr.int(1) });
  node('Relu', ['n1'], ['r1']);
  node('MaxPool', ['r1'], ['p1'], { kernel_shape: attr.ints([2, 2]), strides: attr.ints([2, 2]) });
  node('Dropout', ['p1', 'ratio', 'training'], ['d1']);
  node('Conv', ['d1', 'w2'], ['c2'], { group: attr.int(4), strides: attr.ints([2, 2]), pads: attr.ints([1, 1, 1, 1]) });
  node('AveragePool', ['c2'], ['a2'], { kernel_shape: attr.ints([3, 3]), pads: attr.ints([1, 1, 1, 1]) });
  node('ConvTranspose', ['a2', 'w3', 'b3'], ['t3'], { strides: attr.ints([2, 2]) });
  node('MaxPool', ['t3'], ['p3'], { kernel_shape: attr.ints([3, 3]), strides: attr.ints([2, 2]), pads: attr.ints([1, 1, 1, 1]) });
  node('MaxPool', ['t3'], ['p4'], { kernel_shape: attr.ints([2, 2]), strides: attr.ints([3, 3]) });
  node('GlobalAveragePool', ['p3'], ['gp']);
  node('AveragePool', ['p4'], ['ap'], { kernel_shape: attr.ints([1, 1]) });
  node('ReduceSum', ['gp'], ['s1'], { keepdims: attr.int(0) });
  node('ReduceSum', ['ap'], ['s2'], { keepdims: attr.int(0) });
  node('Add', ['s1', 's2'], ['loss']);

  const grads = addGradients(g, 'loss', Object.keys(params));
  const shapes = inferShapes(g, SHAPE_RULES);
  assert.deepEqual(shapes.get('t3')?.shape, ['N', 2, 4, 4]);
  for (const [name, dims] of Object.entries(params)) assert.deepEqual(shapes.get(grads.get(name)!), { dtype: 'float32', shape: dims }, `gradient of ${name}`);

  g.outputs = [
    { name: 'loss', dtype: 'float32', shape: [] },
    { name: 'rm', dtype: 'float32', shape: [4] },
    { name: 'rv', dtype: 'float32', shape: [4] },
    ...Object.entries(params).map(([name, dims]) => ({ name: grads.get(name)!, dtype: 'float32' as const, shape: dims })),
  ];
  const s = await Session.create(makeModel(g), { threads: 1 });
  const feeds: Record<string, Tensor> = { x: randomTensor('float32', [3, 1, 8, 8], 61) };
  Object.entries(params).forEach(([name, dims], i) => (feeds[name] = randomTensor('float32', dims, 62 + i)));
  const out = await s.run(feeds);
  await s.release();
  for (const [name, dims] of Object.entries(params)) {
    const t = out[grads.get(name)!]!;
    assert.deepEqual([...t.dims], dims);
    assert.ok([...(t.data as Float32Array)].every(Number.isFinite), `gradient of ${name} is finite`);
  }
});
