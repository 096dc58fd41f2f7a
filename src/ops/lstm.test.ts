// LSTM's gradient (ORT float32 against finite differences of a float64 reference) for every input that
// trains: X, W, R, B and the initial states, through Y, Y_h and Y_c, in each direction.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { addGradients } from '../autodiff/gradients.js';
import { attr, GraphBuilder } from '../ir/graph.js';
import { inferShapes } from '../ir/shape.js';
import { oneNodeGraph } from '../../test/gradcheck.js';
import { SHAPE_RULES } from './index.js';
import { checkRecurrent } from '../../test/recurrent-check.js';

test('LSTM forward, layout 0, bias and initial states: gradients of X, W, R, B, h0, c0 through Y, Y_h, Y_c', async () => {
  await checkRecurrent({ op: 'LSTM', T: 4, batch: 2, inputSize: 3, hidden: 2, bias: true, initial: true, outputs: [true, true, true] });
});

test('LSTM as PyTorch exports it: bias, no initial states, Y only', async () => {
  await checkRecurrent({ op: 'LSTM', T: 3, batch: 2, inputSize: 3, hidden: 3, bias: true, outputs: [true, false, false] });
});

test('LSTM reverse direction with only Y_c reaching the loss (the node names its own Y)', async () => {
  await checkRecurrent({ op: 'LSTM', T: 3, batch: 2, inputSize: 2, hidden: 2, direction: 'reverse', initial: true, outputs: [false, false, true] });
});

test('LSTM bidirectional, Y and Y_h', async () => {
  await checkRecurrent({
    op: 'LSTM',
    T: 3,
    batch: 2,
    inputSize: 2,
    hidden: 2,
    direction: 'bidirectional',
    bias: true,
    initial: true,
    outputs: [true, true, false],
  });
});

test('LSTM with a symbolic sequence length and batch (the backward is a Scan, not unrolled)', async () => {
  await checkRecurrent({ op: 'LSTM', T: 3, batch: 2, inputSize: 2, hidden: 2, bias: true, initial: true, outputs: [true, true, true], symbolic: true });
});

test("the training graph of an LSTM shape-infers: its gradients have their parameters' shapes", () => {
  const g = oneNodeGraph('LSTM', {
    inputs: [
      { name: 'x', dtype: 'float32', shape: [28, 'N', 28] },
      { name: 'w', dtype: 'float32', shape: [1, 256, 28] },
      { name: 'r', dtype: 'float32', shape: [1, 256, 64] },
      { name: 'b', dtype: 'float32', shape: [1, 512] },
    ],
    attributes: { hidden_size: attr.int(64) },
    outputs: [{ name: 'h', dtype: 'float32', shape: [1, 'N', 64] }],
    results: ['', 'h'],
  });
  const loss = new GraphBuilder(g, 'loss').op1('ReduceSum', ['h'], { keepdims: attr.int(0) });
  const grads = addGradients(g, loss, ['x', 'w', 'r', 'b']);
  const shapes = inferShapes(g, SHAPE_RULES);
  assert.ok(g.nodes.some((n) => n.opType === 'Scan'));
  for (const [v, want] of [
    ['x', [28, 'N', 28]],
    ['w', [1, 256, 28]],
    ['r', [1, 256, 64]],
    ['b', [1, 512]],
  ] as const) {
    // The batch may come out under another symbol (the Scan body's); the rank and numbers may not.
    const got = shapes.get(grads.get(v) as string)?.shape.map((d) => (typeof d === 'number' ? d : '?'));
    assert.deepEqual(
      got,
      want.map((d) => (typeof d === 'number' ? d : '?')),
      `d loss / d ${v}`,
    );
  }
});

test('LSTM of one time step', async () => {
  await checkRecurrent({ op: 'LSTM', T: 1, batch: 3, inputSize: 2, hidden: 2, bias: true, initial: true, outputs: [true, true, true] });
});

test('LSTM with cell clipping or other activations is refused with the reason named', async () => {
  await assert.rejects(
    checkRecurrent({ op: 'LSTM', T: 2, batch: 1, inputSize: 2, hidden: 2, outputs: [true, false, false], attributes: { clip: attr.float(3) } }),
    /clip attribute has no gradient rule/,
  );
  await assert.rejects(
    checkRecurrent({
      op: 'LSTM',
      T: 2,
      batch: 1,
      inputSize: 2,
      hidden: 2,
      outputs: [true, false, false],
      attributes: { activations: { type: 'strings', value: ['Relu', 'Tanh', 'Tanh'] } },
    }),
    /activations \[Relu, Tanh, Tanh\] have no gradient rule/,
  );
});
