// Softmax and LogSoftmax with opset-13 semantics: normalized along one axis (default −1).
import { attr, getInt } from '../ir/graph.js';
import { Tensor } from '../ir/tensor.js';
import type { GradientContext, OpDef } from './types.js';
import { input, normAxis } from './util.js';
import { softmaxChannels } from './channels.js';

function axisConstant(ctx: GradientContext): string | undefined {
  const x = ctx.inputs[0];
  if (x === undefined) return undefined;
  const axis = normAxis(ctx.node, getInt(ctx.node, 'axis', -1), x.shape.length);
  return ctx.b.constant(Tensor.int64([axis]), 'axes');
}

/** dX = Y · (dY − Σ_axis dY·Y). */
export const softmax: OpDef = {
  op: 'Softmax',
  channels: softmaxChannels,
  inferShape({ node, inputs }) {
    const x = input(node, inputs, 0);
    normAxis(node, getInt(node, 'axis', -1), x.shape.length);
    return [x];
  },
  gradient(ctx) {
    const g = ctx.dy[0];
    const axes = axisConstant(ctx);
    if (g === undefined || axes === undefined) return [];
    const { b } = ctx;
    const Y = ctx.node.outputs[0] as string;
    const dot = b.op1('ReduceSum', [b.op1('Mul', [g, Y]), axes], { keepdims: attr.int(1) });
    return [b.op1('Mul', [Y, b.op1('Sub', [g, dot])])];
  },
};

/** dX = dY − exp(Y) · Σ_axis dY. */
export const logSoftmax: OpDef = {
  op: 'LogSoftmax',
  channels: softmaxChannels,
  inferShape: softmax.inferShape,
  gradient(ctx) {
    const g = ctx.dy[0];
    const axes = axisConstant(ctx);
    if (g === undefined || axes === undefined) return [];
    const { b } = ctx;
    const total = b.op1('ReduceSum', [g, axes], { keepdims: attr.int(1) });
    return [b.op1('Sub', [g, b.op1('Mul', [b.op1('Exp', [ctx.node.outputs[0] as string]), total])])];
  },
};
