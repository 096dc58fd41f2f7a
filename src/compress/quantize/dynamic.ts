// Dynamic quantization: weights stored as 8-bit integers, activations quantized on the fly per
// batch (DynamicQuantizeLinear). Gemm/MatMul become MatMulInteger with int8 per-column weights
// (ORT fuses it into DynamicQuantizeMatMul); Conv becomes ConvInteger with uint8 weights, the only
// weight type onnxruntime's CPU ConvInteger accepts.
import { WhittleError } from '../../ir/errors.js';
import type { Graph, Model, Node } from '../../ir/graph.js';
import { attr, GraphBuilder } from '../../ir/graph.js';
import { Tensor } from '../../ir/tensor.js';
import type { QuantScheme } from './affine.js';
import { quantizeArray, weightParams } from './affine.js';
import { foldBatchNorm } from './fold-bn.js';
import type { WeightedNode } from './graph-util.js';
import { dropUnusedInitializers, weightedNodes, weightKN } from './graph-util.js';
import type { LayerReport, QuantizeResult } from './static.js';

const INT8_SYM: QuantScheme = { bits: 8, signed: true, symmetric: true };
const UINT8_ASYM: QuantScheme = { bits: 8, signed: false, symmetric: false };

export interface DynamicQuantOptions {
  /** Quantize Conv weights too (ConvInteger, per-tensor uint8); default true. */
  conv?: boolean;
}

/** Replaces `node` by `replacement` nodes at the same position. */
function replaceNode(g: Graph, node: Node, replacement: Node[]): void {
  g.nodes.splice(g.nodes.indexOf(node), 1, ...replacement);
}

function dynamicGemm(g: Graph, w: WeightedNode): LayerReport {
  const b = new GraphBuilder(g, w.node.name);
  const saved = g.nodes;
  g.nodes = [];
  const { data, k, n } = weightKN(w);
  const p = weightParams(data, [k, n], INT8_SYM, 1);
  const wq = b.constant(Tensor.fromArray('int8', [k, n], quantizeArray(data, [k, n], p)), `${w.weightName}.int8`);
  const wz = b.constant(new Tensor('int8', [n]), `${w.weightName}.zero_point`);
  const ws = b.constant(new Tensor('float32', [n], Float32Array.from(p.scale)), `${w.weightName}.scale`);
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

function dynamicConv(g: Graph, w: WeightedNode): LayerReport {
  const b = new GraphBuilder(g, w.node.name);
  const saved = g.nodes;
  g.nodes = [];
  const p = weightParams(w.weight.data as Float32Array, w.weight.dims, UINT8_ASYM, undefined);
  const wq = b.constant(Tensor.fromArray('uint8', w.weight.dims, quantizeArray(w.weight.data as Float32Array, w.weight.dims, p)), `${w.weightName}.uint8`);
  const wz = b.constant(Tensor.fromArray('uint8', [], [p.zeroPoint[0] as number]), `${w.weightName}.zero_point`);
  const ws = b.constant(Tensor.scalar('float32', p.scale[0] as number), `${w.weightName}.scale`);
  const [xq, xs, xz] = b.op('DynamicQuantizeLinear', [w.node.inputs[0] as string], {}, 3) as [string, string, string];
  const acc = b.op1('ConvInteger', [xq, wq, xz, wz], { ...w.node.attributes });
  const scaled = b.op1('Mul', [b.op1('Cast', [acc], { to: attr.int(1) }), b.op1('Mul', [xs, ws])]);
  const out = w.node.outputs[0] as string;
  if (w.bias !== undefined) {
    const m = w.bias.size;
    const bias = b.constant(new Tensor('float32', [1, m, ...Array.from({ length: w.weight.dims.length - 2 }, () => 1)], Float32Array.from(w.bias.data as Float32Array)), `${w.node.inputs[2] as string}.bcast`);
    b.op('Add', [scaled, bias], {}, [out]);
  } else b.op('Identity', [scaled], {}, [out]);
  const added = g.nodes;
  g.nodes = saved;
  replaceNode(g, w.node, added);
  return { name: w.node.name, op: 'Conv', bits: 8, params: w.weight.size + (w.bias?.size ?? 0), bytes: w.weight.size + 5 + 4 * (w.bias?.size ?? 0) };
}

/**
 * Dynamic (weights-only) 8-bit quantization; BatchNorm folded first. No calibration data needed.
 *
 * ```ts
 * const { model: q } = quantizeDynamic(mlp);
 * ```
 */
export function quantizeDynamic(model: Model, o: DynamicQuantOptions = {}): QuantizeResult {
  const folded = foldBatchNorm(model).model;
  const g = folded.graph.clone();
  const layers: LayerReport[] = [];
  for (const w of weightedNodes(g)) {
    if (w.node.opType === 'Conv') {
      if (o.conv ?? true) layers.push(dynamicConv(g, w));
    } else layers.push(dynamicGemm(g, w));
  }
  if (layers.length === 0) throw new WhittleError('BAD_ARGUMENT', 'the model has no Conv, Gemm or MatMul with constant float32 weights to quantize');
  dropUnusedInitializers(g);
  return { model: { ...folded, graph: g, metadata: { ...folded.metadata, 'whittle.quantization': 'dynamic-int8' } }, layers };
}
