// ConvTranspose: the adjoint of Conv (fractionally strided convolution), as decoders and
// upsampling layers use it, and as Conv's input gradient emits it.
import { WhittleError } from '../ir/errors.js';
import { getInt, getInts } from '../ir/graph.js';
import type { Attribute, Dim, Node } from '../ir/graph.js';
import { attr } from '../ir/graph.js';
import { channelBiasGrad, convWeightGrad, cropSpatialEnd } from './conv-backprop.js';
import type { OpDef } from './types.js';
import { input } from './util.js';
import type { WindowAttrs } from './window.js';
import { dilatedKernel, knownDims, windowAttrs } from './window.js';
import { unknownDim } from './dims.js';

interface TransposeAxis {
  begin: number;
  end: number;
  out: number;
}

function outputPaddingOf(node: Node, spatial: number): number[] {
  const op = getInts(node, 'output_padding') ?? Array.from({ length: spatial }, () => 0);
  if (op.length !== spatial)
    throw new WhittleError('INVALID_GRAPH', `ConvTranspose "${node.name}": output_padding has ${op.length} values but the input has ${spatial} spatial axes`);
  return op;
}

/** The requested output spatial sizes (output_shape may list all axes or only the spatial ones). */
function outputShapeOf(node: Node, spatial: number): number[] | undefined {
  const os = getInts(node, 'output_shape');
  if (os === undefined) return undefined;
  if (os.length === spatial) return os;
  if (os.length === spatial + 2) return os.slice(2);
  throw new WhittleError('INVALID_GRAPH', `ConvTranspose "${node.name}": output_shape [${os.join(', ')}] must list ${spatial} spatial sizes`);
}

/**
 * Pads and output size along axis i. Without output_shape or auto_pad:
 * out = s·(n − 1) + output_padding + dilated kernel − begin − end. With output_shape (or SAME_*,
 * which asks for n·s) the pads are derived from the requested size as the ONNX spec (and
 * onnxruntime) does: an odd pad goes to the beginning, except for SAME_UPPER (to the end).
 */
function transposeAxis(a: WindowAttrs, op: number[], requested: number[] | undefined, i: number, n: number, spatial: number): TransposeAxis {
  const s = a.strides[i] as number;
  const full = s * (n - 1) + (op[i] as number) + dilatedKernel(a, i);
  let target = requested?.[i];
  if (target === undefined && (a.autoPad === 'SAME_UPPER' || a.autoPad === 'SAME_LOWER')) target = n * s;
  if (target !== undefined) {
    // A target beyond the full size leaves total < 0: a negative end pad, i.e. zeros appended.
    const total = full - target;
    const begin = total <= 0 ? 0 : a.autoPad === 'SAME_UPPER' ? Math.floor(total / 2) : total - Math.floor(total / 2);
    return { begin, end: total - begin, out: target };
  }
  const begin = a.autoPad === 'VALID' ? 0 : (a.pads[i] as number);
  const end = a.autoPad === 'VALID' ? 0 : (a.pads[i + spatial] as number);
  return { begin, end, out: full - begin - end };
}

function attrsOf(node: Node, rank: number, kernelDims: readonly Dim[]): { a: WindowAttrs; op: number[]; requested: number[] | undefined } {
  return { a: windowAttrs(node, rank - 2, kernelDims), op: outputPaddingOf(node, rank - 2), requested: outputShapeOf(node, rank - 2) };
}

/**
 * Y = ConvTranspose(X, W, B), W: [C, M/group, k…]. Gradients are correlations with the roles
 * of Conv's swapped: dX = Conv(dY, W) with the same strides, dilations, pads and group;
 * dW = the batch-as-channels correlation of dY with X; dB = ReduceSum(dY) over N and space.
 */
export const convTranspose: OpDef = {
  op: 'ConvTranspose',
  inferShape({ node, inputs }) {
    const x = input(node, inputs, 0);
    const w = input(node, inputs, 1);
    const rank = x.shape.length;
    if (rank < 3 || w.shape.length !== rank) {
      throw new WhittleError(
        'SHAPE_MISMATCH',
        `ConvTranspose "${node.name}" expects input [N, C, spatial…] and weight [C, M/group, k…] of the same rank ≥ 3, got [${x.shape.join(', ')}] and [${w.shape.join(', ')}]`,
      );
    }
    const group = getInt(node, 'group', 1);
    const [c, wc, mg] = [x.shape[1], w.shape[0], w.shape[1]];
    if (typeof c === 'number' && typeof wc === 'number' && c !== wc) {
      throw new WhittleError('SHAPE_MISMATCH', `ConvTranspose "${node.name}": input has ${c} channels but weight [${w.shape.join(', ')}] expects ${wc}`);
    }
    const { a, op, requested } = attrsOf(node, rank, w.shape.slice(2));
    const spatial = x.shape
      .slice(2)
      .map((n, i) => (typeof n === 'number' ? transposeAxis(a, op, requested, i, n, rank - 2).out : (requested?.[i] ?? unknownDim(node, i + 2))));
    return [{ dtype: x.dtype, shape: [x.shape[0] ?? 'N', typeof mg === 'number' ? mg * group : unknownDim(node, 1), ...spatial] }];
  },
  gradient({ node, b, dy, inputs, needs }) {
    const g = dy[0];
    const x = inputs[0];
    const w = inputs[1];
    if (g === undefined || x === undefined || w === undefined) return [];
    const [X, W] = node.inputs as [string, string];
    const rank = x.shape.length;
    const group = getInt(node, 'group', 1);
    const { a, op, requested } = attrsOf(node, rank, w.shape.slice(2));
    const inDims = knownDims(node, x.shape.slice(2), 'its gradient');
    const axes = inDims.map((n, i) => transposeAxis(a, op, requested, i, n, rank - 2));
    const outDims = axes.map((t) => t.out);
    // Seen from dY, the op is a correlation from out to in whose end pad is end − output_padding
    // (negative: dY's last positions got no contribution, so they are cropped).
    const padsEnd = axes.map((t, i) => t.end - (op[i] as number));
    let dX: string | undefined;
    if (needs[0]) {
      const dyKept = cropSpatialEnd(
        b,
        g,
        outDims,
        outDims.map((n, i) => n + Math.min(0, padsEnd[i] as number)),
      );
      const at: Record<string, Attribute> = {
        kernel_shape: attr.ints(a.kernel),
        strides: attr.ints(a.strides),
        dilations: attr.ints(a.dilations),
        pads: attr.ints([...axes.map((t) => t.begin), ...padsEnd.map((p) => Math.max(0, p))]),
      };
      if (group !== 1) at['group'] = attr.int(group);
      dX = b.op1('Conv', [dyKept, W], at);
    }
    let dW: string | undefined;
    if (needs[1]) {
      const mg = w.shape[1];
      if (typeof mg !== 'number')
        throw new WhittleError(
          'UNSUPPORTED_OP',
          `ConvTranspose "${node.name}": the weight gradient needs the weight's channel count, got [${w.shape.join(', ')}]`,
        );
      dW = convWeightGrad(
        b,
        g,
        X,
        { inDims: outDims, outDims: inDims, kernel: a.kernel, strides: a.strides, dilations: a.dilations, padsBegin: axes.map((t) => t.begin), padsEnd },
        group,
        mg,
      );
    }
    const dB = needs[2] && node.inputs[2] ? channelBiasGrad(b, g, rank) : undefined;
    return [dX, dW, dB];
  },
};
