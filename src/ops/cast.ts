import { attr, getInt } from '../ir/graph.js';
import { dtypeFromOnnx, ONNX_DTYPE } from '../ir/tensor.js';
import type { OpDef } from './types.js';
import { input } from './util.js';
import { unaryChannels } from './channels.js';

const FLOATS = new Set(['float16', 'float32', 'float64']);

/** Cast(to): float-to-float casts pass the gradient back cast to the input's type; others stop it. */
export const cast: OpDef = {
  op: 'Cast',
  channels: unaryChannels,
  inferShape({ node, inputs }) {
    const x = input(node, inputs, 0);
    return [{ dtype: dtypeFromOnnx(getInt(node, 'to', ONNX_DTYPE[x.dtype])), shape: [...x.shape] }];
  },
  gradient({ b, dy, inputs, outputs }) {
    const g = dy[0];
    const x = inputs[0];
    const y = outputs[0];
    if (g === undefined || x === undefined || y === undefined) return [];
    if (!FLOATS.has(x.dtype) || !FLOATS.has(y.dtype)) return [undefined];
    return [x.dtype === y.dtype ? g : b.op1('Cast', [g], { to: attr.int(ONNX_DTYPE[x.dtype]) })];
  },
};
