import { getFloat, getInt } from '../ir/graph.js';
import type { Dim } from '../ir/graph.js';
import { reduceToShape } from './broadcast.js';
import { standardize, standardizeGrad } from './moments.js';
import type { OpDef } from './types.js';
import { input, normAxis } from './util.js';

/**
 * LayerNormalization (opset 17): Y = x̂·Scale + B with x̂ standardized over the axes from `axis`
 * (default −1) to the last; optional Mean and InvStdDev outputs (the statistics, keepdims).
 * dX = rstd·(dx̂ − mean(dx̂) − x̂·mean(dx̂·x̂)) with dx̂ = dY·Scale; dScale = Σ dY·x̂ and dB = Σ dY
 * over the leading axes. The statistic outputs are not differentiated.
 */
export const layerNormalization: OpDef = {
  op: 'LayerNormalization',
  inferShape({ node, inputs }) {
    const x = input(node, inputs, 0);
    const axis = normAxis(node, getInt(node, 'axis', -1), x.shape.length);
    const stats = { dtype: x.dtype, shape: x.shape.map((d, i): Dim => (i < axis ? d : 1)) };
    return [x, stats, stats].slice(0, Math.max(1, node.outputs.length));
  },
  gradient({ node, b, dy, inputs, needs }) {
    const g = dy[0];
    const x = inputs[0];
    const scale = inputs[1];
    if (g === undefined || x === undefined || scale === undefined) return [];
    const X = node.inputs[0] as string;
    const rank = x.shape.length;
    const axis = normAxis(node, getInt(node, 'axis', -1), rank);
    const axes = Array.from({ length: rank - axis }, (_, i) => axis + i);
    const s = standardize(b, X, x, axes, getFloat(node, 'epsilon', 1e-5));
    const dX = needs[0] ? standardizeGrad(b, b.op1('Mul', [g, node.inputs[1] as string]), s, X, x, axes) : undefined;
    const dScale = needs[1] ? reduceToShape(b, b.op1('Mul', [g, s.xhat]), x.shape, scale.shape) : undefined;
    const bias = inputs[2];
    const dB = needs[2] && bias !== undefined ? reduceToShape(b, g, x.shape, bias.shape) : undefined;
    return [dX, dScale, dB];
  },
};
