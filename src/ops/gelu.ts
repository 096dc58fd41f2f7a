import { getString } from '../ir/graph.js';
import { unaryOp } from './unary.js';

/**
 * Gelu (opset 20). Exact: Y = ½X(1 + erf(X/√2)), dX = dY·(½(1 + erf(X/√2)) + X·φ(X)).
 * approximate = 'tanh': Y = ½X(1 + t), t = tanh(√(2/π)(X + 0.044715X³)),
 * dX = dY·(½(1 + t) + ½X(1 − t²)·√(2/π)(1 + 3·0.044715X²)).
 */
export const gelu = unaryOp('Gelu', ({ node, b, dy, x: X, c }) => {
  const x2 = b.op1('Mul', [X, X]);
  let slope: string;
  if (getString(node, 'approximate', 'none') === 'tanh') {
    const k = Math.sqrt(2 / Math.PI);
    const inner = b.op1('Mul', [c(k, 'k'), b.op1('Add', [X, b.op1('Mul', [c(0.044715, 'a'), b.op1('Mul', [x2, X])])])]);
    const t = b.op1('Tanh', [inner]);
    const dInner = b.op1('Mul', [c(k, 'k'), b.op1('Add', [c(1, 'one'), b.op1('Mul', [c(3 * 0.044715, 'three_a'), x2])])]);
    const oneMinusT2 = b.op1('Sub', [c(1, 'one'), b.op1('Mul', [t, t])]);
    slope = b.op1('Add', [
      b.op1('Mul', [c(0.5, 'half'), b.op1('Add', [c(1, 'one'), t])]),
      b.op1('Mul', [b.op1('Mul', [c(0.5, 'half'), X]), b.op1('Mul', [oneMinusT2, dInner])]),
    ]);
  } else {
    const cdf = b.op1('Mul', [c(0.5, 'half'), b.op1('Add', [c(1, 'one'), b.op1('Erf', [b.op1('Mul', [X, c(Math.SQRT1_2, 'inv_sqrt2')])])])]);
    const pdf = b.op1('Mul', [c(1 / Math.sqrt(2 * Math.PI), 'inv_sqrt_2pi'), b.op1('Exp', [b.op1('Mul', [x2, c(-0.5, 'minus_half')])])]);
    slope = b.op1('Add', [cdf, b.op1('Mul', [X, pdf])]);
  }
  return b.op1('Mul', [dy, slope]);
});
