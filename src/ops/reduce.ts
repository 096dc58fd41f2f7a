// ReduceSum and ReduceMean (opset 13+/18 forms: axes as an optional second input).
import { WhittleError } from '../ir/errors.js';
import { attr, getInt, getInts } from '../ir/graph.js';
import type { Dim, Node } from '../ir/graph.js';
import type { ShapeContext, TypeShape } from '../ir/shape.js';
import { ONNX_DTYPE, Tensor } from '../ir/tensor.js';
import type { GradientContext, OpDef } from './types.js';
import { input, normAxis, scalar } from './util.js';
import { reduceChannels } from './channels.js';

function reducedAxes(node: Node, rank: number, ctx: { constant(i: number): Tensor | undefined }): number[] | undefined {
  let axes = getInts(node, 'axes');
  if (axes === undefined && node.inputs[1]) {
    const t = ctx.constant(1);
    if (t === undefined)
      throw new WhittleError('UNSUPPORTED_OP', `${node.opType} "${node.name}" takes its axes from a computed value; Whittle needs them constant`);
    axes = t.toNumbers();
  }
  if (axes === undefined || axes.length === 0) return getInt(node, 'noop_with_empty_axes', 0) ? [] : undefined;
  return axes.map((a) => normAxis(node, a, rank)).sort((a, b) => a - b);
}

function inferReduce(ctx: ShapeContext): TypeShape[] {
  const x = input(ctx.node, ctx.inputs, 0);
  const axes = reducedAxes(ctx.node, x.shape.length, ctx) ?? x.shape.map((_, i) => i);
  const keep = getInt(ctx.node, 'keepdims', 1);
  const shape: Dim[] = [];
  x.shape.forEach((d, i) => {
    if (!axes.includes(i)) shape.push(d);
    else if (keep) shape.push(1);
  });
  return [{ dtype: x.dtype, shape }];
}

/** dX = broadcast of dY back over the reduced axes (÷ count for the mean). */
function reduceGradient(mean: boolean) {
  return (ctx: GradientContext): (string | undefined)[] => {
    const { node, b, dy } = ctx;
    const g = dy[0];
    const x = ctx.inputs[0];
    if (g === undefined || x === undefined || !ctx.needs[0]) return [];
    const rank = x.shape.length;
    const axes = reducedAxes(node, rank, ctx) ?? x.shape.map((_, i) => i);
    let kept = g;
    if (!getInt(node, 'keepdims', 1) && axes.length > 0) kept = b.op1('Unsqueeze', [g, b.constant(Tensor.int64(axes), 'axes')]);
    const xShape = b.op1('Shape', [node.inputs[0] as string]);
    let dx = b.op1('Expand', [kept, xShape]);
    if (mean) {
      const dims = axes.map((a) => x.shape[a]);
      if (dims.every((d): d is number => typeof d === 'number')) {
        dx = b.op1('Mul', [dx, scalar(b, x.dtype, 1 / dims.reduce((p, q) => p * q, 1), 'inv_count')]);
      } else {
        // Symbolic reduced size (e.g. the batch): divide by the runtime count.
        const count = b.op1('Cast', [b.op1('ReduceProd', [b.op1('Gather', [xShape, b.constant(Tensor.int64(axes), 'axes')])], { keepdims: attr.int(0) })], {
          to: attr.int(ONNX_DTYPE[x.dtype]),
        });
        dx = b.op1('Div', [dx, count]);
      }
    }
    return [dx];
  };
}

export const reduceSum: OpDef = { op: 'ReduceSum', inferShape: inferReduce, channels: reduceChannels, gradient: reduceGradient(false) };
export const reduceMean: OpDef = { op: 'ReduceMean', inferShape: inferReduce, channels: reduceChannels, gradient: reduceGradient(true) };
