// Dynamic quantization: weights stored as 8-bit integers, activations quantized on the fly per
// batch (DynamicQuantizeLinear). Gemm/MatMul become MatMulInteger with int8 per-column weights
// (ORT fuses it into DynamicQuantizeMatMul); Conv becomes ConvInteger with uint8 weights, the only
// weight type onnxruntime's CPU ConvInteger accepts.
import { WhittleError } from '../../ir/errors.js';
import type { Graph, Model, Node } from '../../ir/graph.js';
import { attr, getInt, GraphBuilder, opsetOf } from '../../ir/graph.js';
import type { DType } from '../../ir/tensor.js';
import { Tensor } from '../../ir/tensor.js';
import { INT8_WEIGHTS, int8Weights, quantizeArray, quantRange, weightParams } from '../../export/affine.js';
import { foldBatchNorm } from './fold-bn.js';
import type { SkippedNode, WeightedNode } from '../../export/quant-graph.js';
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
} from '../../export/quant-graph.js';
import { valueTypes } from '../../ir/value-types.js';
import type { LayerReport, QuantizeResult } from './static.js';

export interface DynamicQuantOptions {
  /** Quantize Conv weights too (ConvInteger, per-tensor uint8); default true. */
  conv?: boolean;
  /** Node names or op types left in float32. */
  exclude?: readonly string[];
  /**
   * Gemm/MatMul and LSTM weights (multiplied by uint8 activations in integer kernels) in 7 bits,
   * default true: see StaticQuantOptions.reduceRange. ConvInteger's uint8 weights need no reduction.
   */
  reduceRange?: boolean;
}

/**
 * The graph being quantized: its names (one scan, shared by every layer's builder) and the
 * replacements, applied in one pass at the end. A name scan and an indexOf per layer made a
 * graph with many layers quadratic in its nodes.
 */
const pending = new WeakMap<Graph, { names: Set<string>; replaced: Map<Node, Node[]> }>();

function builderFor(g: Graph): GraphBuilder {
  return new GraphBuilder(g, 'dq', pending.get(g)?.names);
}

/** Replaces `node` by `replacement` nodes at the same position. */
function replaceNode(g: Graph, node: Node, replacement: Node[]): void {
  const p = pending.get(g);
  if (p !== undefined) p.replaced.set(node, replacement);
  else g.nodes.splice(g.nodes.indexOf(node), 1, ...replacement);
}

function dynamicGemm(g: Graph, w: WeightedNode, reduceRange: boolean): LayerReport {
  const b = builderFor(g);
  const saved = g.nodes;
  g.nodes = [];
  const { data, k, n } = weightKN(w);
  const p = weightParams(data, [k, n], int8Weights(reduceRange), 1);
  const wq = b.constant(Tensor.fromArray('int8', [k, n], quantizeArray(data, [k, n], p)), 'w');
  const wz = b.constant(new Tensor('int8', [n]), 'z');
  const ws = b.constant(new Tensor('float32', [n], Float32Array.from(p.scale)), 's');
  const [xq, xs, xz] = b.op('DynamicQuantizeLinear', [w.node.inputs[0] as string], {}, 3) as [string, string, string];
  const acc = b.op1('MatMulInteger', [xq, wq, xz, wz]);
  const scaled = b.op1('Mul', [b.op1('Cast', [acc], { to: attr.int(1) }), b.op1('Mul', [xs, ws])]);
  const out = w.node.outputs[0] as string;
  if (w.bias !== undefined) b.op('Add', [scaled, w.node.inputs[2] as string], {}, [out]);
  else b.op('Identity', [scaled], {}, [out]);
  const added = g.nodes;
  g.nodes = saved;
  replaceNode(g, w.node, added);
  return { name: w.node.name, op: w.node.opType, bits: 8, params: w.weight.size + (w.bias?.size ?? 0), bytes: w.weight.size + 5 * n + 4 * (w.bias?.size ?? 0) };
}

