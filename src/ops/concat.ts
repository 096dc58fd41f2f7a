import { attr, getInt } from '../ir/graph.js';
import type { Dim, Node } from '../ir/graph.js';
import type { TypeShape } from '../ir/shape.js';
import { Tensor } from '../ir/tensor.js';
import { formatShape, shapeError, unifyDim } from './dims.js';
import type { OpDef } from './types.js';
import { input, normAxis } from './util.js';
import { concatChannels } from './channels.js';

function concatAxis(node: Node, first: TypeShape): number {
  const a = node.attributes['axis'];
  if (a === undefined) throw shapeError(node, 'the axis attribute is required');
  return normAxis(node, getInt(node, 'axis', 0), first.shape.length);
}

/** Sum of dims: a number when all are known, else a readable expression such as 'N+3'. */
function sumDims(dims: readonly Dim[]): Dim {
  let n = 0;
  const syms: string[] = [];
  for (const d of dims) {
    if (typeof d === 'number') n += d;
    else syms.push(d);
  }
  if (syms.length === 0) return n;
  return n === 0 ? syms.join('+') : `${syms.join('+')}+${n}`;
}

/**
 * Joins inputs along `axis`; the other dims must agree. The gradient splits dY into the
 * inputs' extents along the axis (Split when they are known, Slice at runtime offsets otherwise).
 */
export const concat: OpDef = {
  op: 'Concat',
  channels: concatChannels,
  inferShape({ node, inputs }) {
    const all = node.inputs.map((_, i) => input(node, inputs, i));
    const first = all[0];
    if (first === undefined) throw shapeError(node, 'needs at least one input');
    const axis = concatAxis(node, first);
    const shape = [...first.shape];
    for (const [i, t] of all.entries()) {
      if (t.shape.length !== shape.length)
        throw shapeError(node, `input ${i} has shape ${formatShape(t.shape)} but input 0 has ${formatShape(first.shape)}; all inputs need the same rank`);
      if (t.dtype !== first.dtype) throw shapeError(node, `input ${i} is ${t.dtype} but input 0 is ${first.dtype}; Cast one of them`);
      t.shape.forEach((d, j) => {
        if (j === axis) return;
        const u = unifyDim(shape[j] as Dim, d);
        if (u === undefined)
          throw shapeError(
            node,
            `input ${i} ${formatShape(t.shape)} and input 0 ${formatShape(first.shape)} differ at axis ${j} (${String(shape[j])} vs ${d}); only the concat axis ${axis} may differ — is the axis right?`,
          );
        shape[j] = u;
      });
    }
    shape[axis] = sumDims(all.map((t) => t.shape[axis] as Dim));
    return [{ dtype: first.dtype, shape }];
  },
  gradient({ node, b, dy, inputs, needs }) {
    const g = dy[0];
    const first = inputs[0];
    if (g === undefined || first === undefined) return [];
    const axis = concatAxis(node, first);
    const extents = inputs.map((t) => t?.shape[axis]);
    if (extents.every((d): d is number => typeof d === 'number')) {
      const parts = b.op('Split', [g, b.constant(Tensor.int64(extents), 'split')], { axis: attr.int(axis) }, extents.length);
      return parts.map((p, i) => (needs[i] ? p : undefined));
    }
    // Some extent is symbolic: slice dY at offsets read from the inputs' runtime shapes.
    const axes = b.constant(Tensor.int64([axis]), 'axes');
    const axisIndex = b.constant(Tensor.int64([axis]), 'axis_index');
    let start = b.constant(Tensor.int64([0]), 'start');
    return node.inputs.map((x, i) => {
      const end = b.op1('Add', [start, b.op1('Gather', [b.op1('Shape', [x]), axisIndex])]);
      const d = needs[i] ? b.op1('Slice', [g, start, end, axes]) : undefined;
      start = end;
      return d;
    });
  },
};
