// Numpy-style broadcasting: shape rule for elementwise ops, and the reduction that brings a
// gradient back to an operand's shape.
import { WhittleError } from '../ir/errors.js';
import type { Dim, GraphBuilder, Node } from '../ir/graph.js';
import { attr } from '../ir/graph.js';
import type { TypeShape } from '../ir/shape.js';
import { Tensor } from '../ir/tensor.js';
import { input } from './util.js';

export function broadcastShapes(a: readonly Dim[], b: readonly Dim[], what = 'operands'): Dim[] {
  const n = Math.max(a.length, b.length);
  const out: Dim[] = [];
  for (let i = 0; i < n; i++) {
    const da = a[a.length - n + i] ?? 1;
    const db = b[b.length - n + i] ?? 1;
    if (da === 1) out.push(db);
    else if (db === 1 || da === db) out.push(da);
    else if (typeof da === 'string' || typeof db === 'string') out.push(typeof da === 'number' ? da : db);
    else throw new WhittleError('SHAPE_MISMATCH', `${what} of shapes [${a.join(', ')}] and [${b.join(', ')}] cannot be broadcast together`);
  }
  return out;
}

/**
 * Sums `grad` (of shape `from`) down to shape `to` over the broadcast axes; returns `grad`
 * itself when no reduction is needed.
 */
/** Type and broadcast shape of a variadic elementwise op's output (Sum, Max). */
export function variadicShape(node: Node, inputs: (TypeShape | undefined)[]): TypeShape {
  let shape = input(node, inputs, 0).shape;
  for (let i = 1; i < inputs.length; i++) shape = broadcastShapes(shape, input(node, inputs, i).shape, `${node.opType} "${node.name}" operands`);
  return { dtype: input(node, inputs, 0).dtype, shape };
}

export function reduceToShape(b: GraphBuilder, grad: string, from: readonly Dim[], to: readonly Dim[]): string {
  const lead = from.length - to.length;
  const axes: number[] = [];
  for (let i = 0; i < from.length; i++) {
    if (i < lead) axes.push(i);
    else if (to[i - lead] === 1 && from[i] !== 1) axes.push(i);
  }
  if (axes.length === 0) return grad;
  const summed = b.op1('ReduceSum', [grad, b.constant(Tensor.int64(axes), 'axes')], { keepdims: attr.int(1) });
  if (lead === 0) return summed;
  // Drop the summed leading axes (kept as 1s above); a Reshape with 0 = "copy" would misalign symbolic dims.
  return b.op1('Squeeze', [summed, b.constant(Tensor.int64(Array.from({ length: lead }, (_, i) => i)), 'axes')]);
}
