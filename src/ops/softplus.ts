import type { OpDef } from './types.js';
import { input } from './util.js';

/** Y = ln(1 + eˣ); dX = dY·σ(X). */
export const softplus: OpDef = {
  op: 'Softplus',
  inferShape: ({ node, inputs }) => [input(node, inputs, 0)],
  gradient({ node, b, dy }) {
    const g = dy[0];
    if (g === undefined) return [];
    return [b.op1('Mul', [g, b.op1('Sigmoid', [node.inputs[0] as string])])];
  },
};
