// The two backward passes of a cross-correlation (Conv), written as standard ONNX nodes and
// shared by Conv and ConvTranspose (whose gradients are the same correlations, roles swapped).
import type { Attribute, GraphBuilder } from '../ir/graph.js';
import { attr } from '../ir/graph.js';
import { Tensor } from '../ir/tensor.js';
import { dilatedKernel } from './window.js';

/** A correlation from an input of spatial size inDims to an output of spatial size outDims. */
export interface Correlation {
  inDims: number[];
  outDims: number[];
  kernel: number[];
  strides: number[];
  dilations: number[];
  padsBegin: number[];
  padsEnd: number[];
}

/** [1, 0, 2, 3, …]: swaps the batch and channel axes. */
export function swapBatchChannels(rank: number): number[] {
  return [1, 0, ...Array.from({ length: rank - 2 }, (_, i) => i + 2)];
}

/** Slice(x) keeping the first `keep[i]` positions of spatial axis i (axes where keep < size only). */
export function cropSpatialEnd(b: GraphBuilder, x: string, sizes: readonly number[], keep: readonly number[]): string {
  const axes: number[] = [];
  const ends: number[] = [];
  keep.forEach((k, i) => {
    if (k < (sizes[i] as number)) {
      axes.push(i + 2);
      ends.push(k);
    }
  });
  if (axes.length === 0) return x;
  return b.op1('Slice', [
    x,
    b.constant(Tensor.int64(axes.map(() => 0)), 'starts'),
    b.constant(Tensor.int64(ends), 'ends'),
    b.constant(Tensor.int64(axes), 'axes'),
  ]);
}

/**
 * dL/dX of Y = Conv(X, W): ConvTranspose(dY, W) with the forward strides, dilations, group and
 * pads, and output_padding = the input tail no window reached, so the result has X's exact size
 * (those tail positions get zero gradient).
 */
export function convInputGrad(b: GraphBuilder, dy: string, w: string, c: Correlation, group: number): string {
  const outputPadding = c.inDims.map(
    (n, i) => n + (c.padsBegin[i] as number) + (c.padsEnd[i] as number) - dilatedKernel(c, i) - (c.strides[i] as number) * ((c.outDims[i] as number) - 1),
  );
  const at: Record<string, Attribute> = {
    kernel_shape: attr.ints(c.kernel),
    strides: attr.ints(c.strides),
    dilations: attr.ints(c.dilations),
    pads: attr.ints([...c.padsBegin, ...c.padsEnd]),
  };
  if (group !== 1) at['group'] = attr.int(group);
  if (outputPadding.some((p) => p !== 0)) at['output_padding'] = attr.ints(outputPadding);
  return b.op1('ConvTranspose', [dy, w], at);
}

/**
 * dL/dX of Y = Conv(X, W) for stride 1 as a forward Conv: dX = Conv(dY, W′) where W′ swaps W's
 * channel axes (per group) and flips its kernel, with pads dilation·(k − 1) − the forward pads.
 * onnxruntime runs Conv as im2col + one well-shaped matrix product per image, where
 * ConvTranspose multiplies with a short inner dimension and then scatters with a single-threaded
 * Col2Im. Returns undefined where it does not apply (a stride above 1, or forward pads wider
 * than the dilated kernel): use convInputGrad there.
 */
