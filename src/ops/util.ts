// Small helpers shared by the op files.
import { WhittleError } from '../ir/errors.js';
import type { GraphBuilder, Node } from '../ir/graph.js';
import type { TypeShape } from '../ir/shape.js';
import { Tensor } from '../ir/tensor.js';
import type { DType } from '../ir/tensor.js';

/** Type/shape of input i, or a clear error when the graph left it unknown. */
export function input(node: Node, inputs: (TypeShape | undefined)[], i: number): TypeShape {
  const ts = inputs[i];
  if (ts === undefined) throw new WhittleError('INVALID_GRAPH', `${node.opType} "${node.name}" needs input ${i}, which is missing`);
  return ts;
}

export function expectRank(node: Node, ts: TypeShape, rank: number, hint = ''): void {
  if (ts.shape.length !== rank) {
    throw new WhittleError('SHAPE_MISMATCH', `${node.opType} "${node.name}" expects ${rank}-D input, got [${ts.shape.join(', ')}]${hint ? `; ${hint}` : ''}`);
  }
}

/** A scalar constant of the given element type. */
export function scalar(b: GraphBuilder, dtype: DType, value: number, hint = 'c'): string {
  return b.constant(Tensor.scalar(dtype, value), hint);
}

/** Normalizes a possibly negative axis against a rank. */
export function normAxis(node: Node, axis: number, rank: number): number {
  const a = axis < 0 ? axis + rank : axis;
  if (a < 0 || a >= rank) throw new WhittleError('SHAPE_MISMATCH', `${node.opType} "${node.name}": axis ${axis} is out of range for rank ${rank}`);
  return a;
}
