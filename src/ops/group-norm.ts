import { attr, getFloat, getInt } from '../ir/graph.js';
import type { Dim } from '../ir/graph.js';
import { Tensor } from '../ir/tensor.js';
import { groupNormChannels } from './channels.js';
import { perChannel, sumPerChannel } from './instance-norm.js';
import { standardize, standardizeGrad } from './moments.js';
import type { OpDef } from './types.js';
import { expectRank, input } from './util.js';

/**
 * GroupNormalization: X [N, C, spatial…] standardized over each group of C/G channels (and the
 * spatial axes), then scaled and shifted — per channel (scale, bias of [C], opset 21) or per
 * group ([G], opset 18; told apart by their length). The gradient works on X viewed as
 * [N, G, C/G·spatial]: dX = rstd·(dx̂ − mean(dx̂) − x̂·mean(dx̂·x̂)).
 */
export const groupNormalization: OpDef = {
  op: 'GroupNormalization',
  channels: groupNormChannels,
  inferShape({ node, inputs }) {
    const x = input(node, inputs, 0);
    if (x.shape.length < 2) expectRank(node, x, 3, 'GroupNormalization needs [N, C, spatial…]');
    return [x];
  },
  gradient({ node, b, dy, inputs, needs }) {
    const g = dy[0];
    const x = inputs[0];
    const sc = inputs[1];
    if (g === undefined || x === undefined || sc === undefined) return [];
    const [X, scale] = node.inputs as [string, string];
    const rank = x.shape.length;
    const groups = getInt(node, 'num_groups', 1);
    const perGroup = sc.shape[0] === groups && x.shape[1] !== groups;
    const grouped = b.constant(Tensor.int64([0, groups, -1]), 'grouped');
    const xShape = b.op1('Shape', [X]);
    const Xg = b.op1('Reshape', [X, grouped]);
    const rest = x.shape.slice(1).reduce<Dim>((p, q) => (typeof p === 'number' && typeof q === 'number' ? p * q : 'M'), 1);
    const gts = { dtype: x.dtype, shape: [x.shape[0] as Dim, groups, typeof rest === 'number' ? rest / groups : rest] };
    const s = standardize(b, Xg, gts, [2], getFloat(node, 'epsilon', 1e-5));
    let dxhat: string | undefined;
    let dScale: string | undefined;
    let dB: string | undefined;
    if (perGroup) {
      const gg = b.op1('Reshape', [g, grouped]);
      const overSamples = { keepdims: attr.int(0) };
      const axes = b.constant(Tensor.int64([0, 2]), 'axes');
      if (needs[0]) dxhat = b.op1('Mul', [gg, b.op1('Unsqueeze', [scale, b.constant(Tensor.int64([1]), 'axes')])]);
      if (needs[1]) dScale = b.op1('ReduceSum', [b.op1('Mul', [gg, s.xhat]), axes], overSamples);
      if (needs[2]) dB = b.op1('ReduceSum', [gg, axes], overSamples);
    } else {
      if (needs[0]) dxhat = b.op1('Reshape', [b.op1('Mul', [g, perChannel(b, scale, rank)]), grouped]);
      if (needs[1]) dScale = sumPerChannel(b, b.op1('Mul', [g, b.op1('Reshape', [s.xhat, xShape])]), rank);
      if (needs[2]) dB = sumPerChannel(b, g, rank);
    }
    const dX = dxhat !== undefined ? b.op1('Reshape', [standardizeGrad(b, dxhat, s, Xg, gts, [2]), xShape]) : undefined;
    return [dX, dScale, dB];
  },
};