/**
 * Conv → ConvInteger. onnxruntime's ConvInteger takes uint8 weights with one zero point, so the
 * weights are symmetric per output channel around 128 (one scale per channel, applied after the
 * integer convolution): per-tensor weights lost too much on depthwise convolutions (MobileNetV2
 * output cosine 0.72 against the float model).
 */
function dynamicConv(g: Graph, w: WeightedNode): LayerReport {
  const b = builderFor(g);
  const saved = g.nodes;
  g.nodes = [];
  const m = w.weight.dims[0] as number;
  const p = weightParams(w.weight.data as Float32Array, w.weight.dims, INT8_WEIGHTS, 0);
  // The int8 codes shifted by 128: uint8 around the one zero point ConvInteger takes.
  const q = Uint8Array.from(quantizeArray(w.weight.data as Float32Array, w.weight.dims, p), (v) => v + 128);
  const scale = p.scale;
  const bcast = [1, m, ...Array.from({ length: w.weight.dims.length - 2 }, () => 1)];
  const wq = b.constant(new Tensor('uint8', w.weight.dims, q), 'w');
  const wz = b.constant(Tensor.fromArray('uint8', [], [128]), 'z');
  const ws = b.constant(new Tensor('float32', bcast, scale), 's');
  const [xq, xs, xz] = b.op('DynamicQuantizeLinear', [w.node.inputs[0] as string], {}, 3) as [string, string, string];
  const acc = b.op1('ConvInteger', [xq, wq, xz, wz], { ...w.node.attributes });
  const scaled = b.op1('Mul', [b.op1('Cast', [acc], { to: attr.int(1) }), b.op1('Mul', [xs, ws])]);
  const out = w.node.outputs[0] as string;
  if (w.bias !== undefined) {
    const bias = b.constant(new Tensor('float32', bcast, Float32Array.from(w.bias.data as Float32Array)), 'b');
    b.op('Add', [scaled, bias], {}, [out]);
  } else b.op('Identity', [scaled], {}, [out]);
  const added = g.nodes;
  g.nodes = saved;
  replaceNode(g, w.node, added);
  return { name: w.node.name, op: 'Conv', bits: 8, params: w.weight.size + (w.bias?.size ?? 0), bytes: w.weight.size + 4 * m + 1 + 4 * (w.bias?.size ?? 0) };
}

/**
 * Conv of an opset-9/10 model (no DynamicQuantizeLinear yet): int8 weights per output channel
 * dequantized by com.microsoft's DequantizeLinear in front of the float Conv. The file shrinks;
 * the convolution runs in float.
 */
function weightOnlyConv(g: Graph, w: WeightedNode): LayerReport {
  const b = builderFor(g);
  const p = weightParams(w.weight.data as Float32Array, w.weight.dims, INT8_WEIGHTS, 0);
  const wq = b.constant(Tensor.fromArray('int8', w.weight.dims, quantizeArray(w.weight.data as Float32Array, w.weight.dims, p)), 'w');
  const ws = b.constant(new Tensor('float32', [p.scale.length], Float32Array.from(p.scale)), 's');
  const wz = b.constant(new Tensor('int8', [p.scale.length]), 'z');
  const deq = b.fresh('d');
  const node: Node = {
    name: b.fresh('D'),
    opType: 'DequantizeLinear',
    domain: 'com.microsoft',
    inputs: [wq, ws, wz],
    outputs: [deq],
    attributes: { axis: attr.int(0) },
  };
  replaceNode(g, w.node, [node, w.node]);
  w.node.inputs[1] = deq;
  return {
    name: w.node.name,
    op: 'Conv',
    bits: 8,
    params: w.weight.size + (w.bias?.size ?? 0),
    bytes: w.weight.size + 5 * p.scale.length + 4 * (w.bias?.size ?? 0),
  };
}

