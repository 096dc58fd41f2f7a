import { constantInts, formatShape, shapeError, unknownDim } from './dims.js';
import type { OpDef } from './types.js';
import { input } from './util.js';

/** Range(start, limit, delta): 1-D of length max(⌈(limit − start) / delta⌉, 0), start's type. */
export const range: OpDef = {
  op: 'Range',
  inferShape({ node, inputs, constant }) {
    const start = input(node, inputs, 0);
    for (const i of [0, 1, 2]) {
      const t = input(node, inputs, i);
      if (t.shape.length !== 0) throw shapeError(node, `input ${i} must be a scalar, got ${formatShape(t.shape)}; Squeeze it`);
    }
    const [s, l, d] = [0, 1, 2].map((i) => constantInts(node, constant, i)?.[0]);
    if (s === undefined || l === undefined || d === undefined) return [{ dtype: start.dtype, shape: [unknownDim(node, 0)] }];
    if (d === 0) throw shapeError(node, 'delta is 0');
    return [{ dtype: start.dtype, shape: [Math.max(Math.ceil((l - s) / d), 0)] }];
  },
};