export function convInputGradFlipped(
  b: GraphBuilder,
  dy: string,
  w: string,
  c: Correlation,
  group: number,
  filters: number,
  channelsPerGroup: number,
): string | undefined {
  if (c.strides.some((s) => s !== 1)) return undefined;
  const reach = c.kernel.map((k, i) => (c.dilations[i] as number) * (k - 1));
  const padsBegin = reach.map((r, i) => r - (c.padsBegin[i] as number));
  const padsEnd = reach.map((r, i) => r - (c.padsEnd[i] as number));
  if ([...padsBegin, ...padsEnd].some((p) => p < 0)) return undefined;
  const spatial = c.kernel.length;
  const kernelAxes = Array.from({ length: spatial }, (_, i) => i + 2);
  let swapped: string;
  if (group === 1) swapped = b.op1('Transpose', [w], { perm: attr.ints(swapBatchChannels(spatial + 2)) });
  else {
    // [g·M/g, C/g, k…] → [g, M/g, C/g, k…] → [g, C/g, M/g, k…] → [C, M/g, k…].
    const split = b.op1('Reshape', [w, b.constant(Tensor.int64([group, filters / group, channelsPerGroup, ...c.kernel]), 'shape')]);
    const moved = b.op1('Transpose', [split], { perm: attr.ints([0, 2, 1, ...kernelAxes.map((a) => a + 1)]) });
    swapped = b.op1('Reshape', [moved, b.constant(Tensor.int64([group * channelsPerGroup, filters / group, ...c.kernel]), 'shape')]);
  }
  const flipAxes = kernelAxes.filter((a) => (c.kernel[a - 2] as number) > 1);
  const flipped =
    flipAxes.length === 0
      ? swapped
      : b.op1('Slice', [
          swapped,
          b.constant(Tensor.int64(flipAxes.map(() => -1)), 'starts'),
          b.constant(Tensor.int64(flipAxes.map(() => Number.MIN_SAFE_INTEGER)), 'ends'),
          b.constant(Tensor.int64(flipAxes), 'axes'),
          b.constant(Tensor.int64(flipAxes.map(() => -1)), 'steps'),
        ]);
  const at: Record<string, Attribute> = {
    kernel_shape: attr.ints(c.kernel),
    dilations: attr.ints(c.dilations),
    pads: attr.ints([...padsBegin, ...padsEnd]),
  };
  if (group !== 1) at['group'] = attr.int(group);
  return b.op1('Conv', [dy, flipped], at);
}

/**
 * dL/dW of Y = Conv(X, W) by the batch-as-channels trick: with batch and channels swapped, X is
 * a batch of C single images with N channels and dY a bank of M filters with N channels, so
 * dW = Transpose(Conv(Xᵀ, dYᵀ, strides = forward dilations, dilations = forward strides)).
 * Groups: X's channels are regrouped as [C/g, g·N] and the Conv runs with `group` = g, so each
 * group's filters only see their group's channels (depthwise is g = C, C/g = 1).
 * `channelsPerGroup` is W's second dim (C/g). Input positions that no forward window reached
 * are cropped away so the result has exactly the kernel's size.
 */
export function convWeightGrad(b: GraphBuilder, x: string, dy: string, c: Correlation, group: number, channelsPerGroup: number): string {
  const spatial = c.inDims.length;
  const rank = spatial + 2;
  // End padding that makes the correlation Xᵀ ⋆ dYᵀ produce exactly `kernel` positions.
  const padsEnd = c.inDims.map((n, i) => dilatedKernel(c, i) + (c.strides[i] as number) * ((c.outDims[i] as number) - 1) - n - (c.padsBegin[i] as number));
  const cropped = cropSpatialEnd(
    b,
    x,
    c.inDims,
    c.inDims.map((n, i) => n + Math.min(0, padsEnd[i] as number)),
  );
  const keptDims = c.inDims.map((n, i) => n + Math.min(0, padsEnd[i] as number));
  const perm = swapBatchChannels(rank);
  let xt: string;
  if (group === 1) {
    xt = b.op1('Transpose', [cropped], { perm: attr.ints(perm) });
  } else {
    // [N, g·Cg, …] → [N, g, Cg, …] → [Cg, g, N, …] → [Cg, g·N, …]: channel index g·N + n.
    const split = b.op1('Reshape', [cropped, b.constant(Tensor.int64([-1, group, channelsPerGroup, ...keptDims]), 'shape')]);
    const moved = b.op1('Transpose', [split], { perm: attr.ints([2, 1, 0, ...Array.from({ length: spatial }, (_, i) => i + 3)]) });
    xt = b.op1('Reshape', [moved, b.constant(Tensor.int64([channelsPerGroup, -1, ...keptDims]), 'shape')]);
  }
  const dyt = b.op1('Transpose', [dy], { perm: attr.ints(perm) });
  const at: Record<string, Attribute> = {
    kernel_shape: attr.ints(c.outDims),
    strides: attr.ints(c.dilations),
    dilations: attr.ints(c.strides),
    pads: attr.ints([...c.padsBegin, ...padsEnd.map((p) => Math.max(0, p))]),
  };
  if (group !== 1) at['group'] = attr.int(group);
  const dwt = b.op1('Conv', [xt, dyt], at);
  return b.op1('Transpose', [dwt], { perm: attr.ints(perm) });
}

