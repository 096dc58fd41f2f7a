// k-means weight sharing straight to a container, without pruning or fine-tuning: what
// `whittle quantize --scheme kmeans --format container` needs.
import type { Model } from '../../ir/graph.js';
import type { ContainerBreakdown, EncodeOptions, SharedWeight } from '../codec/container.js';
import { writeContainer } from '../codec/container.js';
import { prunableLayers } from '../prune/layers.js';
import { resolveWeight } from './share.js';
import { kmeansShareWeights } from './share.js';

export interface KmeansContainerOptions extends EncodeOptions {
  /** Index bits per weight: 2^bits shared values per layer. */
  bits: number;
  /** Layers (node or weight names) to share; default every layer pruning names (`prunableLayers`: Gemm, Conv, MatMul; LSTM/GRU/RNN W and R). */
  layers?: readonly string[];
}

/**
 * Shares each layer's weights among 2^bits k-means centroids (exact zeros stay pruned) and writes
 * the Deep Compression container to `path`. `model` is the quantized model to evaluate; the
 * breakdown's `bytes` is the file's size.
 *
 * ```ts
 * const { model: q, breakdown } = writeKmeansContainer(model, 'model.wtl', { bits: 4 });
 * ```
 */
export function writeKmeansContainer(
  model: Model,
  path: string,
  o: KmeansContainerOptions,
): { model: Model; shared: Map<string, SharedWeight>; breakdown: ContainerBreakdown } {
  const layers = o.layers ?? prunableLayers(model.graph).map((l) => l.name);
  const bits = new Map(layers.map((l) => [resolveWeight(model, l).weight, o.bits]));
  const { model: quantized, shared } = kmeansShareWeights(model, bits);
  const breakdown = writeContainer(path, quantized, shared, o);
  return { model: quantized, shared, breakdown };
}
