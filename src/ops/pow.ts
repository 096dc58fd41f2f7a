import { attr } from '../ir/graph.js';
import { ONNX_DTYPE } from '../ir/tensor.js';
import { broadcastShapes, reduceToShape } from './broadcast.js';
import type { OpDef } from './types.js';
import { input, scalar } from './util.js';
import { elementwiseChannels } from './channels.js';

/**
 * Y = X ^ E. dX = dY · E · X^(E−1); dE = dY · Y · ln X (meaningful for X > 0 only, as in
 * PyTorch). A constant scalar exponent folds into constants: X² differentiates to dY · 2X.
 */
export const pow: OpDef = {
  op: 'Pow',
  channels: elementwiseChannels,
  inferShape({ node, inputs }) {
    const x = input(node, inputs, 0);
    const e = input(node, inputs, 1);
    return [{ dtype: x.dtype, shape: broadcastShapes(x.shape, e.shape, `Pow "${node.name}" operands`) }];
  },
  gradient({ node, dy, b, inputs, outputs, needs, constant }) {
    const g = dy[0];
    const y = outputs[0];
    const x = inputs[0];
    const e = inputs[1];
    if (g === undefined || y === undefined || x === undefined || e === undefined) return [];
    const [X, E] = node.inputs as [string, string];
    let dX: string | undefined;
    if (needs[0]) {
      const c = constant(1);
      let local: string | undefined;
      if (c !== undefined && c.size === 1) {
        const p = Number(c.data[0]);
        if (p === 2) local = b.op1('Mul', [X, scalar(b, x.dtype, 2, 'two')]);
        else if (p !== 1) local = b.op1('Mul', [b.op1('Pow', [X, scalar(b, x.dtype, p - 1, 'exponent')]), scalar(b, x.dtype, p, 'exponent')]);
      } else {
        // Exponents may be of another numeric type (opset 15); compute in X's type.
        const ex = e.dtype === x.dtype ? E : b.op1('Cast', [E], { to: attr.int(ONNX_DTYPE[x.dtype]) });
        local = b.op1('Mul', [ex, b.op1('Pow', [X, b.op1('Sub', [ex, scalar(b, x.dtype, 1, 'one')])])]);
      }
      dX = reduceToShape(b, local === undefined ? g : b.op1('Mul', [g, local]), y.shape, x.shape);
    }
    let dE: string | undefined;
    // An integer exponent (opset 15 allows one) gets no gradient.
    if (needs[1] && (e.dtype === 'float32' || e.dtype === 'float64' || e.dtype === 'float16')) {
      const dEfull = b.op1('Mul', [g, b.op1('Mul', [node.outputs[0] as string, b.op1('Log', [X])])]);
      dE = reduceToShape(b, e.dtype === x.dtype ? dEfull : b.op1('Cast', [dEfull], { to: attr.int(ONNX_DTYPE[e.dtype]) }), y.shape, e.shape);
    }
    return [dX, dE];
  },
};
