// Sliding-window geometry shared by Conv, ConvTranspose and the pooling ops: reads kernel,
// strides, dilations, pads and auto_pad, and computes output sizes the way onnxruntime does.
import { WhittleError } from '../ir/errors.js';
import { getInt, getInts, getString } from '../ir/graph.js';
import type { Dim, GraphBuilder, Node } from '../ir/graph.js';
import { Tensor } from '../ir/tensor.js';
import { unknownDim } from './dims.js';

/** Window attributes of a node with `spatial` spatial axes. */
export interface WindowAttrs {
  kernel: number[];
  strides: number[];
  dilations: number[];
  /** Explicit pads (begin per axis, then end per axis); ignored when autoPad is SAME_* or VALID. */
  pads: number[];
  autoPad: 'NOTSET' | 'SAME_UPPER' | 'SAME_LOWER' | 'VALID';
  ceilMode: boolean;
}

/** Geometry of one window op on known spatial sizes. */
export interface WindowGeometry extends WindowAttrs {
  inDims: number[];
  outDims: number[];
  padsBegin: number[];
  padsEnd: number[];
}

function intsOr(node: Node, name: string, spatial: number, fallback: number): number[] {
  const v = getInts(node, name) ?? Array.from({ length: spatial }, () => fallback);
  if (v.length !== spatial) {
    throw new WhittleError('INVALID_GRAPH', `${node.opType} "${node.name}": ${name} has ${v.length} values but the input has ${spatial} spatial axes`);
  }
  return v;
}

/**
 * Reads the window attributes. `kernelFromWeight` gives the kernel when the kernel_shape
 * attribute is absent (Conv/ConvTranspose take it from W).
 */
export function windowAttrs(node: Node, spatial: number, kernelFromWeight?: readonly Dim[]): WindowAttrs {
  let kernel = getInts(node, 'kernel_shape');
  if (kernel === undefined) {
    if (kernelFromWeight === undefined || !kernelFromWeight.every((d): d is number => typeof d === 'number')) {
      throw new WhittleError('INVALID_GRAPH', `${node.opType} "${node.name}" has no kernel_shape and its weight's kernel size is not known; set kernel_shape`);
    }
    kernel = [...kernelFromWeight];
  }
  if (kernel.length !== spatial) {
    throw new WhittleError(
      'SHAPE_MISMATCH',
      `${node.opType} "${node.name}": kernel_shape [${kernel.join(', ')}] has ${kernel.length} axes but the input has ${spatial} spatial axes`,
    );
  }
  const autoPad = getString(node, 'auto_pad', 'NOTSET');
  if (autoPad !== 'NOTSET' && autoPad !== 'SAME_UPPER' && autoPad !== 'SAME_LOWER' && autoPad !== 'VALID') {
    throw new WhittleError('INVALID_GRAPH', `${node.opType} "${node.name}": auto_pad "${autoPad}" is not one of NOTSET, SAME_UPPER, SAME_LOWER, VALID`);
  }
  const dilations = intsOr(node, 'dilations', spatial, 1);
  // onnxruntime's Conv refuses SAME with dilations, and its pooling kernels size the padding for
  // the undilated kernel while its shape inference uses the dilated one (the graph then fails
  // to load); ConvTranspose is consistent.
  if (autoPad.startsWith('SAME') && dilations.some((d) => d !== 1) && node.opType !== 'ConvTranspose') {
    throw new WhittleError(
      'UNSUPPORTED_OP',
      `${node.opType} "${node.name}": onnxruntime does not run auto_pad=${autoPad} with dilations [${dilations.join(', ')}] consistently; give explicit pads instead`,
    );
  }
  if (autoPad !== 'NOTSET' && node.attributes['pads'] !== undefined) {
    throw new WhittleError('INVALID_GRAPH', `${node.opType} "${node.name}" has both auto_pad=${autoPad} and pads; onnxruntime refuses that, keep one of them`);
  }
  return {
    kernel,
    strides: intsOr(node, 'strides', spatial, 1),
    dilations,
    pads: intsOr(node, 'pads', 2 * spatial, 0),
    autoPad,
    ceilMode: getInt(node, 'ceil_mode', 0) !== 0,
  };
}

