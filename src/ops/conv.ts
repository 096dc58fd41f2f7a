// Conv: N-D cross-correlation with strides, pads (or auto_pad), dilations, groups and bias.
import { WhittleError } from '../ir/errors.js';
import { getInt } from '../ir/graph.js';
import { channelBiasGrad, convInputGrad, convWeightGrad } from './conv-backprop.js';
import type { OpDef } from './types.js';
import { input } from './util.js';
import { windowAttrs, windowGeometry, windowOutDims } from './window.js';
import { layerChannels } from './channels.js';

/**
 * Y = Conv(X, W, B). Gradients: dX = ConvTranspose(dY, W) (see convInputGrad), dW by the
 * batch-as-channels trick (see convWeightGrad), dB = ReduceSum(dY) over N and space.
 */
export const conv: OpDef = {
  op: 'Conv',
  channels: layerChannels,
  inferShape({ node, inputs }) {
    const x = input(node, inputs, 0);
    const w = input(node, inputs, 1);
    const rank = x.shape.length;
    if (rank < 3) {
      throw new WhittleError(
        'SHAPE_MISMATCH',
        `Conv "${node.name}" expects input [N, C, spatial…] of rank ≥ 3, got [${x.shape.join(', ')}]; did you forget a Reshape to [N, C, H, W]?`,
      );
    }
    if (w.shape.length !== rank) {
      throw new WhittleError('SHAPE_MISMATCH', `Conv "${node.name}": weight [${w.shape.join(', ')}] must have the input's rank ${rank} ([M, C/group, k…])`);
    }
    const group = getInt(node, 'group', 1);
    const [c, cg] = [x.shape[1], w.shape[1]];
    if (typeof c === 'number' && typeof cg === 'number' && c !== cg * group) {
      throw new WhittleError(
        'SHAPE_MISMATCH',
        `Conv "${node.name}": input has ${c} channels but weight [${w.shape.join(', ')}] with group=${group} expects ${cg * group}`,
      );
    }
    const a = windowAttrs(node, rank - 2, w.shape.slice(2));
    return [{ dtype: x.dtype, shape: [x.shape[0] ?? 'N', w.shape[0] ?? 'M', ...windowOutDims(node, a, x.shape.slice(2), 2)] }];
  },
  gradient({ node, b, dy, inputs, needs }) {
    const g = dy[0];
    const x = inputs[0];
    const w = inputs[1];
    if (g === undefined || x === undefined || w === undefined) return [];
    const [X, W] = node.inputs as [string, string];
    const rank = x.shape.length;
    const group = getInt(node, 'group', 1);
    const geom = windowGeometry(node, windowAttrs(node, rank - 2, w.shape.slice(2)), x.shape.slice(2));
    const dX = needs[0] ? convInputGrad(b, g, W, geom, group) : undefined;
    const cg = w.shape[1];
    if (needs[1] && typeof cg !== 'number')
      throw new WhittleError('UNSUPPORTED_OP', `Conv "${node.name}": the weight gradient needs the weight's channel count, got [${w.shape.join(', ')}]`);
    const dW = needs[1] ? convWeightGrad(b, X, g, geom, group, cg as number) : undefined;
    const dB = needs[2] && node.inputs[2] ? channelBiasGrad(b, g, rank) : undefined;
    return [dX, dW, dB];
  },
};
