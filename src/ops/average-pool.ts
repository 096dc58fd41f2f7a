// AveragePool and GlobalAveragePool.
import { WhittleError } from '../ir/errors.js';
import { attr, getInt } from '../ir/graph.js';
import type { Attribute } from '../ir/graph.js';
import { ONNX_DTYPE, Tensor } from '../ir/tensor.js';
import { poolAttrs, poolShape } from './max-pool.js';
import type { OpDef } from './types.js';
import { input, scalar } from './util.js';
import type { WindowGeometry } from './window.js';
import { reshapeLike, unusedTail, windowGeometry } from './window.js';
import { poolChannels } from './channels.js';

/**
 * How many elements each output window averages over, per spatial axis, as onnxruntime counts
 * them: with count_include_pad the window is clipped to the padded input, without it to the input.
 */
function windowCounts(g: WindowGeometry, includePad: boolean): number[][] {
  return g.inDims.map((n, i) => {
    const s = g.strides[i] as number;
    const pb = g.padsBegin[i] as number;
    const [lo, hi] = includePad ? [-pb, n + (g.padsEnd[i] as number)] : [0, n];
    return Array.from({ length: g.outDims[i] as number }, (_, o) => {
      let count = 0;
      for (let t = 0; t < (g.kernel[i] as number); t++) {
        const p = o * s - pb + t * (g.dilations[i] as number);
        if (p >= lo && p < hi) count++;
      }
      return count;
    });
  });
}

/** 1 / count for every output position, as a [out spatial…] tensor (the outer product of the axes). */
function inverseCounts(g: WindowGeometry, includePad: boolean, dtype: 'float32' | 'float64'): Tensor {
  const counts = windowCounts(g, includePad);
  let values = [1];
  for (const axis of counts) values = values.flatMap((v) => axis.map((c) => v * c));
  return Tensor.fromArray(
    dtype,
    g.outDims,
    values.map((c) => 1 / c),
  );
}

/**
 * Y = AveragePool(X). dX = ConvTranspose(dY / count, ones) with the pool's strides and pads run on
 * [N·C, 1, …] (one channel, so any channel count works), output_padding for the input tail no
 * window reached; a ceil-mode window hanging past the end pads instead widens the end crop.
 */
export const averagePool: OpDef = {
  op: 'AveragePool',
  channels: poolChannels,
  inferShape: ({ node, inputs }) => [poolShape(node, inputs)],
  gradient({ node, b, dy, inputs }) {
    const g = dy[0];
    const x = inputs[0];
    if (g === undefined || x === undefined) return [];
    if (x.dtype !== 'float32' && x.dtype !== 'float64')
      throw new WhittleError('NO_GRADIENT', `AveragePool "${node.name}": gradients are built for float32 inputs, got ${x.dtype}`);
    const geom = windowGeometry(node, poolAttrs(node, x), x.shape.slice(2));
    const includePad = getInt(node, 'count_include_pad', 0) !== 0;
    const scaled = b.op1('Mul', [g, b.constant(inverseCounts(geom, includePad, x.dtype), 'inv_count')]);
    const single = b.op1('Reshape', [scaled, b.constant(Tensor.int64([-1, 1, ...geom.outDims]), 'shape')]);
    const tails = geom.inDims.map((_, i) => unusedTail(geom, i));
    const at: Record<string, Attribute> = {
      kernel_shape: attr.ints(geom.kernel),
      strides: attr.ints(geom.strides),
      dilations: attr.ints(geom.dilations),
      pads: attr.ints([...geom.padsBegin, ...geom.padsEnd.map((p, i) => p + Math.max(0, -(tails[i] as number)))]),
    };
    if (tails.some((t) => t > 0)) at['output_padding'] = attr.ints(tails.map((t) => Math.max(0, t)));
    const ones = b.constant(Tensor.fromArray(x.dtype, [1, 1, ...geom.kernel], new Array<number>(geom.kernel.reduce((p, q) => p * q, 1)).fill(1)), 'ones');
    const spread = b.op1('ConvTranspose', [single, ones], at);
    return [reshapeLike(b, spread, node.inputs[0] as string, x.shape)];
  },
};

/** Y = mean over all spatial axes (keeping them as 1s); dX = dY / (H·W…) broadcast back. */
export const globalAveragePool: OpDef = {
  op: 'GlobalAveragePool',
  channels: poolChannels,
  inferShape({ node, inputs }) {
    const x = input(node, inputs, 0);
    if (x.shape.length < 3) {
      throw new WhittleError('SHAPE_MISMATCH', `GlobalAveragePool "${node.name}" expects input [N, C, spatial…] of rank ≥ 3, got [${x.shape.join(', ')}]`);
    }
    return [{ dtype: x.dtype, shape: [x.shape[0] ?? 'N', x.shape[1] ?? 'C', ...x.shape.slice(2).map(() => 1)] }];
  },
  gradient({ node, b, dy, inputs }) {
    const g = dy[0];
    const x = inputs[0];
    if (g === undefined || x === undefined) return [];
    const spatial = x.shape.slice(2);
    if (spatial.every((d): d is number => typeof d === 'number')) {
      // dY is [N, C, 1, …]: expanding to [1, 1, H, …] broadcasts it to X's shape.
      const scaled = b.op1('Mul', [g, scalar(b, x.dtype, 1 / spatial.reduce((p, q) => p * q, 1), 'inv_count')]);
      return [b.op1('Expand', [scaled, b.constant(Tensor.int64([1, 1, ...spatial]), 'shape')])];
    }
    // Symbolic spatial size: divide by the runtime element count of the spatial axes.
    const xShape = b.op1('Shape', [node.inputs[0] as string]);
    const dims = b.op1('Slice', [xShape, b.constant(Tensor.int64([2]), 'starts'), b.constant(Tensor.int64([x.shape.length]), 'ends')]);
    const count = b.op1('Cast', [b.op1('ReduceProd', [dims], { keepdims: attr.int(0) })], { to: attr.int(ONNX_DTYPE[x.dtype]) });
    return [b.op1('Expand', [b.op1('Div', [g, count]), xShape])];
  },
};
