// 4-bit weights for Gemm/MatMul as onnxruntime's MatMulNBits (com.microsoft): weights in blocks
// of `blockSize` along K, each block with its own scale and 4-bit zero point, two codes a byte.
import { WhittleError } from '../ir/errors.js';
import type { Graph, Model, Node } from '../ir/graph.js';
import { attr, GraphBuilder } from '../ir/graph.js';
import { Tensor } from '../ir/tensor.js';
import { quantizeValue, rangeToParams } from './affine.js';
import type { SkippedNode } from './quant-graph.js';
import {
  COMPUTE_OPS,
  dropUnusedInitializers,
  foldWeightTransposes,
  forEachSubgraph,
  isExcluded,
  skipReason,
  weightedNodes,
  weightKN,
  withMicrosoftDomain,
} from './quant-graph.js';
import type { LayerReport, QuantizeResult } from './quant-graph.js';
import { valueTypes } from '../ir/value-types.js';

export interface Int4Options {
  /** Weights per block along K: a power of two ≥ 16; default 32. */
  blockSize?: number;
  /** Give every block its own zero point (asymmetric, default) or use 8 (symmetric). */
  symmetric?: boolean;
  /** Node names or op types left in float32. */
  exclude?: readonly string[];
}

/** Codes, scales and zero points of one [K, N] weight in MatMulNBits layout. */
export interface Int4Blocks {
  /** [N, blocks, blockSize / 2] bytes, low nibble first. */
  packed: Uint8Array;
  /** [N · blocks]. */
  scales: Float32Array;
  /** [N · ceil(blocks / 2)] bytes, low nibble first. */
  zeroPoints: Uint8Array;
  /** The weights as the kernel will use them, [K, N]. */
  dequantized: Float32Array;
  blocks: number;
}

/** Quantizes a [K, N] row-major weight to 4-bit blocks along K. */
export function quantizeInt4Blocks(w: Float32Array, k: number, n: number, blockSize: number, symmetric: boolean): Int4Blocks {
  const blocks = Math.ceil(k / blockSize);
  const packed = new Uint8Array(n * blocks * (blockSize / 2));
  const scales = new Float32Array(n * blocks);
  const zpBytes = Math.ceil(blocks / 2);
  const zeroPoints = new Uint8Array(n * zpBytes);
  const dequantized = new Float32Array(k * n);
  const scheme = { bits: 4, signed: false, symmetric } as const;
  for (let col = 0; col < n; col++) {
    for (let blk = 0; blk < blocks; blk++) {
      let lo = Infinity;
      let hi = -Infinity;
      for (let i = blk * blockSize; i < Math.min(k, (blk + 1) * blockSize); i++) {
        const v = w[i * n + col] as number;
        if (v < lo) lo = v;
        if (v > hi) hi = v;
      }
      const { scale, zeroPoint } = rangeToParams(lo, hi, scheme);
      scales[col * blocks + blk] = scale;
      const zi = col * zpBytes + (blk >> 1);
      zeroPoints[zi] = (zeroPoints[zi] as number) | (zeroPoint << ((blk & 1) * 4));
      for (let j = 0; j < blockSize; j++) {
        const i = blk * blockSize + j;
        // Padding past K stores the zero point, which dequantizes to exactly 0.
        const q = i < k ? quantizeValue(w[i * n + col] as number, scale, zeroPoint, 0, 15) : zeroPoint;
        if (i < k) dequantized[i * n + col] = Math.fround((q - zeroPoint) * scale);
        const byte = (col * blocks + blk) * (blockSize / 2) + (j >> 1);
        packed[byte] = (packed[byte] as number) | (q << ((j & 1) * 4));
      }
    }
  }
  return { packed, scales, zeroPoints, dequantized, blocks };
}

/**
 * Replaces every Gemm/MatMul with constant 2-D weights (read directly or through a Transpose;
 * activations of any batch rank) by MatMulNBits (4-bit) + bias Add; convolutions and the rest stay
 * float32, listed in `skipped`.
 *
 * ```ts
 * const { model: q4 } = exportInt4(mlp, { blockSize: 32 });
 * ```
 */
