// Dropout (opset 13+: data, optional ratio, optional training_mode; outputs output, optional mask).
import { WhittleError } from '../ir/errors.js';
import { attr } from '../ir/graph.js';
import { ONNX_DTYPE } from '../ir/tensor.js';
import type { OpDef } from './types.js';
import { input, scalar } from './util.js';
import { unaryChannels } from './channels.js';

/**
 * Training (training_mode true): output = data·mask/(1 − ratio), so dX = Where(mask, dY/(1 − ratio), 0)
 * with the mask the forward drew. A forward node without a mask output is given one, since a
 * second Dropout would draw a different mask. Inference (training_mode absent or false): the
 * identity, so dX = dY. A training_mode computed at run time selects between the two with Where.
 */
export const dropout: OpDef = {
  op: 'Dropout',
  channels: unaryChannels,
  inferShape({ node, inputs }) {
    const x = input(node, inputs, 0);
    return [
      { dtype: x.dtype, shape: [...x.shape] },
      { dtype: 'bool', shape: [...x.shape] },
    ];
  },
  gradient({ node, b, dy, inputs, constant }) {
    const g = dy[0];
    const x = inputs[0];
    if (g === undefined || x === undefined) return [];
    const trainingInput = node.inputs[2];
    const training = trainingInput ? constant(2) : undefined;
    if (!trainingInput || (training !== undefined && !training.data[0])) return [g];

    let mask = node.outputs[1];
    if (!mask) {
      mask = b.fresh('dropout_mask');
      node.outputs[1] = mask;
    }
    const ratioName = node.inputs[1];
    let keepScale: string;
    const ratio = ratioName ? constant(1) : undefined;
    if (!ratioName || ratio !== undefined) {
      const r = ratio === undefined ? 0.5 : Number(ratio.data[0]);
      if (!(r >= 0 && r < 1)) throw new WhittleError('INVALID_GRAPH', `Dropout "${node.name}": ratio must be in [0, 1), got ${r}`);
      keepScale = scalar(b, x.dtype, 1 / (1 - r), 'keep_scale');
    } else {
      // Ratio computed at run time: 1 / (1 − ratio) in the graph, in the data's type.
      const ratioType = inputs[1]?.dtype;
      const r = ratioType === x.dtype ? ratioName : b.op1('Cast', [ratioName], { to: attr.int(ONNX_DTYPE[x.dtype]) });
      const one = scalar(b, x.dtype, 1, 'one');
      keepScale = b.op1('Div', [one, b.op1('Sub', [one, r])]);
    }
    const dTrain = b.op1('Where', [mask, b.op1('Mul', [g, keepScale]), scalar(b, x.dtype, 0, 'zero')]);
    if (training !== undefined) return [dTrain];
    return [b.op1('Where', [trainingInput, dTrain, g])];
  },
};
