// Boolean logic on masks (bool in, bool out).
import { WhittleError } from '../ir/errors.js';
import type { Node } from '../ir/graph.js';
import type { ShapeRule, TypeShape } from '../ir/shape.js';
import { broadcastShapes } from './broadcast.js';
import type { OpDef } from './types.js';
import { input } from './util.js';

function boolInput(node: Node, inputs: (TypeShape | undefined)[], i: number): TypeShape {
  const ts = input(node, inputs, i);
  if (ts.dtype !== 'bool')
    throw new WhittleError(
      'SHAPE_MISMATCH',
      `${node.opType} "${node.name}" takes bool inputs, got ${ts.dtype} for input ${i}; compare first (e.g. Greater) or Cast to bool`,
    );
  return ts;
}

const inferBinary: ShapeRule = ({ node, inputs }) => {
  const a = boolInput(node, inputs, 0);
  const b = boolInput(node, inputs, 1);
  return [{ dtype: 'bool', shape: broadcastShapes(a.shape, b.shape, `${node.opType} "${node.name}" operands`) }];
};

export const not: OpDef = {
  op: 'Not',
  inferShape: ({ node, inputs }) => [boolInput(node, inputs, 0)],
};
export const and: OpDef = { op: 'And', inferShape: inferBinary };
export const or: OpDef = { op: 'Or', inferShape: inferBinary };
