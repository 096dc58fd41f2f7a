// The shared shape of elementwise one-input ops (activations, Exp, Log…): output shape and type
// equal the input's, channels pass straight through, and the gradient is dY times a local slope.
import type { GraphBuilder, Node } from '../ir/graph.js';
import type { DType } from '../ir/tensor.js';
import { unaryChannels } from './channels.js';
import type { OpDef } from './types.js';
import { input, scalar } from './util.js';

/** What a unary op's gradient rule sees: the forward node's X and Y, dY, and a scalar maker. */
export interface UnaryGradientContext {
  node: Node;
  b: GraphBuilder;
  /** dLoss/dY. */
  dy: string;
  /** The forward input X. */
  x: string;
  /** The forward output Y (reused where the slope is cheaper from it: Sigmoid, Tanh, Exp). */
  y: string;
  dtype: DType;
  /** A scalar constant of X's element type. */
  c(value: number, hint: string): string;
}

/**
 * An elementwise one-input op: same-shape output, `unaryChannels`, and, when `gradient` is
 * given, dX = gradient(ctx) (nothing when dY or X's type is unknown). Without `gradient` the op
 * is supported for inference and pruning only.
 *
 * ```ts
 * export const sigmoid = unaryOp('Sigmoid', ({ b, dy, y, c }) => b.op1('Mul', [dy, b.op1('Mul', [y, b.op1('Sub', [c(1, 'one'), y])])]));
 * ```
 */
export function unaryOp(op: string, gradient?: (ctx: UnaryGradientContext) => string): OpDef {
  const def: OpDef = { op, channels: unaryChannels, inferShape: ({ node, inputs }) => [input(node, inputs, 0)] };
  if (gradient === undefined) return def;
  def.gradient = ({ node, b, dy, inputs }) => {
    const g = dy[0];
    const x = inputs[0];
    if (g === undefined || x === undefined) return [];
    const c = (value: number, hint: string): string => scalar(b, x.dtype, value, hint);
    return [gradient({ node, b, dy: g, x: node.inputs[0] as string, y: node.outputs[0] as string, dtype: x.dtype, c })];
  };
  return def;
}
