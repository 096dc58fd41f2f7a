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

/** dL/dB of a per-channel bias added to a [N, C, …] output: ReduceSum over every axis but 1. */
export function channelBiasGrad(b: GraphBuilder, dy: string, rank: number): string {
  const axes = [0, ...Array.from({ length: rank - 2 }, (_, i) => i + 2)];
  return b.op1('ReduceSum', [dy, b.constant(Tensor.int64(axes), 'axes')], { keepdims: attr.int(0) });
}
