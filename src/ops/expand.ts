import type { Dim } from '../ir/graph.js';
import { broadcastShapes, reduceToShape } from './broadcast.js';
import { constantInts, unknownDim } from './dims.js';
import type { OpDef } from './types.js';
import { input } from './util.js';

/** Expand(X, shape): X broadcast against a constant shape; the gradient sums dY back to X's shape. */
export const expand: OpDef = {
  op: 'Expand',
  inferShape({ node, inputs, constant }) {
    const x = input(node, inputs, 0);
    const shapeInput = input(node, inputs, 1);
    const target = constantInts(node, constant, 1);
    if (target !== undefined) return [{ dtype: x.dtype, shape: broadcastShapes(x.shape, target, `Expand "${node.name}": input and target`) }];
    // Computed target: a dim of X other than 1 survives, the rest are unknown.
    const len = shapeInput.shape[0];
    const rank = Math.max(x.shape.length, typeof len === 'number' ? len : 0);
    const shape: Dim[] = [];
    for (let i = 0; i < rank; i++) {
      const d = x.shape[x.shape.length - rank + i];
      shape.push(d !== undefined && d !== 1 ? d : unknownDim(node, i));
    }
    return [{ dtype: x.dtype, shape }];
  },
  gradient({ b, dy, inputs, outputs, needs }) {
    const g = dy[0];
    const x = inputs[0];
    const y = outputs[0];
    if (g === undefined || x === undefined || y === undefined || !needs[0]) return [];
    return [reduceToShape(b, g, y.shape, x.shape)];
  },
};
