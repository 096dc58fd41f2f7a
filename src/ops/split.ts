import { attr, getInt, getInts } from '../ir/graph.js';
import type { Dim } from '../ir/graph.js';
import { Tensor } from '../ir/tensor.js';
import { constantInts, formatShape, shapeError, unknownDim } from './dims.js';
import type { OpDef } from './types.js';
import { input, normAxis } from './util.js';

/**
 * Split(X, split?) along `axis`: sizes from the split input (opset 13+) or attribute (older);
 * without them, into equal parts, one per output. dX = Concat of the parts' gradients along
 * `axis`, zeros for a part that does not reach the loss.
 */
export const split: OpDef = {
  op: 'Split',
  inferShape({ node, inputs, constant }) {
    const x = input(node, inputs, 0);
    const axis = normAxis(node, getInt(node, 'axis', 0), x.shape.length);
    const d = x.shape[axis] as Dim;
    const count = node.outputs.length;
    let sizes: Dim[];
    const given = getInts(node, 'split') ?? constantInts(node, constant, 1);
    if (given !== undefined) {
      if (given.length !== count) throw shapeError(node, `split sizes [${given.join(', ')}] give ${given.length} parts but the node has ${count} outputs`);
      const total = given.reduce((p, q) => p + q, 0);
      if (typeof d === 'number' && total !== d)
        throw shapeError(node, `split sizes [${given.join(', ')}] add up to ${total}, but axis ${axis} of ${formatShape(x.shape)} has ${d}`);
      sizes = given;
    } else if (node.inputs[1]) {
      sizes = node.outputs.map((_, i) => unknownDim(node, axis, i));
    } else if (typeof d === 'number') {
      // num_outputs (opset 18) lets the last part be smaller; opset 17 needs an even split.
      const part = Math.ceil(d / count);
      if (node.attributes['num_outputs'] === undefined && d % count !== 0)
        throw shapeError(node, `axis ${axis} of ${formatShape(x.shape)} (${d}) does not split evenly into ${count} outputs; give split sizes`);
      sizes = node.outputs.map((_, i) => Math.max(0, Math.min(part, d - part * i)));
    } else {
      sizes = node.outputs.map((_, i) => (count === 1 ? d : unknownDim(node, axis, i)));
    }
    return sizes.map((s) => ({ dtype: x.dtype, shape: x.shape.map((dim, i) => (i === axis ? s : dim)) }));
  },
  gradient({ node, b, dy, inputs }) {
    const x = inputs[0];
    if (x === undefined || dy.every((d) => d === undefined)) return [];
    const axis = normAxis(node, getInt(node, 'axis', 0), x.shape.length);
    const zero = Tensor.fromArray(x.dtype, [1], [0]);
    const parts = node.outputs.map((y, i) => dy[i] ?? b.op1('ConstantOfShape', [b.op1('Shape', [y])], { value: attr.tensor(zero) }));
    return [parts.length === 1 ? parts[0] : b.op1('Concat', parts, { axis: attr.int(axis) })];
  },
};
