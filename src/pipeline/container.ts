// Deep Compression to files: the container (model.wtl), the ONNX decoded from it, and the
// per-layer bytes of the container (Deep Compression's Table 1 reads from these).
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { readContainer, writeContainer } from '../compress/codec/index.js';
import { prunableLayers } from '../compress/prune/index.js';
import type { ContainerBreakdown } from '../compress/codec/index.js';
import type { Dataset, TensorDataset } from '../data/index.js';
import { WhittleError } from '../ir/errors.js';
import type { Model } from '../ir/graph.js';
import { loadModelFile, saveModel } from '../ir/io.js';
import { evaluate } from '../train/evaluate.js';
import { deepCompress } from './deep-compression.js';
import type { DeepCompressionOptions, DeepCompressionResult } from './deep-compression.js';
import { withNormalization } from './metadata.js';

/** Bytes of a model's float parameters stored densely as float32: the ratio's numerator. */
export function denseParameterBytes(model: Model): number {
  let n = 0;
  for (const t of model.graph.initializers.values())
    if ((t.dtype === 'float32' || t.dtype === 'float64' || t.dtype === 'float16') && t.dims.length > 0) n += 4 * t.size;
  return n;
}

export interface ContainerLayer {
  name: string;
  weight: string | undefined;
  params: number;
  bits: number;
  gapBits: number | undefined;
  sparsity: number;
  nonzeros: number;
  /** `weights`: a weight stored dense (not shared); `indices`: the Huffman-coded sparse and cluster indices. */
  bytes: { weights: number; indices: number; codebook: number; huffmanTables: number; biases: number; headers: number; total: number };
}

/**
 * The container's bytes grouped by layer: a weight under the layer pruning names it by (a node;
 * an LSTM/GRU/RNN's `NODE.W` and `NODE.R`), any other tensor under the node that reads it (a
 * recurrent node's bias under its `NODE.W`).
 */
export function layerBreakdown(model: Model, b: ContainerBreakdown): ContainerLayer[] {
  const byLayer = new Map<string, ContainerLayer>();
  const layerOfWeight = new Map(prunableLayers(model.graph).map((l) => [l.weight, l]));
  for (const t of b.tensors) {
    const node = model.graph.nodes.find((n) => n.inputs.includes(t.name));
    const layer = layerOfWeight.get(t.name);
    const owner = node !== undefined ? layerOfWeight.get(node.inputs[1] ?? '') : undefined;
    const name = layer?.name ?? owner?.name ?? node?.name ?? t.name;
    const isWeight = layer !== undefined || (node !== undefined ? node.inputs[1] === t.name : t.kind === 'shared');
    let r = byLayer.get(name);
    if (r === undefined) {
      r = {
        name,
        weight: undefined,
        params: 0,
        bits: 32,
        gapBits: undefined,
        sparsity: 0,
        nonzeros: 0,
        bytes: { weights: 0, indices: 0, codebook: 0, huffmanTables: 0, biases: 0, headers: 0, total: 0 },
      };
      byLayer.set(name, r);
    }
    const size = t.dims.reduce((a, d) => a * d, 1);
    r.params += size;
    r.bytes.headers += t.header;
    r.bytes.codebook += t.codebook;
    r.bytes.huffmanTables += t.huffmanTables;
    r.bytes.indices += t.indices;
    r.bytes.total += t.total;
    if (isWeight) {
      r.weight = t.name;
      r.bits = t.bits ?? 32;
      r.gapBits = t.gapBits;
      r.nonzeros = t.nonzeros ?? size;
      r.sparsity = 1 - r.nonzeros / size;
      r.bytes.weights += t.values;
    } else r.bytes.biases += t.values;
  }
  return [...byLayer.values()];
}

export interface ContainerRun {
  result: DeepCompressionResult;
  breakdown: ContainerBreakdown;
  layers: ContainerLayer[];
  denseBytes: number;
  /** Test accuracy of DIR/model.onnx, decoded from the container file and evaluated by ORT. */
  accuracy: number;
  /** Test accuracy of the input model (the stages' figures are validation accuracies). */
  baselineAccuracy: number;
  container: string;
  onnx: string;
}

/** Runs a recipe's pipeline on `model`, writes DIR/model.wtl and DIR/model.onnx, and checks them. */
export interface ContainerOptions extends Omit<DeepCompressionOptions, 'validation'> {
  /** Directory for model.wtl (the container) and model.onnx (decoded from it); created if missing. */
  out: string;
  /** Relative-index width of the sparse coding; 'auto' (default): the smallest coding. */
  gapBits?: number | 'auto';
}

/**
 * Deep Compression to files: runs `deepCompress` (fine-tuning on `data.train`, each stage measured
 * on `data.validation`), writes DIR/model.wtl and DIR/model.onnx, and reports what the files
 * hold: the ONNX decoded from the container is what gets evaluated, on `data.test`, once.
 *
 * ```ts
 * const { train, validation } = splitValidation(mnist.train, 0.1);
 * const run = await compressToContainer(model, { train, validation, test: mnist.test }, { out: 'dc', layers, prune, centroids, batchSize: 64, optimizer, normalization: 'x/255' });
 * console.log(run.breakdown.bytes, run.accuracy);
 * ```
 */
export async function compressToContainer(
  model: Model,
  data: { train: Dataset | TensorDataset; validation: Dataset | TensorDataset; test: Dataset | TensorDataset },
  o: ContainerOptions,
): Promise<ContainerRun> {
  if (existsSync(o.out) && !statSync(o.out).isDirectory())
    throw new WhittleError('BAD_ARGUMENT', `the output ${o.out} is a file; pass a directory (it is created if missing)`);
  const { out, gapBits, ...options } = o;
  const result = await deepCompress(model, data.train, { ...options, validation: data.validation });
  mkdirSync(out, { recursive: true });
  const container = join(out, 'model.wtl');
  const onnx = join(out, 'model.onnx');
  writeContainer(container, withNormalization(result.model, o.normalization), result.shared, { gapBits: gapBits ?? 'auto' });
  // Everything reported comes from the file: decode it, write the ONNX, evaluate that file.
  const decoded = readContainer(container);
  saveModel(decoded.model, onnx);
  // The test set, once per model: the input and the file written.
  const { accuracy } = await evaluate(loadModelFile(onnx), data.test, { normalization: o.normalization, threads: o.threads });
  const baseline = await evaluate(model, data.test, { normalization: o.normalization, threads: o.threads });
  const breakdown = { ...decoded.breakdown, bytes: statSync(container).size };
  return {
    result,
    breakdown,
    layers: layerBreakdown(decoded.model, breakdown),
    denseBytes: denseParameterBytes(model),
    accuracy,
    baselineAccuracy: baseline.accuracy,
    container,
    onnx,
  };
}
