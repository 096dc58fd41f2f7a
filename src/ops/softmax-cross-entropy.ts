import { WhittleError } from '../ir/errors.js';
import { attr, getString } from '../ir/graph.js';
import { ONNX_DTYPE, Tensor } from '../ir/tensor.js';
import type { OpDef } from './types.js';
import { expectRank, input } from './util.js';

/**
 * SoftmaxCrossEntropyLoss (opset 13) over scores [N, C] and int64 labels [N], reduction 'mean'
 * or 'sum'. Its gradient is the classic (softmax − onehot) · dLoss / N, three nodes instead of the
 * chain through LogSoftmax and Gather.
 */
export const softmaxCrossEntropyLoss: OpDef = {
  op: 'SoftmaxCrossEntropyLoss',
  inferShape({ node, inputs }) {
    const scores = input(node, inputs, 0);
    expectRank(node, scores, 2, 'the loss takes logits of shape [batch, classes]');
    const reduction = getString(node, 'reduction', 'mean');
    const out = { dtype: scores.dtype, shape: reduction === 'none' ? [scores.shape[0] ?? 'N'] : [] };
    return node.outputs.length > 1 ? [out, scores] : [out];
  },
  gradient({ node, b, dy, inputs, needs }) {
    const g = dy[0];
    const scores = inputs[0];
    if (g === undefined || scores === undefined || !needs[0]) return [];
    const reduction = getString(node, 'reduction', 'mean');
    if (reduction === 'none' || node.inputs[2])
      throw new WhittleError(
        'NO_GRADIENT',
        `SoftmaxCrossEntropyLoss "${node.name}": only reduction mean/sum without class weights is differentiable in Whittle`,
      );
    const classes = scores.shape[1];
    if (typeof classes !== 'number')
      throw new WhittleError('SHAPE_MISMATCH', `SoftmaxCrossEntropyLoss "${node.name}" needs a fixed number of classes, got ${String(classes)}`);
    const [x, labels] = node.inputs as [string, string];
    const zeroOne = b.constant(Tensor.fromArray(scores.dtype, [2], [0, 1]), 'onehot_values');
    const onehot = b.op1('OneHot', [labels, b.constant(Tensor.int64([classes]), 'depth'), zeroOne], { axis: attr.int(-1) });
    let d = b.op1('Sub', [b.op1('Softmax', [x], { axis: attr.int(1) }), onehot]);
    if (reduction === 'mean') {
      const n = b.op1('Cast', [b.op1('Gather', [b.op1('Shape', [x]), b.constant(Tensor.int64([0]), 'batch_axis')])], {
        to: attr.int(ONNX_DTYPE[scores.dtype]),
      });
      d = b.op1('Div', [d, n]);
    }
    return [b.op1('Mul', [d, g])];
  },
};
