// What a pruning run reports: sizes, FLOPs and per-layer shapes and sparsity, before and after.
import type { Model } from '../../ir/graph.js';
import { encodeModel } from '../../ir/onnx.js';
import { modelStats } from '../../ir/stats.js';
import { withConstantShapes } from '../../graph/thin.js';
import { SHAPE_RULES } from '../../ops/index.js';
import { prunableLayers } from './layers.js';
import { sparseStats } from './sparse.js';

export interface LayerReport {
  name: string;
  shapeBefore: number[];
  shapeAfter: number[] | undefined;
  params: number;
  nonzero: number;
  sparsity: number;
}

export interface PruneReport {
  params: number;
  nonzeroParams: number;
  /** Bytes of the .onnx encoding of the pruned model (dense initializers). */
  bytes: number;
  /** Bytes of every initializer in its smallest sparse form (see sparse.ts). */
  sparseBytes: number;
  /** fp32 bytes of the original model's initializers. */
  denseBytesBefore: number;
  flops: number;
  flopsBefore: number;
  paramsBefore: number;
  /** denseBytesBefore / bytes of the .onnx written. */
  compressionRatio: number;
  /** denseBytesBefore / sparseBytes. */
  sparseCompressionRatio: number;
  /** params before / nonzero params after. */
  nonzeroRatio: number;
  layers: LayerReport[];
}

/**
 * Compares a pruned model with its original.
 *
 * ```ts
 * const r = pruneReport(model, pruned);
 * console.log(r.nonzeroRatio, r.flops / r.flopsBefore);
 * ```
 */
export function pruneReport(before: Model, after: Model, bytesWritten?: number): PruneReport {
  // Attention reshapes computed from Shape leave symbolic sizes; count both models with static ones.
  const sb = modelStats(withConstantShapes(before), SHAPE_RULES);
  const sa = modelStats(after, SHAPE_RULES);
  const sp = sparseStats(after);
  const bytes = bytesWritten ?? encodeModel(after).length;
  const denseBytesBefore = sb.params * 4;
  const afterLayers = new Map(prunableLayers(after.graph).map((l) => [l.name, l]));
  const layers = prunableLayers(before.graph).map((l): LayerReport => {
    const a = afterLayers.get(l.name);
    const t = a !== undefined ? after.graph.initializers.get(a.weight) : undefined;
    let nz = 0;
    if (t !== undefined) for (let i = 0; i < t.size; i++) if (t.data[i] !== 0) nz++;
    const size = t?.size ?? 0;
    return {
      name: l.name,
      shapeBefore: [...l.dims],
      shapeAfter: t ? [...t.dims] : undefined,
      params: size,
      nonzero: nz,
      sparsity: size > 0 ? 1 - nz / l.dims.reduce((x, y) => x * y, 1) : 1,
    };
  });
  return {
    params: sa.params,
    nonzeroParams: sa.nonzeroParams,
    bytes,
    sparseBytes: sp.sparseBytes,
    denseBytesBefore,
    flops: sa.flops,
    flopsBefore: sb.flops,
    paramsBefore: sb.params,
    compressionRatio: denseBytesBefore / bytes,
    sparseCompressionRatio: denseBytesBefore / sp.sparseBytes,
    nonzeroRatio: sb.params / Math.max(1, sa.nonzeroParams),
    layers,
  };
}