/** ONNX LSTM weight [dirs, 4h, in] → DynamicQuantizeLSTM's int8 [dirs, in, 4h], scales [dirs, 4h]. */
function quantizeLstmWeight(w: Tensor, qmax: number): { q: Int8Array; scale: Float32Array; dims: number[] } {
  const [dirs, rows, cols] = w.dims as [number, number, number];
  const d = w.data as Float32Array;
  const q = new Int8Array(d.length);
  const scale = new Float32Array(dirs * rows);
  for (let k = 0; k < dirs; k++) {
    for (let r = 0; r < rows; r++) {
      let amax = 0;
      for (let c = 0; c < cols; c++) amax = Math.max(amax, Math.abs(d[(k * rows + r) * cols + c] as number));
      const s = amax > 0 ? amax / qmax : 1;
      scale[k * rows + r] = s;
      for (let c = 0; c < cols; c++) q[(k * cols + c) * rows + r] = Math.max(-qmax, Math.min(qmax, Math.round((d[(k * rows + r) * cols + c] as number) / s)));
    }
  }
  return { q, scale, dims: [dirs, cols, rows] };
}

/** LSTM → com.microsoft DynamicQuantizeLSTM: int8 W and R per gate row, activations quantized per run. */
function dynamicLstm(g: Graph, node: Node, reduceRange: boolean): LayerReport {
  const b = builderFor(g);
  const inputs = [...node.inputs];
  while (inputs.length < 8) inputs.push('');
  let bytes = 0;
  let params = 0;
  const extra: string[] = [];
  for (const i of [1, 2]) {
    const name = node.inputs[i] as string;
    const w = g.initializers.get(name) as Tensor;
    const { q, scale, dims } = quantizeLstmWeight(w, quantRange(int8Weights(reduceRange))[1]);
    inputs[i] = b.constant(new Tensor('int8', dims, q), 'w');
    const sdims = [dims[0] as number, dims[2] as number];
    extra.push(b.constant(new Tensor('float32', sdims, scale), 's'), b.constant(new Tensor('int8', sdims), 'z'));
    bytes += q.length + 5 * scale.length;
    params += w.size;
  }
  // DynamicQuantizeLSTM has no `layout` attribute (only layout 0 gets here); opset-14 exports write it.
  const { layout: _layout, ...attributes } = node.attributes;
  const replacement: Node = {
    ...node,
    name: node.name,
    domain: 'com.microsoft',
    opType: 'DynamicQuantizeLSTM',
    inputs: [...inputs.slice(0, 8), ...extra],
    attributes,
  };
  replaceNode(g, node, [replacement]);
  return { name: node.name, op: 'LSTM', bits: 8, params, bytes };
}

/** Why an LSTM cannot become DynamicQuantizeLSTM, or undefined when it can. */
function lstmSkipReason(g: Graph, node: Node): string | undefined {
  const w = g.initializers.get(node.inputs[1] ?? '');
  const r = g.initializers.get(node.inputs[2] ?? '');
  if (w?.dtype !== 'float32' || r?.dtype !== 'float32') return 'its W and R are not constant float32 tensors';
  if (getInt(node, 'layout', 0) !== 0) return 'layout=1 (batch-first) has no DynamicQuantizeLSTM form';
  return undefined;
}

/**
 * Dynamic 8-bit quantization of any model: weights stored as int8 (uint8 for Conv), activations
 * quantized per run, BatchNorm folded first. No calibration data needed. Gemm/MatMul (any batch
 * rank of the activation) become MatMulInteger (DynamicQuantizeMatMul below opset 11), Conv
 * (grouped too) ConvInteger, LSTM com.microsoft's DynamicQuantizeLSTM; GRU, RNN, activation ×
 * activation MatMuls and the rest stay float, listed in `skipped`.
 *
 * ```ts
 * const { model: q, skipped } = quantizeDynamic(mlp);
 * ```
 */
