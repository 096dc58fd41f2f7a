import { getInt } from '../ir/graph.js';
import { dimProduct, productDim, shapeError } from './dims.js';
import { reshapeBack } from './reshape.js';
import type { OpDef } from './types.js';
import { input } from './util.js';
import { flattenChannels } from './channels.js';

/** [d0..dn] → [d0·…·d(axis−1), d(axis)·…·dn]; the gradient reshapes dY back to X's shape. */
export const flatten: OpDef = {
  op: 'Flatten',
  channels: flattenChannels,
  inferShape({ node, inputs }) {
    const x = input(node, inputs, 0);
    const rank = x.shape.length;
    const raw = getInt(node, 'axis', 1);
    const axis = raw < 0 ? raw + rank : raw;
    if (axis < 0 || axis > rank) throw shapeError(node, `axis ${raw} is out of range for input of shape [${x.shape.join(', ')}] (allowed ${-rank}..${rank})`);
    return [{ dtype: x.dtype, shape: [productDim(dimProduct(x.shape.slice(0, axis))), productDim(dimProduct(x.shape.slice(axis)))] }];
  },
  gradient({ node, b, dy, inputs, outputs }) {
    const g = dy[0];
    const x = inputs[0];
    const y = outputs[0];
    if (g === undefined || x === undefined || y === undefined) return [];
    return [reshapeBack(b, g, y.shape, node.inputs[0] as string, x.shape)];
  },
};
