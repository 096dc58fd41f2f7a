import { WhittleError } from '../ir/errors.js';
import { getInt } from '../ir/graph.js';
import type { Dim, GraphBuilder } from '../ir/graph.js';
import { Tensor } from '../ir/tensor.js';
import { constantInts, dimProduct, divideProducts, formatShape, productDim, shapeError, unknownDim } from './dims.js';
import type { OpDef } from './types.js';
import { input } from './util.js';
import { flattenChannels } from './channels.js';

/**
 * Reshape(X, shape) with the target shape a constant: 0 copies X's dim at that position (unless
 * allowzero=1), one −1 takes whatever is left; symbolic dims cancel where they can, so
 * ['N', 1, 28, 28] → [0, −1] gives ['N', 784]. The gradient reshapes dY back to X's shape.
 */
export const reshape: OpDef = {
  op: 'Reshape',
  channels: flattenChannels,
  inferShape({ node, inputs, constant }) {
    const x = input(node, inputs, 0);
    const shapeInput = input(node, inputs, 1);
    const target = constantInts(node, constant, 1);
    if (target === undefined) {
      // A computed shape (e.g. PyTorch's Shape→Gather→Concat): only the rank is known.
      const rank = shapeInput.shape[0];
      if (shapeInput.shape.length !== 1 || typeof rank !== 'number') {
        throw new WhittleError(
          'UNSUPPORTED_OP',
          `Reshape "${node.name}" takes its target shape from a computed value of unknown length ${formatShape(shapeInput.shape)}; make the shape a constant`,
        );
      }
      return [{ dtype: x.dtype, shape: Array.from({ length: rank }, (_, i) => unknownDim(node, i)) }];
    }
    const allowZero = getInt(node, 'allowzero', 0) !== 0;
    let inferred = -1;
    const out: Dim[] = target.map((v, i) => {
      if (v === 0 && !allowZero) {
        const d = x.shape[i];
        if (d === undefined)
          throw shapeError(node, `target ${formatShape(target)} copies dim ${i} (0) but the input ${formatShape(x.shape)} has only ${x.shape.length} dims`);
        return d;
      }
      if (v === -1) {
        if (inferred >= 0) throw shapeError(node, `target ${formatShape(target)} has more than one -1; at most one dim can be inferred`);
        inferred = i;
        return -1;
      }
      if (v < 0) throw shapeError(node, `target ${formatShape(target)} has the invalid dim ${v}; use -1 for the one inferred dim`);
      return v;
    });
    const total = dimProduct(x.shape);
    if (inferred >= 0) {
      const known = dimProduct(out.filter((_, i) => i !== inferred));
      const rest = divideProducts(total, known);
      if (rest !== undefined) out[inferred] = productDim(rest);
      else if (total.symbols.length === 0 && known.symbols.length === 0) {
        throw shapeError(
          node,
          `cannot reshape ${formatShape(x.shape)} (${total.factor} elements) to ${formatShape(target)}: ${total.factor} is not a multiple of ${known.factor}`,
        );
      } else out[inferred] = unknownDim(node, inferred);
    } else {
      const want = dimProduct(out);
      if (total.symbols.length === 0 && want.symbols.length === 0 && total.factor !== want.factor) {
        throw shapeError(
          node,
          `cannot reshape ${formatShape(x.shape)} (${total.factor} elements) to ${formatShape(target)} (${want.factor} elements); use -1 for the dim to infer`,
        );
      }
    }
    return [{ dtype: x.dtype, shape: out }];
  },
  gradient({ node, b, dy, inputs, outputs }) {
    const g = dy[0];
    const x = inputs[0];
    const y = outputs[0];
    if (g === undefined || x === undefined || y === undefined) return [];
    return [reshapeBack(b, g, y.shape, node.inputs[0] as string, x.shape)];
  },
};

/**
 * Reshapes `g` (of shape `from`) to the shape of value `x`. The target is a constant when every
 * dim of x is known or is the same symbol at the same position in `from` (copied with 0), so
 * shape inference can follow it; otherwise it is read at runtime with Shape(x).
 */
export function reshapeBack(b: GraphBuilder, g: string, from: readonly Dim[], x: string, xShape: readonly Dim[]): string {
  const target = xShape.map((d, i) => (typeof d === 'number' ? d : from[i] === d ? 0 : undefined));
  if (target.every((d): d is number => d !== undefined) && !(target.includes(0) && xShape.includes(0))) {
    return b.op1('Reshape', [g, b.constant(Tensor.int64(target), 'shape')]);
  }
  return b.op1('Reshape', [g, b.op1('Shape', [x])]);
}