/** Extent of a dilated kernel along axis i. */
export function dilatedKernel(a: { kernel: readonly number[]; dilations: readonly number[] }, i: number): number {
  return ((a.kernel[i] as number) - 1) * (a.dilations[i] as number) + 1;
}

/** Pads and output size along axis i for a known input size (Conv and pooling, not ConvTranspose). */
function axisGeometry(a: WindowAttrs, i: number, n: number, spatial: number): { begin: number; end: number; out: number } {
  const s = a.strides[i] as number;
  const k = dilatedKernel(a, i);
  if (a.autoPad === 'SAME_UPPER' || a.autoPad === 'SAME_LOWER') {
    const out = Math.ceil(n / s);
    // Clamped at 0: a stride larger than the kernel needs no padding for ceil(n / s) windows.
    const total = Math.max(0, (out - 1) * s + k - n);
    const begin = a.autoPad === 'SAME_LOWER' ? Math.ceil(total / 2) : Math.floor(total / 2);
    return { begin, end: total - begin, out };
  }
  const begin = a.autoPad === 'VALID' ? 0 : (a.pads[i] as number);
  const end = a.autoPad === 'VALID' ? 0 : (a.pads[i + spatial] as number);
  const span = n + begin + end - k;
  let out = (a.ceilMode ? Math.ceil(span / s) : Math.floor(span / s)) + 1;
  // In ceil mode a window that would start inside the end padding is dropped.
  if (a.ceilMode && (out - 1) * s >= n + begin) out--;
  return { begin, end, out };
}

/** Output spatial dims for (possibly symbolic) input spatial dims. */
export function windowOutDims(node: Node, a: WindowAttrs, inDims: readonly Dim[], firstAxis: number): Dim[] {
  return inDims.map((n, i) => {
    if (typeof n !== 'number') return unknownDim(node, firstAxis + i);
    const { out } = axisGeometry(a, i, n, inDims.length);
    if (out < 1) {
      throw new WhittleError(
        'SHAPE_MISMATCH',
        `${node.opType} "${node.name}": spatial axis ${i} of size ${n} is smaller than the ${dilatedKernel(a, i)}-wide window even with padding`,
      );
    }
    return out;
  });
}

/** Full geometry for known input spatial dims; throws when a spatial dim is symbolic. */
export function windowGeometry(node: Node, a: WindowAttrs, inDims: readonly Dim[]): WindowGeometry {
  const known = knownDims(node, inDims, 'its gradient');
  const parts = known.map((n, i) => axisGeometry(a, i, n, known.length));
  return { ...a, inDims: known, outDims: parts.map((p) => p.out), padsBegin: parts.map((p) => p.begin), padsEnd: parts.map((p) => p.end) };
}

/** The spatial dims as numbers, or an error naming what needs them. */
export function knownDims(node: Node, dims: readonly Dim[], what: string): number[] {
  if (!dims.every((d): d is number => typeof d === 'number')) {
    throw new WhittleError(
      'UNSUPPORTED_OP',
      `${node.opType} "${node.name}": ${what} needs fixed spatial sizes, got [${dims.join(', ')}]; give the model input fixed height and width`,
    );
  }
  return [...dims];
}

/**
 * How many input positions at the end of axis i no window reaches (plus the end padding they
 * leave unused): n + begin + end − K − s·(out − 1), in [0, s − 1] for Conv and floor-mode pooling.
 */
export function unusedTail(g: WindowGeometry, i: number): number {
  return (
    (g.inDims[i] as number) +
    (g.padsBegin[i] as number) +
    (g.padsEnd[i] as number) -
    dilatedKernel(g, i) -
    (g.strides[i] as number) * ((g.outDims[i] as number) - 1)
  );
}

/**
 * Reshape(v, X's shape): with a constant target when X's dims past the batch are known, so
 * shape inference keeps them (Shape(X) as the target would leave every dim unknown).
 */
export function reshapeLike(b: GraphBuilder, v: string, x: string, xShape: readonly Dim[]): string {
  const rest = xShape.slice(1);
  if (rest.every((d): d is number => typeof d === 'number')) return b.op1('Reshape', [v, b.constant(Tensor.int64([-1, ...rest]), 'shape')]);
  return b.op1('Reshape', [v, b.op1('Shape', [x])]);
}
