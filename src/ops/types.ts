import type { GraphBuilder, Node } from '../ir/graph.js';
import type { ShapeRule, TypeShape } from '../ir/shape.js';
import type { Tensor } from '../ir/tensor.js';

export interface GradientContext {
  node: Node;
  /** Emits the gradient nodes. */
  b: GraphBuilder;
  /** Name of dLoss/dOutput[i], or undefined when output i does not reach the loss. */
  dy: (string | undefined)[];
  /** Type and shape of each input / output of the node. */
  inputs: (TypeShape | undefined)[];
  outputs: (TypeShape | undefined)[];
  /** Whether input i needs a gradient (skip work for the rest). */
  needs: boolean[];
  /** Value of input i when it is a constant. */
  constant(i: number): Tensor | undefined;
}

/**
 * Returns, per input, the name of dLoss/dInput (undefined: none / not needed). Built from
 * standard ONNX ops only, so training graphs run wherever ORT runs.
 */
export type GradientRule = (ctx: GradientContext) => (string | undefined)[];

/** One ONNX op as Whittle knows it: `{ op: 'Conv', inferShape, gradient }`. */
export interface OpDef {
  op: string;
  inferShape: ShapeRule;
  /** Absent: the op is supported for inference and shape inference, but not differentiable. */
  gradient?: GradientRule;
}
