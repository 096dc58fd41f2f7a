import { attr } from '../ir/graph.js';
import { ONNX_DTYPE } from '../ir/tensor.js';
import { reduceToShape, variadicShape } from './broadcast.js';
import type { OpDef } from './types.js';
import { elementwiseChannels } from './channels.js';

/**
 * Variadic elementwise maximum with broadcasting. dX_i = dY where X_i is the maximum, shared
 * equally among inputs tied for it (as the MaxPool gradient shares among tied maxima), summed
 * back to X_i's shape. Also the identity `Max(x, x)` that quantized export uses as a barrier.
 */
export const max: OpDef = {
  op: 'Max',
  channels: elementwiseChannels,
  inferShape: ({ node, inputs }) => [variadicShape(node, inputs)],
  gradient({ node, dy, b, inputs, outputs, needs }) {
    const g = dy[0];
    const y = outputs[0];
    if (g === undefined || y === undefined) return [];
    const hits = node.inputs.map((x) => b.op1('Cast', [b.op1('Equal', [x, node.outputs[0] as string])], { to: attr.int(ONNX_DTYPE[y.dtype]) }));
    const share = b.op1('Div', [g, hits.length === 1 ? (hits[0] as string) : b.op1('Sum', hits)]);
    return inputs.map((x, i) => (needs[i] && x ? reduceToShape(b, b.op1('Mul', [share, hits[i] as string]), y.shape, x.shape) : undefined));
  },
};
