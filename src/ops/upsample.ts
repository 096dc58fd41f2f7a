// Upsample (opsets 7–9, deprecated by Resize): scales as an attribute (7, 8) or as input 1 (9).
// Shape and channel rules, for the old exports that still use it.
import type { Node } from '../ir/graph.js';
import { getInts } from '../ir/graph.js';
import type { Tensor } from '../ir/tensor.js';
import { blockAll } from './channels.js';
import { unknownDim } from './dims.js';
import { scaledShape } from './resize.js';
import type { OpDef } from './types.js';
import { input } from './util.js';

const scalesOf = (node: Node, constant: (i: number) => Tensor | undefined): readonly number[] | undefined => {
  const a = node.attributes['scales'];
  return a?.type === 'floats' ? a.value : (getInts(node, 'scales') ?? (node.inputs[1] ? constant(1)?.toNumbers().map(Number) : undefined));
};

export const upsample: OpDef = {
  op: 'Upsample',
  /** Channels pass when their axis is scaled by 1. */
  channels(ctx) {
    const l = ctx.layout(0);
    const scale = scalesOf(ctx.node, (i) => ctx.constant(i))?.[l?.axis ?? -1];
    if (l === undefined || ctx.traced.length !== 1 || scale !== 1) return blockAll(ctx, `Upsample "${ctx.node.name}" scales the channel axis`);
    return [l];
  },
  inferShape({ node, inputs, constant }) {
    const x = input(node, inputs, 0);
    const scales = scalesOf(node, constant);
    if (scales === undefined) return [{ dtype: x.dtype, shape: x.shape.map((_, i) => unknownDim(node, i)) }];
    return [scaledShape(node, x, scales)];
  },
};
