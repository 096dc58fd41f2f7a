import { attr } from '../ir/graph.js';
import type { Dim, GraphBuilder } from '../ir/graph.js';
import { Tensor } from '../ir/tensor.js';
import { broadcastShapes, reduceToShape } from './broadcast.js';
import { formatShape, shapeError } from './dims.js';
import type { OpDef } from './types.js';
import { input } from './util.js';
import { layerChannels } from './channels.js';

/** Transposes the last two axes of a value of the given rank (≥ 2). */
function swapLast(b: GraphBuilder, x: string, rank: number): string {
  const perm = Array.from({ length: rank }, (_, i) => i);
  perm[rank - 2] = rank - 1;
  perm[rank - 1] = rank - 2;
  return b.op1('Transpose', [x], { perm: attr.ints(perm) });
}

/**
 * numpy.matmul: [..., M, K] @ [..., K, N] → [..., M, N] with the batch dims broadcast; a 1-D
 * operand is a row (left) or column (right) vector whose unit dim is dropped from the result.
 * dA = dY @ Bᵀ and dB = Aᵀ @ dY, summed over the batch dims each operand was broadcast along.
 */
export const matmul: OpDef = {
  op: 'MatMul',
  channels: layerChannels,
  inferShape({ node, inputs }) {
    const a = input(node, inputs, 0);
    const b = input(node, inputs, 1);
    if (a.shape.length === 0 || b.shape.length === 0)
      throw shapeError(node, `operands must be at least 1-D, got ${formatShape(a.shape)} and ${formatShape(b.shape)}; use Mul for scalars`);
    const k1 = a.shape[a.shape.length - 1] as Dim;
    const k2 = (b.shape.length === 1 ? b.shape[0] : b.shape[b.shape.length - 2]) as Dim;
    if (typeof k1 === 'number' && typeof k2 === 'number' && k1 !== k2) {
      throw shapeError(
        node,
        `inner dimensions differ (${k1} vs ${k2}) in ${formatShape(a.shape)} @ ${formatShape(b.shape)}; is an operand missing a Transpose?`,
      );
    }
    const batchA = a.shape.slice(0, -2);
    const batchB = b.shape.slice(0, -2);
    const batch = broadcastShapes(batchA, batchB, `MatMul "${node.name}" batch dims of`);
    const rows = a.shape.length >= 2 ? [a.shape[a.shape.length - 2] as Dim] : [];
    const cols = b.shape.length >= 2 ? [b.shape[b.shape.length - 1] as Dim] : [];
    return [{ dtype: a.dtype, shape: [...batch, ...rows, ...cols] }];
  },
  gradient({ node, b, dy, inputs, outputs, needs }) {
    const g = dy[0];
    const a = inputs[0];
    const bt = inputs[1];
    const y = outputs[0];
    if (g === undefined || a === undefined || bt === undefined || y === undefined) return [];
    const [A, B] = node.inputs as [string, string];
    const ra = a.shape.length;
    const rb = bt.shape.length;
    if (ra === 1 && rb === 1) {
      // Dot product: Y is a scalar.
      return [needs[0] ? b.op1('Mul', [g, B]) : undefined, needs[1] ? b.op1('Mul', [g, A]) : undefined];
    }
    // Lift 1-D operands to matrices ([K] → [1, K] on the left, [K, 1] on the right) and dY with them.
    const axis = (v: number): string => b.constant(Tensor.int64([v]), 'axes');
    let g2 = g;
    let yShape = [...y.shape];
    if (ra === 1) {
      g2 = b.op1('Unsqueeze', [g2, axis(-2)]);
      yShape = [...yShape.slice(0, -1), 1, ...yShape.slice(-1)];
    }
    if (rb === 1) {
      g2 = b.op1('Unsqueeze', [g2, axis(-1)]);
      yShape = [...yShape, 1];
    }
    const yr = yShape.length;
    let dA: string | undefined;
    if (needs[0]) {
      const bT = rb === 1 ? b.op1('Unsqueeze', [B, axis(0)]) : swapLast(b, B, rb);
      const full = b.op1('MatMul', [g2, bT]);
      // full is [...batch, M, K] (M = 1 for a 1-D A); reduceToShape drops the lead dims.
      dA = reduceToShape(b, full, [...yShape.slice(0, -1), a.shape[ra - 1] as Dim], a.shape);
    }
    let dB: string | undefined;
    if (needs[1]) {
      const aT = ra === 1 ? b.op1('Unsqueeze', [A, axis(1)]) : swapLast(b, A, ra);
      let full = b.op1('MatMul', [aT, g2]);
      let fullShape: Dim[] = [...yShape.slice(0, -2), bt.shape[rb === 1 ? 0 : rb - 2] as Dim, yShape[yr - 1] as Dim];
      if (rb === 1) {
        // [..., K, 1] → [..., K] so that K lines up with B's only axis.
        full = b.op1('Squeeze', [full, axis(-1)]);
        fullShape = fullShape.slice(0, -1);
      }
      dB = reduceToShape(b, full, fullShape, bt.shape);
    }
    return [dA, dB];
  },
};
