import assert from 'node:assert/strict';
import { test } from 'node:test';
import { attr, Graph } from '../ir/graph.js';
import { WhittleError } from '../ir/errors.js';
import { gradCheck, randomTensor } from '../../test/gradcheck.js';
import { addGradients } from './gradients.js';

test('fan-out: a value used twice gets the sum of both gradients', async () => {
  // y = relu(x·W1ᵀ) + x·W2ᵀ, with x feeding two branches and W used through Identity too.
  const g = new Graph('fan');
  g.inputs.push(
    { name: 'x', dtype: 'float64', shape: [2, 3] },
    { name: 'w1', dtype: 'float64', shape: [4, 3] },
    { name: 'w2', dtype: 'float64', shape: [4, 3] },
  );
  g.nodes.push(
    { name: 'g1', opType: 'Gemm', domain: '', inputs: ['x', 'w1'], outputs: ['h1'], attributes: { transB: attr.int(1) } },
    { name: 'r', opType: 'Relu', domain: '', inputs: ['h1'], outputs: ['a1'], attributes: {} },
    { name: 'g2', opType: 'Gemm', domain: '', inputs: ['x', 'w2'], outputs: ['h2'], attributes: { transB: attr.int(1) } },
    { name: 'id', opType: 'Identity', domain: '', inputs: ['h2'], outputs: ['h2b'], attributes: {} },
    { name: 'sum', opType: 'Add', domain: '', inputs: ['a1', 'h2b'], outputs: ['y'], attributes: {} },
    { name: 'sum2', opType: 'Add', domain: '', inputs: ['y', 'h2'], outputs: ['z'], attributes: {} },
  );
  g.outputs.push({ name: 'z', dtype: 'float64', shape: [2, 4] });
  const r = await gradCheck({
    graph: g,
    feeds: { x: randomTensor('float64', [2, 3], 7), w1: randomTensor('float64', [4, 3], 8), w2: randomTensor('float64', [4, 3], 9) },
    wrt: ['x', 'w1', 'w2'],
  });
  assert.equal(r.checked, 6 + 12 + 12);
});

test('an op without a gradient rule is named in a NO_GRADIENT error', () => {
  const g = new Graph('t');
  g.inputs.push({ name: 'x', dtype: 'float32', shape: [2, 2] });
  g.nodes.push({ name: 'act', opType: 'Relu', domain: '', inputs: ['x'], outputs: ['h'], attributes: {} });
  g.nodes.push({ name: 'loss', opType: 'ReduceSum', domain: '', inputs: ['h'], outputs: ['y'], attributes: { keepdims: attr.int(0) } });
  assert.equal(addGradients(g.clone(), 'y', ['x']).size, 1);
  // Floor has a shape rule but no gradient.
  g.nodes[0] = { name: 'steps', opType: 'Floor', domain: '', inputs: ['x'], outputs: ['h'], attributes: {} };
  assert.throws(
    () => addGradients(g, 'y', ['x']),
    (e: unknown) =>
      e instanceof WhittleError &&
      e.code === 'NO_GRADIENT' &&
      /^Floor "steps" has no gradient rule/.test(e.message) &&
      /replace it with Round \(straight-through gradient\)/.test(e.message) &&
      /freeze the parameters before it \(x\)/.test(e.message),
  );
});

test('a parameter that does not reach the loss is reported', () => {
  const g = new Graph('t');
  g.inputs.push({ name: 'x', dtype: 'float64', shape: [] }, { name: 'unused', dtype: 'float64', shape: [] });
  g.nodes.push({ name: 'id', opType: 'Identity', domain: '', inputs: ['x'], outputs: ['y'], attributes: {} });
  assert.throws(
    () => addGradients(g, 'y', ['x', 'unused']),
    (e: unknown) => e instanceof WhittleError && /unused/.test(e.message),
  );
});