export function quantizeDynamic(model: Model, o: DynamicQuantOptions = {}): QuantizeResult {
  const folded = foldBatchNorm(foldWeightTransposes(model)).model;
  const g = folded.graph.clone();
  const modern = opsetOf(folded) >= 11;
  const notes = modern
    ? []
    : [
        `opset ${opsetOf(folded)} < 11 has no DynamicQuantizeLinear: Gemm/MatMul use com.microsoft's DynamicQuantizeMatMul, Conv keeps int8 weights dequantized in front of a float Conv`,
      ];
  const ctx: DynamicContext = { exclude: new Set(o.exclude ?? []), conv: o.conv ?? true, modern, reduceRange: o.reduceRange ?? true, layers: [], skipped: [] };
  const types = valueTypes(folded);
  quantizeGraphDynamic(g, types, ctx);
  forEachSubgraph(g, types, (sub, subTypes) => quantizeGraphDynamic(sub, subTypes, ctx));
  const { layers, skipped } = ctx;
  if (layers.length === 0)
    throw new WhittleError(
      'BAD_ARGUMENT',
      `the model has no Conv, Gemm, MatMul or LSTM with constant float32 weights to quantize${
        skipped.length > 0
          ? ` (${skipped
              .slice(0, 3)
              .map((s) => `${s.op} "${s.node}": ${s.reason}`)
              .join('; ')})`
          : ''
      }`,
    );
  dropUnusedInitializers(g);
  return {
    model: { ...folded, graph: g, opsetImports: withMicrosoftDomain(folded, g), metadata: { ...folded.metadata, 'whittle.quantization': 'dynamic-int8' } },
    layers,
    skipped,
    notes,
  };
}

interface DynamicContext {
  exclude: ReadonlySet<string>;
  conv: boolean;
  modern: boolean;
  /** Weights of uint8×int8 kernels (Gemm/MatMul, LSTM) in 7 bits. */
  reduceRange: boolean;
  layers: LayerReport[];
  skipped: SkippedNode[];
}

/** Dynamic quantization of one graph's nodes (subgraphs are visited separately). */
function quantizeGraphDynamic(g: Graph, types: ReadonlyMap<string, DType | undefined>, ctx: DynamicContext): void {
  const weighted = new Map(weightedNodes(g).map((w) => [w.node, w]));
  const edits = { names: g.allNames(), replaced: new Map<Node, Node[]>() };
  pending.set(g, edits);
  try {
    quantizeNodes(g, types, ctx, weighted);
  } finally {
    pending.delete(g);
  }
  if (edits.replaced.size > 0) g.nodes = g.nodes.flatMap((n) => edits.replaced.get(n) ?? [n]);
}

function quantizeNodes(g: Graph, types: ReadonlyMap<string, DType | undefined>, ctx: DynamicContext, weighted: ReadonlyMap<Node, WeightedNode>): void {
  const skip = (n: Node, reason: string): void => {
    ctx.skipped.push({ node: n.name, op: n.opType, reason });
  };
  for (const node of g.nodes) {
    if (!COMPUTE_OPS.has(node.opType)) continue;
    if (isExcluded(node, ctx.exclude)) {
      skip(node, 'excluded (--exclude)');
      continue;
    }
    const w = weighted.get(node);
    if (node.opType === 'LSTM') {
      const why = lstmSkipReason(g, node);
      if (why === undefined) ctx.layers.push(dynamicLstm(g, node, ctx.reduceRange));
      else skip(node, why);
    } else if (w === undefined)
      skip(node, node.opType === 'GRU' || node.opType === 'RNN' ? `onnxruntime has no integer ${node.opType} kernel` : skipReason(g, node));
    else if (types.get(node.inputs[0] as string) !== 'float32') skip(node, 'its input is not a float32 activation of known type');
    else if (node.opType === 'Conv') {
      if (!ctx.conv) skip(node, 'Conv quantization turned off');
      else ctx.layers.push(ctx.modern ? dynamicConv(g, w) : weightOnlyConv(g, w));
    } else ctx.layers.push(ctx.modern ? dynamicGemm(g, w, ctx.reduceRange) : dynamicQuantizeMatMul(g, w, ctx.reduceRange));
  }
  const tables = new Map<string, [string, string]>();
  for (const node of g.nodes) {
    const table = node.opType === 'Gather' && !isExcluded(node, ctx.exclude) ? g.initializers.get(node.inputs[0] as string) : undefined;
    if (table === undefined || table.dtype !== 'float32' || table.dims.length !== 2 || table.size < 1024 || getInt(node, 'axis', 0) !== 0) continue;
    ctx.layers.push(quantizeEmbedding(g, node, table, tables));
  }
}