export function exportInt4(model: Model, o: Int4Options = {}): QuantizeResult {
  const blockSize = o.blockSize ?? 32;
  if (!(blockSize >= 16 && (blockSize & (blockSize - 1)) === 0))
    throw new WhittleError('BAD_ARGUMENT', `int4 block size must be a power of two ≥ 16, got ${blockSize}`);
  const folded = foldWeightTransposes(model);
  const g = folded.graph.clone();
  const exclude = new Set(o.exclude ?? []);
  const layers: LayerReport[] = [];
  const skipped: SkippedNode[] = [];
  const visit = (h: Graph): void => int4Graph(h, { exclude, blockSize, symmetric: o.symmetric ?? false, layers, skipped });
  visit(g);
  forEachSubgraph(g, valueTypes(folded), (sub) => visit(sub));
  if (layers.length === 0)
    throw new WhittleError('BAD_ARGUMENT', 'int4 export quantizes Gemm/MatMul weights and this model has none with constant float32 weights');
  dropUnusedInitializers(g);
  return {
    model: {
      ...folded,
      graph: g,
      opsetImports: withMicrosoftDomain(folded, g),
      metadata: { ...model.metadata, 'whittle.quantization': `int4-matmulnbits-b${blockSize}` },
    },
    layers,
    skipped,
  };
}

/** MatMulNBits for the Gemm/MatMul nodes of one graph (subgraphs are visited separately). */
function int4Graph(g: Graph, c: { exclude: ReadonlySet<string>; blockSize: number; symmetric: boolean; layers: LayerReport[]; skipped: SkippedNode[] }): void {
  const { exclude, blockSize, layers, skipped } = c;
  const weighted = new Map(weightedNodes(g).map((w) => [w.node, w]));
  for (const n of g.nodes) {
    if (!COMPUTE_OPS.has(n.opType)) continue;
    const w = weighted.get(n);
    if (isExcluded(n, exclude)) skipped.push({ node: n.name, op: n.opType, reason: 'excluded (--exclude)' });
    else if (n.opType === 'Conv' && w !== undefined)
      skipped.push({ node: n.name, op: n.opType, reason: 'MatMulNBits is a matrix product; convolutions stay float32' });
    else if (w === undefined) skipped.push({ node: n.name, op: n.opType, reason: skipReason(g, n) });
  }
  for (const w of weighted.values()) {
    if (w.node.opType === 'Conv' || isExcluded(w.node, exclude)) continue;
    const { data, k, n } = weightKN(w);
    const q = quantizeInt4Blocks(data, k, n, blockSize, c.symmetric);
    const b = new GraphBuilder(g, w.node.name);
    const B = b.constant(new Tensor('uint8', [n, q.blocks, blockSize / 2], q.packed), `${w.weightName}.q4`);
    const S = b.constant(new Tensor('float32', [n * q.blocks], q.scales), `${w.weightName}.scales`);
    const Z = b.constant(new Tensor('uint8', [q.zeroPoints.length], q.zeroPoints), `${w.weightName}.zero_points`);
    const out = w.node.outputs[0] as string;
    const mm = w.bias !== undefined ? b.fresh(`${w.node.name}.matmul`) : out;
    const nodes: Node[] = [
      {
        name: b.fresh(`${w.node.name}.nbits`),
        opType: 'MatMulNBits',
        domain: 'com.microsoft',
        inputs: [w.node.inputs[0] as string, B, S, Z],
        outputs: [mm],
        attributes: { K: attr.int(k), N: attr.int(n), bits: attr.int(4), block_size: attr.int(blockSize) },
      },
    ];
    if (w.bias !== undefined)
      nodes.push({
        name: b.fresh(`${w.node.name}.bias_add`),
        opType: 'Add',
        domain: '',
        inputs: [mm, w.node.inputs[2] as string],
        outputs: [out],
        attributes: {},
      });
    g.nodes.splice(g.nodes.indexOf(w.node), 1, ...nodes);
    layers.push({
      name: w.node.name,
      op: w.node.opType,
      bits: 4,
      params: w.weight.size + (w.bias?.size ?? 0),
      bytes: q.packed.length + 4 * q.scales.length + q.zeroPoints.length + 4 * (w.bias?.size ?? 0),
    });
  }
}
