// ReduceProd, ReduceMax and ReduceMin: shape rules only. In opset 17 their axes are an attribute
// (opset 18 moved them to an input); both forms are read.
import { getInt } from '../ir/graph.js';
import type { Dim } from '../ir/graph.js';
import type { ShapeRule } from '../ir/shape.js';
import { axesOf } from './dims.js';
import type { OpDef } from './types.js';
import { input } from './util.js';
import { reduceChannels } from './channels.js';

const inferReduce: ShapeRule = ({ node, inputs, constant }) => {
  const x = input(node, inputs, 0);
  let axes = axesOf(node, constant, 1, x.shape.length);
  if (axes === undefined || axes.length === 0) axes = getInt(node, 'noop_with_empty_axes', 0) ? [] : x.shape.map((_, i) => i);
  const keep = getInt(node, 'keepdims', 1) !== 0;
  const shape: Dim[] = [];
  x.shape.forEach((d, i) => {
    if (!axes.includes(i)) shape.push(d);
    else if (keep) shape.push(1);
  });
  return [{ dtype: x.dtype, shape }];
};

export const reduceProd: OpDef = { op: 'ReduceProd', inferShape: inferReduce, channels: reduceChannels };
export const reduceMax: OpDef = { op: 'ReduceMax', inferShape: inferReduce, channels: reduceChannels };
export const reduceMin: OpDef = { op: 'ReduceMin', inferShape: inferReduce, channels: reduceChannels };
