import { getFloat } from '../ir/graph.js';
import { reduceToShape } from './broadcast.js';
import { shapeError } from './dims.js';
import type { OpDef } from './types.js';
import { input, scalar } from './util.js';
import { unaryChannels } from './channels.js';

/**
 * Clip(X, min?, max?) (opset 11+: bounds as optional scalar inputs; opset 6 attributes also
 * read). dX passes where min ≤ X ≤ max; a bound's gradient is the sum of dY where it clipped.
 */
export const clip: OpDef = {
  op: 'Clip',
  channels: unaryChannels,
  inferShape({ node, inputs }) {
    const x = input(node, inputs, 0);
    for (const i of [1, 2]) {
      const t = inputs[i];
      if (t !== undefined && t.shape.length !== 0 && !(t.shape.length === 1 && t.shape[0] === 1)) {
        throw shapeError(node, `${i === 1 ? 'min' : 'max'} must be a scalar, got [${t.shape.join(', ')}]; use Max/Min for elementwise bounds`);
      }
    }
    return [x];
  },
  gradient({ node, b, dy, inputs, outputs, needs }) {
    const g = dy[0];
    const x = inputs[0];
    const y = outputs[0];
    if (g === undefined || x === undefined || y === undefined) return [];
    const X = node.inputs[0] as string;
    const bound = (i: number, name: 'min' | 'max'): string | undefined => {
      const input = node.inputs[i];
      if (input) return input;
      return node.attributes[name] !== undefined ? scalar(b, x.dtype, getFloat(node, name, 0), name) : undefined;
    };
    const lo = bound(1, 'min');
    const hi = bound(2, 'max');
    const zero = scalar(b, x.dtype, 0, 'zero');
    const lowOk = lo === undefined ? undefined : b.op1('GreaterOrEqual', [X, lo]);
    const highOk = hi === undefined ? undefined : b.op1('LessOrEqual', [X, hi]);
    const inside = lowOk && highOk ? b.op1('And', [lowOk, highOk]) : (lowOk ?? highOk);
    const dX = needs[0] ? (inside === undefined ? g : b.op1('Where', [inside, g, zero])) : undefined;
    const boundGrad = (i: number, clipped: string | undefined): string | undefined => {
      const t = inputs[i];
      if (!needs[i] || t === undefined || clipped === undefined) return undefined;
      return reduceToShape(b, b.op1('Where', [clipped, g, zero]), y.shape, t.shape);
    };
    const dMin = boundGrad(1, needs[1] && lo ? b.op1('Less', [X, lo]) : undefined);
    const dMax = boundGrad(2, needs[2] && hi ? b.op1('Greater', [X, hi]) : undefined);
    return [dX, dMin, dMax];
  },
};
