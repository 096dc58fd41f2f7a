import { WhittleError } from '../ir/errors.js';
import { getInts } from '../ir/graph.js';
import type { Dim, Node } from '../ir/graph.js';
import { Tensor } from '../ir/tensor.js';
import { axesOf } from './dims.js';
import type { OpDef } from './types.js';
import { input } from './util.js';
import { unsqueezeChannels } from './channels.js';

/** The inserted axes, normalized against the output rank (negative axes count from its end). */
function insertedAxes(node: Node, constant: (i: number) => Tensor | undefined, inputRank: number): number[] {
  const count = getInts(node, 'axes')?.length ?? (node.inputs[1] ? (constant(1)?.size ?? 0) : 0);
  const axes = axesOf(node, constant, 1, inputRank + count);
  if (axes === undefined) throw new WhittleError('INVALID_GRAPH', `Unsqueeze "${node.name}" has no axes; give them as the second input (opset 13+)`);
  return axes.sort((p, q) => p - q);
}

/** Unsqueeze (opset 13: axes as a required input). The gradient squeezes the same axes out of dY. */
export const unsqueeze: OpDef = {
  op: 'Unsqueeze',
  channels: unsqueezeChannels,
  inferShape({ node, inputs, constant }) {
    const x = input(node, inputs, 0);
    const axes = insertedAxes(node, constant, x.shape.length);
    const shape: Dim[] = [];
    let next = 0;
    for (let i = 0; i < x.shape.length + axes.length; i++) shape.push(axes.includes(i) ? 1 : (x.shape[next++] as Dim));
    return [{ dtype: x.dtype, shape }];
  },
  gradient({ node, b, dy, inputs, constant }) {
    const g = dy[0];
    const x = inputs[0];
    if (g === undefined || x === undefined) return [];
    const axes = insertedAxes(node, constant, x.shape.length);
    return [b.op1('Squeeze', [g, b.constant(Tensor.int64(axes), 'axes')])];
  },
};
