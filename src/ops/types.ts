import type { Graph, GraphBuilder, Node } from '../ir/graph.js';
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

/**
 * A run of channels along one axis of a value, all created by one source (the layer that
 * produced them): channel c of the run covers indices [c·repeat, (c+1)·repeat) of the axis.
 */
export interface ChannelSegment {
  readonly src: number;
  readonly count: number;
  readonly repeat: number;
}

/** Where a value's traced channels lie: an axis and the segments laid along it, in order. */
export interface ChannelLayout {
  readonly axis: number;
  readonly segs: readonly ChannelSegment[];
}

/** 'out': a producer's output channels; 'in': a consumer's input columns; 'norm': a normalization's parameters; 'const': a per-channel constant. */
export type ChannelRole = 'out' | 'in' | 'norm' | 'const';

/**
 * What a channel rule sees of one node while structured pruning traces channels through the
 * graph, and how it records what goes with each channel.
 */
export interface ChannelContext {
  node: Node;
  graph: Graph;
  /** Traced channels of input i; undefined when they are not traced (a constant, a shape…). */
  layout(i: number): ChannelLayout | undefined;
  /** Indices of the inputs whose channels are traced. */
  traced: readonly number[];
  /** Type and shape of each input / output where known. */
  inputs: (TypeShape | undefined)[];
  outputs: (TypeShape | undefined)[];
  /** Value of input i when it is a constant. */
  constant(i: number): Tensor | undefined;
  /** Whether input i is an initializer (a tensor thinning can slice). */
  isInitializer(i: number): boolean;
  /** The node producing input i, if any. */
  producer(i: number): Node | undefined;
  /** New channels made by this node (a layer's outputs), laid along `axis` of its output. */
  produce(count: number, axis: number, blocked?: string): ChannelLayout;
  /** Records that `tensor`'s `axis` holds the channels of `layout`, in its order (×repeatScale each). */
  along(layout: ChannelLayout, tensor: string, axis: number, role: ChannelRole, repeatScale?: number): void;
  /** Records one slice of `tensor` for the channels of source `src`. */
  member(src: number, tensor: string, axis: number, offset: number, repeat: number, role: ChannelRole): void;
  /** Marks the channels of `layout` unprunable, saying why. */
  block(layout: ChannelLayout | undefined, reason: string): void;
  /** Ties two layouts channel by channel; false (nothing tied) when their segments differ. */
  unify(a: ChannelLayout, b: ChannelLayout): boolean;
  /**
   * When the channels of `src` are thinned, input `input` of node `node` is replaced by what
   * `value(kept)` returns (undefined: the input is dropped, for optional inputs whose default
   * equals the old value, such as an all-zero initial state).
   */
  rewriteInput(src: number, node: string, input: number, value: (kept: number) => Tensor | undefined): void;
}

/**
 * How an op moves, ties or creates channels (Torch-Pruning's per-op dependency handler):
 * returns each output's layout (undefined: not traced). A rule must `block` any traced input
 * whose channels it cannot follow; inputs it ignores silently are read only for their shape.
 */
export type ChannelRule = (ctx: ChannelContext) => (ChannelLayout | undefined)[];

/** One ONNX op as Whittle knows it: `{ op: 'Conv', inferShape, gradient, channels }`. */
export interface OpDef {
  op: string;
  inferShape: ShapeRule;
  /** Absent: the op is supported for inference and shape inference, but not differentiable. */
  gradient?: GradientRule;
  /** Absent: structured pruning treats the channels the op reads as unprunable. */
  channels?: ChannelRule;
}