/**
 * Gather from a float table (an embedding) → Gather from its int8 rows, each row's scale gathered
 * alongside: out = Cast(Gather(Wq, ids)) · Gather(scale, ids). Exact up to the rows' rounding, and
 * the table, often the largest weight of a Transformer, shrinks to a quarter.
 */
function quantizeEmbedding(g: Graph, node: Node, table: Tensor, done: Map<string, [string, string]>): LayerReport {
  const b = builderFor(g);
  const name = node.inputs[0] as string;
  let made = done.get(name);
  const [rows, cols] = table.dims as [number, number];
  if (made === undefined) {
    const p = weightParams(table.data as Float32Array, table.dims, INT8_WEIGHTS, 0);
    const q = quantizeArray(table.data as Float32Array, table.dims, p);
    made = [b.constant(Tensor.fromArray('int8', [rows, cols], q), 'e'), b.constant(new Tensor('float32', [rows, 1], p.scale), 'es')];
    done.set(name, made);
  }
  const saved = g.nodes;
  g.nodes = [];
  const ids = node.inputs[1] as string;
  const picked = b.op1('Cast', [b.op1('Gather', [made[0], ids])], { to: attr.int(1) });
  b.op('Mul', [picked, b.op1('Gather', [made[1], ids])], {}, [node.outputs[0] as string]);
  const added = g.nodes;
  g.nodes = saved;
  replaceNode(g, node, added);
  return { name: node.name, op: 'Gather', bits: 8, params: table.size, bytes: table.size + 4 * rows };
}

/**
 * Dynamic int8 for the layers inside subgraphs (If/Loop/Scan bodies), which static calibration
 * cannot observe; returns the graph with them quantized.
 */
export function quantizeSubgraphsDynamic(
  model: Model,
  exclude: ReadonlySet<string>,
  reduceRange = true,
): { graph: Graph; layers: LayerReport[]; skipped: SkippedNode[] } {
  const g = model.graph.clone();
  const ctx: DynamicContext = { exclude, conv: true, modern: opsetOf(model) >= 11, reduceRange, layers: [], skipped: [] };
  forEachSubgraph(g, valueTypes(model), (sub, subTypes) => quantizeGraphDynamic(sub, subTypes, ctx));
  return { graph: g, layers: ctx.layers, skipped: ctx.skipped };
}

/** Gemm/MatMul → com.microsoft DynamicQuantizeMatMul (one node; for opsets before 11). */
function dynamicQuantizeMatMul(g: Graph, w: WeightedNode, reduceRange: boolean): LayerReport {
  const b = builderFor(g);
  const { data, k, n } = weightKN(w);
  const p = weightParams(data, [k, n], int8Weights(reduceRange), 1);
  const wq = b.constant(Tensor.fromArray('int8', [k, n], quantizeArray(data, [k, n], p)), 'w');
  const ws = b.constant(new Tensor('float32', [n], Float32Array.from(p.scale)), 's');
  const wz = b.constant(new Tensor('int8', [n]), 'z');
  const inputs = [w.node.inputs[0] as string, wq, ws, wz, ...(w.bias !== undefined ? [w.node.inputs[2] as string] : [])];
  const node: Node = { name: w.node.name, opType: 'DynamicQuantizeMatMul', domain: 'com.microsoft', inputs, outputs: [...w.node.outputs], attributes: {} };
  replaceNode(g, w.node, [node]);
  return { name: w.node.name, op: w.node.opType, bits: 8, params: w.weight.size + (w.bias?.size ?? 0), bytes: w.weight.size + 5 * n + 4 * (w.bias?.size ?? 0) };
}
