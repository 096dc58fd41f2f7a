// Conv: N-D cross-correlation with strides, pads (or auto_pad), dilations, groups and bias.
import { WhittleError } from '../ir/errors.js';
import { getInt } from '../ir/graph.js';
import { channelBiasGrad, convInputGrad, convInputGradFlipped, convWeightGrad, convWeightGradUnfold } from './conv-backprop.js';
import type { OpDef } from './types.js';
import { input } from './util.js';
import { windowAttrs, windowGeometry, windowOutDims } from './window.js';
import { layerChannels } from './channels.js';

/**
 * Y = Conv(X, W, B). Gradients: dX = ConvTranspose(dY, W) (see convInputGrad), or a Conv of
 * dY with the flipped kernel for "same"-padded stride-1 convs (convInputGradFlipped); dW as one
 * matrix product over the unfolded input (convWeightGradUnfold) for group 1 with 8 or more
 * input channels, else by the batch-as-channels trick (convWeightGrad); dB = ReduceSum(dY) over
 * N and space. A training step built for 2+ threads rewrites some of these for onnxruntime's
 * threading (autodiff/fuse.ts): ConvTranspose as MatMul + Col2Im, and a single-image
 * batch-as-channels Conv in two half-kernel groups.
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
    const cg = w.shape[1];
    const m = w.shape[0];
    const known = typeof m === 'number' && typeof cg === 'number';
    // A forward Conv for dX where it does no extra work: stride 1 and an output no smaller than
    // the input ("same" padding); with LeNet's unpadded 5×5 it would multiply 2.25× as many
    // padded zeros as ConvTranspose does (measured 30% slower per step).
    const sameSize = geom.outDims.every((o, i) => o >= (geom.inDims[i] as number));
    const flipped = needs[0] && known && sameSize ? convInputGradFlipped(b, g, W, geom, group, m, cg) : undefined;
    const dX = needs[0] ? (flipped ?? convInputGrad(b, g, W, geom, group)) : undefined;
    if (needs[1] && !known)
      throw new WhittleError('UNSUPPORTED_OP', `Conv "${node.name}": the weight gradient needs the weight's shape, got [${w.shape.join(', ')}]`);
    // One unfolded matrix product once there are enough channels to make the gathered rows
    // worth it (ResNet-20: ~13% less CPU per step); single-channel inputs keep the
    // batch-as-channels Conv.
    const unfold = group === 1 && (cg as number) >= 8;
    const dW = needs[1]
      ? unfold
        ? convWeightGradUnfold(b, X, g, geom, cg as number, m as number)
        : convWeightGrad(b, X, g, geom, group, cg as number)
      : undefined;
    const dB = needs[2] && node.inputs[2] ? channelBiasGrad(b, g, rank) : undefined;
    return [dX, dW, dB];
  },
};
