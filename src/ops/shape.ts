import { getInt } from '../ir/graph.js';
import type { OpDef } from './types.js';
import { input } from './util.js';
import { shapeOnlyChannels } from './channels.js';

/** Shape(X) → int64 [rank] (opset 15 start/end select a range of dims). */
export const shape: OpDef = {
  op: 'Shape',
  channels: shapeOnlyChannels,
  inferShape({ node, inputs }) {
    const rank = input(node, inputs, 0).shape.length;
    const clamp = (v: number): number => Math.min(Math.max(v < 0 ? v + rank : v, 0), rank);
    const start = clamp(getInt(node, 'start', 0));
    const end = clamp(getInt(node, 'end', rank));
    return [{ dtype: 'int64', shape: [Math.max(0, end - start)] }];
  },
};

/** Size(X) → int64 scalar: the element count. */
export const size: OpDef = {
  op: 'Size',
  channels: shapeOnlyChannels,
  inferShape({ node, inputs }) {
    input(node, inputs, 0);
    return [{ dtype: 'int64', shape: [] }];
  },
};