/**
 * dL/dW of Y = Conv(X, W) with group = 1 as one matrix product over the unfolded input:
 * cols[N·P, K·C] holds, for every output position (P per image, N images) and kernel offset
 * (K of them), the C input channels that position sees there; then
 * dW[M, K·C] = dY[M, N·P] · cols, reordered to W's [M, C, kernel…]. cols is one Gather from the
 * (padded) input in channels-last order, so each gathered row is C contiguous values.
 * The batch-as-channels Conv (convWeightGrad) computes the same sums as C small products that
 * each stream all of dY again: several times slower when the kernel is small and the channels
 * many (ResNet's 3×3 layers on 7×7 maps took 4× the forward conv's time), and a second thread
 * barely helps it.
 * The input goes channels-last before it is padded: Pad then copies rows of C·width values
 * instead of single rows of one channel (ResNet-20: Pad's kernel time halved). A batched
 * dY[n]·cols[n] summed over the batch (no transpose of dY) measured ~1% slower per step than
 * the one product at 1 thread.
 */
export function convWeightGradUnfold(b: GraphBuilder, x: string, dy: string, c: Correlation, channels: number, filters: number): string {
  const spatial = c.inDims.length;
  const rank = spatial + 2;
  const padded = c.inDims.map((n, i) => n + (c.padsBegin[i] as number) + (c.padsEnd[i] as number));
  // [N, C, spatial…] → [N, spatial…, C] → padded → [N, positions, C].
  let last = b.op1('Transpose', [x], { perm: attr.ints([0, ...Array.from({ length: spatial }, (_, i) => i + 2), 1]) });
  if ([...c.padsBegin, ...c.padsEnd].some((p) => p !== 0))
    last = b.op1('Pad', [last, b.constant(Tensor.int64([0, ...c.padsBegin, 0, 0, ...c.padsEnd, 0]), 'pads')]);
  const flat = b.op1('Reshape', [last, b.constant(Tensor.int64([0, -1, channels]), 'shape')]);
  // Flat padded position of output position p's window at kernel offset k, in (p, k) order.
  const strides = padded.map((_, i) => padded.slice(i + 1).reduce((q, d) => q * d, 1));
  const positions = (dims: readonly number[]): number[][] => {
    let out: number[][] = [[]];
    for (const d of dims) out = out.flatMap((o) => Array.from({ length: d }, (_, i) => [...o, i]));
    return out;
  };
  const outPos = positions(c.outDims);
  const kernelPos = positions(c.kernel);
  const index: number[] = [];
  for (const o of outPos)
    for (const k of kernelPos)
      index.push(o.reduce((sum, oi, a) => sum + (oi * (c.strides[a] as number) + (k[a] as number) * (c.dilations[a] as number)) * (strides[a] as number), 0));
  const cols = b.op1('Reshape', [
    b.op1('Gather', [flat, b.constant(Tensor.int64(index), 'windows')], { axis: attr.int(1) }),
    b.constant(Tensor.int64([-1, kernelPos.length * channels]), 'shape'),
  ]);
  const dyt = b.op1('Reshape', [b.op1('Transpose', [dy], { perm: attr.ints(swapBatchChannels(rank)) }), b.constant(Tensor.int64([filters, -1]), 'shape')]);
  const dw = b.op1('Gemm', [dyt, cols]);
  // [M, kernel…, C] → [M, C, kernel…].
  const split = b.op1('Reshape', [dw, b.constant(Tensor.int64([filters, ...c.kernel, channels]), 'shape')]);
  return b.op1('Transpose', [split], { perm: attr.ints([0, spatial + 1, ...Array.from({ length: spatial }, (_, i) => i + 1)]) });
}

/** dL/dB of a per-channel bias added to a [N, C, …] output: ReduceSum over every axis but 1. */
export function channelBiasGrad(b: GraphBuilder, dy: string, rank: number): string {
  const axes = [0, ...Array.from({ length: rank - 2 }, (_, i) => i + 2)];
  return b.op1('ReduceSum', [dy, b.constant(Tensor.int64(axes), 'axes')], { keepdims: attr.int(0) });
}
