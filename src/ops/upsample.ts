// Upsample (opsets 7–9, deprecated by Resize): scales as an attribute (7, 8) or as input 1 (9).
// Shape rule only, for the old exports that still use it.
import { getInts } from '../ir/graph.js';
import { unknownDim } from './dims.js';
import { scaledShape } from './resize.js';
import type { OpDef } from './types.js';
import { input } from './util.js';

export const upsample: OpDef = {
  op: 'Upsample',
  inferShape({ node, inputs, constant }) {
    const x = input(node, inputs, 0);
    const a = node.attributes['scales'];
    const scales = a?.type === 'floats' ? a.value : (getInts(node, 'scales') ?? (node.inputs[1] ? constant(1)?.toNumbers() : undefined));
    if (scales === undefined) return [{ dtype: x.dtype, shape: x.shape.map((_, i) => unknownDim(node, i)) }];
    return [scaledShape(node, x, scales)];
  },
};
