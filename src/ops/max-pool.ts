// MaxPool (opset 12+): Y and the optional Indices output.
import { WhittleError } from '../ir/errors.js';
import { attr, getInt } from '../ir/graph.js';
import type { Attribute, GraphBuilder, Node } from '../ir/graph.js';
import type { TypeShape } from '../ir/shape.js';
import { Tensor } from '../ir/tensor.js';
import type { DType } from '../ir/tensor.js';
import { cropSpatialEnd } from './conv-backprop.js';
import type { OpDef } from './types.js';
import { input, scalar } from './util.js';
import type { WindowAttrs, WindowGeometry } from './window.js';
import { dilatedKernel, reshapeLike, windowAttrs, windowGeometry, windowOutDims } from './window.js';

function poolInput(node: Node, inputs: (TypeShape | undefined)[]): TypeShape {
  const x = input(node, inputs, 0);
  if (x.shape.length < 3) {
    throw new WhittleError('SHAPE_MISMATCH', `${node.opType} "${node.name}" expects input [N, C, spatial…] of rank ≥ 3, got [${x.shape.join(', ')}]; did you forget a Reshape to [N, C, H, W]?`);
  }
  return x;
}

/** Pooling window attributes; pooling has no weight, so kernel_shape is required. */
export function poolAttrs(node: Node, x: TypeShape): WindowAttrs {
  if (node.attributes['kernel_shape'] === undefined) throw new WhittleError('INVALID_GRAPH', `${node.opType} "${node.name}" needs a kernel_shape attribute`);
  return windowAttrs(node, x.shape.length - 2);
}

/** Shape rule shared by MaxPool and AveragePool: [N, C, pooled spatial…]. */
export function poolShape(node: Node, inputs: (TypeShape | undefined)[]): TypeShape {
  const x = poolInput(node, inputs);
  return { dtype: x.dtype, shape: [x.shape[0] ?? 'N', x.shape[1] ?? 'C', ...windowOutDims(node, poolAttrs(node, x), x.shape.slice(2), 2)] };
}

/** Resize by integer factors per spatial axis, nearest neighbour: every value repeated k times. */
function upsample(b: GraphBuilder, v: string, factors: readonly number[]): string {
  const scales = b.constant(Tensor.fromArray('float32', [factors.length + 2], [1, 1, ...factors]), 'scales');
  return b.op1('Resize', [v, '', scales], {
    mode: attr.string('nearest'),
    coordinate_transformation_mode: attr.string('asymmetric'),
    nearest_mode: attr.string('floor'),
  });
}

/**
 * Tiling windows (kernel = stride, no padding, no dilation): the first maximum of each window
 * gets dY, found without the Indices output (whose MaxPool takes a slow generic path in ORT):
 *   eq     = Equal(x, Resize(Y))                  every position holding its window's max
 *   score  = Where(eq, priority, 0)               priority: k·k − position inside the window
 *   chosen = Equal(score, Resize(MaxPool(score)))  exactly one per window: the first max
 *   dX     = Where(chosen, Resize(dY), 0)
 * so tied maxima (common after ReLU or quantization) get dY once, as with MaxPool's Indices.
 * A tail no window covers is cropped before and padded back (zero gradient) after.
 */
function tilingGradient(b: GraphBuilder, x: string, y: string, dy: string, dtype: DType, geom: WindowGeometry): string {
  const k = geom.kernel;
  const kept = geom.outDims.map((o, i) => o * (k[i] as number));
  const xs = cropSpatialEnd(b, x, geom.inDims, kept);
  const zero = scalar(b, dtype, 0, 'zero');
  const eq = b.op1('Equal', [xs, upsample(b, y, k)]);
  const windowSize = k.reduce((p, q) => p * q, 1);
  const size = kept.reduce((p, q) => p * q, 1);
  const priority = new Array<number>(size);
  for (let flat = 0; flat < size; flat++) {
    // Row-major position of `flat` inside its window.
    let rest = flat;
    let inWindow = 0;
    let stride = 1;
    for (let i = kept.length - 1; i >= 0; i--) {
      const coord = rest % (kept[i] as number);
      rest = Math.floor(rest / (kept[i] as number));
      inWindow += (coord % (k[i] as number)) * stride;
      stride *= k[i] as number;
    }
    priority[flat] = windowSize - inWindow;
  }
  const score = b.op1('Where', [eq, b.constant(Tensor.fromArray(dtype, kept, priority), 'priority'), zero]);
  const best = b.op1('MaxPool', [score], { kernel_shape: attr.ints(k), strides: attr.ints(k) });
  const chosen = b.op1('Equal', [score, upsample(b, best, k)]);
  const dx = b.op1('Where', [chosen, upsample(b, dy, k), zero]);
  if (kept.every((n, i) => n === geom.inDims[i])) return dx;
  const rank = kept.length + 2;
  const pads = [...new Array<number>(rank).fill(0), 0, 0, ...kept.map((n, i) => (geom.inDims[i] as number) - n)];
  return b.op1('Pad', [dx, b.constant(Tensor.int64(pads), 'pads')]);
}

