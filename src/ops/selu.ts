import { getFloat } from '../ir/graph.js';
import type { OpDef } from './types.js';
import { input, scalar } from './util.js';

/** Y = gamma·X for X > 0, gamma·alpha·(eˣ − 1) else; dX = gamma·dY for X > 0, dY·(Y + gamma·alpha) else. */
export const selu: OpDef = {
  op: 'Selu',
  inferShape: ({ node, inputs }) => [input(node, inputs, 0)],
  gradient({ node, b, dy, inputs }) {
    const g = dy[0];
    const x = inputs[0];
    if (g === undefined || x === undefined) return [];
    const alpha = getFloat(node, 'alpha', 1.6732632423543772);
    const gamma = getFloat(node, 'gamma', 1.0507009873554805);
    const positive = b.op1('Greater', [node.inputs[0] as string, scalar(b, x.dtype, 0, 'zero')]);
    const below = b.op1('Mul', [g, b.op1('Add', [node.outputs[0] as string, scalar(b, x.dtype, gamma * alpha, 'gamma_alpha')])]);
    return [b.op1('Where', [positive, b.op1('Mul', [g, scalar(b, x.dtype, gamma, 'gamma')]), below])];
  },
};
