// ArgMax and ArgMin: int64 indices along one axis.
import { getInt } from '../ir/graph.js';
import type { ShapeRule } from '../ir/shape.js';
import type { OpDef } from './types.js';
import { input, normAxis } from './util.js';

const inferArg: ShapeRule = ({ node, inputs }) => {
  const x = input(node, inputs, 0);
  const axis = normAxis(node, getInt(node, 'axis', 0), x.shape.length);
  const keep = getInt(node, 'keepdims', 1) !== 0;
  const shape = keep ? x.shape.map((d, i) => (i === axis ? 1 : d)) : x.shape.filter((_, i) => i !== axis);
  return [{ dtype: 'int64', shape }];
};

export const argMax: OpDef = { op: 'ArgMax', inferShape: inferArg };
export const argMin: OpDef = { op: 'ArgMin', inferShape: inferArg };
