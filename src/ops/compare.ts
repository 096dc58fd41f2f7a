// Elementwise comparisons: broadcast like Add, produce bool. No gradient (piecewise constant).
import type { ShapeRule } from '../ir/shape.js';
import { broadcastShapes } from './broadcast.js';
import type { OpDef } from './types.js';
import { input } from './util.js';

const inferCompare: ShapeRule = ({ node, inputs }) => {
  const a = input(node, inputs, 0);
  const b = input(node, inputs, 1);
  return [{ dtype: 'bool', shape: broadcastShapes(a.shape, b.shape, `${node.opType} "${node.name}" operands`) }];
};

export const greater: OpDef = { op: 'Greater', inferShape: inferCompare };
export const less: OpDef = { op: 'Less', inferShape: inferCompare };
export const equal: OpDef = { op: 'Equal', inferShape: inferCompare };
export const greaterOrEqual: OpDef = { op: 'GreaterOrEqual', inferShape: inferCompare };
export const lessOrEqual: OpDef = { op: 'LessOrEqual', inferShape: inferCompare };
