// GRU's gradient (ORT float32 against finite differences of a float64 reference): X, W, R, B and the initial
// state, both linear_before_reset forms, each direction.
import { test } from 'node:test';
import { checkRecurrent } from '../../test/recurrent-check.js';

test('GRU as PyTorch exports it (linear_before_reset=1), bias and initial state, Y and Y_h', async () => {
  await checkRecurrent({ op: 'GRU', T: 4, batch: 2, inputSize: 3, hidden: 2, bias: true, initial: true, outputs: [true, true], linearBeforeReset: true });
});

test('GRU with linear_before_reset=0 (the ONNX default)', async () => {
  await checkRecurrent({ op: 'GRU', T: 3, batch: 2, inputSize: 3, hidden: 2, bias: true, initial: true, outputs: [true, true] });
});

test('GRU bidirectional, without bias, Y_h only', async () => {
  await checkRecurrent({
    op: 'GRU',
    T: 3,
    batch: 2,
    inputSize: 2,
    hidden: 2,
    direction: 'bidirectional',
    initial: true,
    outputs: [false, true],
    linearBeforeReset: true,
  });
});

test('GRU reverse direction, linear_before_reset=0, Y only, no initial state', async () => {
  await checkRecurrent({ op: 'GRU', T: 3, batch: 2, inputSize: 2, hidden: 3, direction: 'reverse', bias: true, outputs: [true, false] });
});