/**
 * Any geometry: MaxPool's Indices (flat positions in X) route dY back. Non-overlapping windows
 * (stride ≥ window) put each dY at a distinct position: MaxUnpool (float32 only in ORT);
 * otherwise positions repeat and must add up: ScatterElements(reduction = add) on the flat X.
 */
function indicesGradient(b: GraphBuilder, node: Node, dy: string, x: TypeShape, a: WindowAttrs, geom: WindowGeometry | undefined): string {
  const X = node.inputs[0] as string;
  const dtype = x.dtype;
  let indices = node.outputs[1];
  if (!indices || getInt(node, 'storage_order', 0) !== 0) {
    const at: Record<string, Attribute> = { ...node.attributes };
    delete at['storage_order'];
    indices = b.op('MaxPool', [X], at, 2)[1] as string;
  }
  const xShape = b.op1('Shape', [X]);
  const overlapping = a.kernel.some((_, i) => (a.strides[i] as number) < dilatedKernel(a, i));
  if (!overlapping && dtype === 'float32' && geom !== undefined) {
    // MaxUnpool's attributes only set the smallest output it accepts; a ceil-mode window past
    // the end would make that exceed X, so the excess goes into the end pad.
    const kernel = a.kernel.map((_, i) => dilatedKernel(a, i));
    const padsEnd = geom.padsEnd.map((pe, i) => {
      const smallest = ((geom.outDims[i] as number) - 1) * (a.strides[i] as number) + (kernel[i] as number) - (geom.padsBegin[i] as number) - pe;
      return pe + Math.max(0, smallest - (geom.inDims[i] as number));
    });
    const unpooled = b.op1('MaxUnpool', [dy, indices, xShape], {
      kernel_shape: attr.ints(kernel),
      strides: attr.ints(a.strides),
      pads: attr.ints([...geom.padsBegin, ...padsEnd]),
    });
    // A no-op at run time; gives shape inference X's dims (MaxUnpool's target is computed).
    return reshapeLike(b, unpooled, X, x.shape);
  }
  const flat = b.constant(Tensor.int64([-1]), 'flat');
  const zeros = b.op1('ConstantOfShape', [b.op1('Shape', [b.op1('Reshape', [X, flat])])], { value: attr.tensor(Tensor.fromArray(dtype, [1], [0])) });
  const scattered = b.op1('ScatterElements', [zeros, b.op1('Reshape', [indices, flat]), b.op1('Reshape', [dy, flat])], { axis: attr.int(0), reduction: attr.string('add') });
  return reshapeLike(b, scattered, X, x.shape);
}

/**
 * Y = MaxPool(X): each dY goes to the (first) maximum of its window. Tiling windows (the LeNet
 * case) use a comparison formulation; any other geometry uses the Indices output.
 */
export const maxPool: OpDef = {
  op: 'MaxPool',
  inferShape({ node, inputs }) {
    const y = poolShape(node, inputs);
    return [y, { dtype: 'int64', shape: [...y.shape] }];
  },
  gradient({ node, b, dy, inputs }) {
    const g = dy[0];
    const x = inputs[0];
    if (g === undefined || x === undefined) return [];
    const a = poolAttrs(node, x);
    const known = x.shape.slice(2).every((d) => typeof d === 'number');
    const geom = known ? windowGeometry(node, a, x.shape.slice(2)) : undefined;
    const tiling =
      geom !== undefined &&
      (x.dtype === 'float32' || x.dtype === 'float64') &&
      a.kernel.every((k, i) => k === geom.strides[i] && geom.dilations[i] === 1 && geom.padsBegin[i] === 0 && geom.padsEnd[i] === 0) &&
      geom.outDims.every((o, i) => o * (a.kernel[i] as number) <= (geom.inDims[i] as number));
    if (tiling) return [tilingGradient(b, node.inputs[0] as string, node.outputs[0] as string, g, x.dtype, geom)];
    return [indicesGradient(b, node, g, x, a, geom)];
  },
};
