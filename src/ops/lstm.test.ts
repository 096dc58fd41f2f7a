// LSTM's gradient (ORT float32 against finite differences of a float64 reference) for every input that
// trains: X, W, R, B and the initial states, through Y, Y_h and Y_c, in each direction.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { attr } from '../ir/graph.js';
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
