// Static post-training quantization to ONNX QDQ form: int8 weights (per channel) and uint8
// activations with calibrated ranges, BatchNorm folded first. onnxruntime fuses the QDQ pairs
// into its integer kernels (QLinearConv, QGemm, MatMulIntegerToFloat).
import { WhittleError } from '../../ir/errors.js';
import type { Graph, Model, Node } from '../../ir/graph.js';
import { attr, getInt, GraphBuilder, opsetOf } from '../../ir/graph.js';
import { upgradeOpset } from '../../ir/opset.js';
import { SHAPE_RULES } from '../../ops/index.js';
import { Tensor } from '../../ir/tensor.js';
import type { QuantParams, QuantScheme } from '../../export/affine.js';
import { INT8_WEIGHTS, int8Weights, quantizeArray, rangeToParams, weightParams } from '../../export/affine.js';
import type { ActivationRange, CalibrationOptions } from './calibrate.js';
import { calibrate, checkCalibrationShape } from './calibrate.js';
import type { ModelData } from './feeds.js';
import { foldBatchNorm } from './fold-bn.js';
import { foldHardSigmoid } from './fold-hardsigmoid.js';
import { foldHardSwish, HARDSWISH_OPSET } from './fold-hardswish.js';
import type { LayerReport, QuantizeResult, SkippedNode, WeightedNode } from '../../export/quant-graph.js';
export type { LayerReport, QuantizeResult } from '../../export/quant-graph.js';
import {
  COMPUTE_OPS,
  dropUnusedInitializers,
  foldWeightTransposes,
  isExcluded,
  qdqDomain,
  skipReason,
  weightedNodes,
  withMicrosoftDomain,
} from '../../export/quant-graph.js';
import { valueTypes } from '../../ir/value-types.js';
import { quantizeSubgraphsDynamic } from './dynamic.js';

/**
 * Ops besides Conv/Gemm/MatMul whose activations get QDQ, as onnxruntime's quantizer does: each
 * has an integer kernel onnxruntime fuses DQ → op → Q into (QLinearAdd, QLinearMul,
 * QLinearConcat, QLinearAveragePool, QLinearGlobalAveragePool), so residual adds and squeeze-
 * excitation products stay in int8 between convolutions.
 */
export const QDQ_OPS = new Set(['Add', 'Mul', 'Concat', 'AveragePool', 'GlobalAveragePool']);

/** A node whose activation inputs are quantized. */
export interface QdqConsumer {
  node: Node;
  inputs: string[];
}

/** Ops that read only a value's shape (an export's dynamic Reshape targets): a quantized value serves them as well. */
const SHAPE_READERS = new Set(['Shape', 'Size']);

/** Ops that move values without changing them: they share their input's quantization. */
const PASS_THROUGH = new Set(['MaxPool', 'Flatten', 'Reshape', 'Transpose', 'Squeeze', 'Unsqueeze', 'Slice']);

export const UINT8_ACTIVATIONS: QuantScheme = { bits: 8, signed: false, symmetric: false };

export interface StaticQuantOptions {
  /** Calibration inputs: float32 [N, ...] for a single-input model, or batches of named inputs. */
  samples: ModelData;
  calibration?: CalibrationOptions;
  /** One scale per output channel of each weight (default) or one per tensor. */
  perChannel?: boolean;
  /**
   * Weights an integer kernel reads kept in 7 bits (default true): correct on every x86 CPU,
   * including those without VNNI, where full-range int8 weights saturate onnxruntime's uint8×int8
   * products (QuantScheme.reduceRange). false: full 8-bit weights, for models that will only run
   * on CPUs with VNNI or on ARM.
   */
  reduceRange?: boolean;
  /** Layers (node names) left in float32, e.g. a sensitive or memory-bound first conv. */
  keepFloat?: readonly string[];
  /** Node names or op types left in float32 (the same as keepFloat, which names layers). */
  exclude?: readonly string[];
  /**
   * Conv layers computed in float32 from int8-stored weights: Cast(int8) × per-channel scale,
   * constants onnxruntime folds into a float32 weight when it loads the model, so the layer runs
   * onnxruntime's float kernel (its NCHWc convolution) while the file keeps one byte a weight.
   * For layers whose int8 kernel is slower than the float one (see quantizeModel's keepFloat 'auto').
   */
  floatCompute?: readonly string[];
  /** Activation ranges from an earlier calibration of the same model and samples, reused where they cover a value. */
  ranges?: ReadonlyMap<string, ActivationRange>;
  threads?: number;
  /**
   * The default-domain opset the result is written at; an older model is upgraded to it first
   * (upgradeOpset), a newer one keeps its own. Default: the model's own from opset 13 on, else 17
   * (onnxruntime's QLinear kernels need opset 10, per-channel QuantizeLinear/DequantizeLinear 13);
   * 14 for an opset-13 model with HardSwish spelled out (an op from 14 on, with an integer form).
   */
  opset?: number;
}

/** The opset a static int8 model below QDQ_OPSET is upgraded to unless options.opset says otherwise. */
export const STATIC_INT8_OPSET = 17;
/** From this opset on, QuantizeLinear/DequantizeLinear take per-channel scales: the model's own opset is kept. */
const QDQ_OPSET = 13;

/**
 * Scalar constants (activation scales and zero points) by value: equal ones are one initializer
 * (MobileNetV3-Small's 108 activation zero points take a few distinct values).
 */
class ScalarPool {
  readonly #names = new Map<string, string>();
  readonly #b: GraphBuilder;
  constructor(b: GraphBuilder) {
    this.#b = b;
  }
  get(dtype: 'float32' | 'uint8', value: number, hint: string): string {
    const key = `${dtype}:${value}`;
    let name = this.#names.get(key);
    if (name === undefined) {
      name = this.#b.constant(
        dtype === 'float32' ? new Tensor('float32', [], Float32Array.of(value)) : Tensor.fromArray(dtype, [], Int32Array.of(value)),
        hint,
      );
      this.#names.set(key, name);
    }
    return name;
  }
}

/** The input activation's scale, as a value of the graph and as a number. */
interface ActScale {
  name: string;
  value: number;
}

/** Adds DequantizeLinear(int weight) for a weighted node; returns the LayerReport. */
function quantizeWeight(
  g: Graph,
  b: GraphBuilder,
  w: WeightedNode,
  p: QuantParams,
  act: ActScale | undefined,
  domain: string,
  id: string,
  shared: Map<string, { deq: string; s: string }>,
): LayerReport {
  const perChannel = p.axis !== undefined;
  const symmetric = p.zeroPoint.every((z) => z === 0);
  // A weight several layers read (tied or shared parameters) is quantized once: one int8 tensor,
  // dequantized once, read by each layer (onnxruntime gives each its own copy of the DQ to fuse).
  const key = `${w.weightName}|${w.channelAxis}`;
  const before = shared.get(key);
  let bytes = 0;
  let s: string;
  if (before !== undefined) {
    w.node.inputs[1] = before.deq;
    s = before.s;
  } else {
    const q = b.constant(Tensor.fromArray('int8', w.weight.dims, quantizeArray(w.weight.data as Float32Array, w.weight.dims, p)), `${id}q`);
    const dims = perChannel ? [p.scale.length] : [];
    s = b.constant(new Tensor('float32', dims, Float32Array.from(p.scale)), `${id}s`);
    // Symmetric int8 weights leave out their all-zero zero point (DequantizeLinear's default).
    const z = symmetric ? undefined : b.constant(Tensor.fromArray('int8', dims, p.zeroPoint), `${id}z`);
    const at: Node['attributes'] = perChannel ? { axis: attr.int(w.channelAxis) } : {};
    const deq = insertBefore(g, w.node, 'DequantizeLinear', z === undefined ? [q, s] : [q, s, z], at, b, `${id}d`, domain);
    w.node.inputs[1] = deq;
    shared.set(key, { deq, s });
    bytes = w.weight.size + 4 * p.scale.length + (symmetric ? 0 : p.zeroPoint.length);
  }
  if (w.bias !== undefined && act !== undefined && w.node.opType !== 'MatMul') {
    // Bias in int32 at scale s_x·s_w: what QLinearConv/QGemm add to their accumulators.
    const n = w.bias.size;
    const bq = new Int32Array(n);
    for (let c = 0; c < n; c++) {
      // The float32 product s_x·s_w, as the Mul below computes it (two float32s multiply exactly in a double).
      const sc = Math.fround(act.value * (p.scale[perChannel ? c : 0] as number));
      bq[c] = Math.max(-(2 ** 31), Math.min(2 ** 31 - 1, Math.round((w.bias.data[c] as number) / sc)));
    }
    const qb = narrowInt32(g, w.node, b, bq, `${id}b`);
    // The bias scale is computed, not stored (4 bytes a channel, 6% of MobileNetV3-Small's int8
    // file): onnxruntime folds this Mul of two constants when it loads the model, before it fuses
    // the QDQ groups into QLinearConv/QGemm, which then read a constant scale.
    const bsc = insertBefore(g, w.node, 'Mul', [act.name, s], {}, b, `${id}m`, '');
    // An int32 DequantizeLinear's zero point can only be 0, its default: left out (4 bytes a channel).
    w.node.inputs[2] = insertBefore(g, w.node, 'DequantizeLinear', [qb, bsc], perChannel ? { axis: attr.int(0) } : {}, b, `${id}d`, domain);
    bytes += 4 * n;
  } else if (w.bias !== undefined) bytes += 4 * w.bias.size;
  return { name: w.node.name, op: w.node.opType, bits: p.scheme.bits, params: w.weight.size + (w.bias?.size ?? 0), bytes };
}

/**
 * A float layer's weight stored as int8 (symmetric, per output channel) and rebuilt in the graph
 * as Cast(int8) × scale: both nodes read only constants, so onnxruntime folds them into a float32
 * initializer at load (a DequantizeLinear it would keep, and run on every call), and the layer
 * keeps its float kernel (NCHWc convolution, which needs a constant weight).
 */
function storeWeightInt8(g: Graph, b: GraphBuilder, w: WeightedNode, id: string): LayerReport {
  const p = weightParams(w.weight.data as Float32Array, w.weight.dims, INT8_WEIGHTS, w.channelAxis);
  const q = b.constant(Tensor.fromArray('int8', w.weight.dims, quantizeArray(w.weight.data as Float32Array, w.weight.dims, p)), `${id}q`);
  const scaleDims = w.weight.dims.map((d, i) => (i === w.channelAxis ? d : 1));
  const s = b.constant(new Tensor('float32', scaleDims, Float32Array.from(p.scale)), `${id}s`);
  const cast = insertBefore(g, w.node, 'Cast', [q], { to: attr.int(1) }, b, `${id}c`, '');
  w.node.inputs[1] = insertBefore(g, w.node, 'Mul', [cast, s], {}, b, `${id}m`, '');
  const biasBytes = 4 * (w.bias?.size ?? 0);
  return { name: w.node.name, op: w.node.opType, bits: 8, params: w.weight.size + (w.bias?.size ?? 0), bytes: w.weight.size + 4 * p.scale.length + biasBytes };
}

/**
 * An int32 constant stored as int8/int16 where its values fit, widened by a Cast that onnxruntime
 * folds when it loads the model (before its QDQ fusion): int32 biases were 7% of an int8
 * MobileNetV3-Small, and a BatchNorm-folded bias in units of s_x·s_w mostly fits in 16 bits.
 */
function narrowInt32(g: Graph, before: Node, b: GraphBuilder, values: Int32Array, hint: string): string {
  const max = values.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
  if (max > 32767) return b.constant(new Tensor('int32', [values.length], values), hint);
  const narrow = b.constant(Tensor.fromArray(max <= 127 ? 'int8' : 'int16', [values.length], values), hint);
  return insertBefore(g, before, 'Cast', [narrow], { to: attr.int(6) }, b, `${hint}c`, '');
}

/** Conv attributes equal to their defaults (the kernel shape is the weight's): the same model, fewer bytes. */
function dropDefaultConvAttributes(g: Graph): void {
  const allAre = (a: Node['attributes'][string] | undefined, v: number): boolean => a?.type === 'ints' && a.value.every((x) => x === v);
  for (const n of g.nodes) {
    if (n.opType !== 'Conv' || n.domain !== '') continue;
    const a = n.attributes;
    if (allAre(a['dilations'], 1)) delete a['dilations'];
    if (allAre(a['strides'], 1)) delete a['strides'];
    if (allAre(a['pads'], 0)) delete a['pads'];
    if (a['group']?.type === 'int' && a['group'].value === 1) delete a['group'];
    if (a['auto_pad']?.type === 'string' && a['auto_pad'].value === 'NOTSET') delete a['auto_pad'];
    const w = g.initializers.get(n.inputs[1] ?? '');
    const k = a['kernel_shape'];
    if (w !== undefined && k?.type === 'ints' && k.value.length === w.dims.length - 2 && k.value.every((v, i) => v === w.dims[i + 2])) delete a['kernel_shape'];
  }
}

/**
 * HardSwish between quantized values (DequantizeLinear → HardSwish → QuantizeLinear: MobileNetV3's
 * Conv → HardSwish) rewritten into ops onnxruntime has integer kernels for, since it has none for
 * HardSwish (its float one then ran on a dequantized copy, with a Q/DQ pass each side: 27% of an
 * int8 MobileNetV3-Small's kernel time at batch 32):
 *   hardsigmoid(x) = relu6(x + 3) / 6 = DQ(Q(x + 3; scale 6/255, zero 0); scale 1/255)
 * (the uint8 saturation of that Q is the relu6, and reading it back at a sixth of its scale the
 * division), then HardSwish(x) = x · hardsigmoid(x): onnxruntime fuses the Add and the Mul with their
 * Q/DQ into QLinearAdd and QLinearMul, both on uint8 values.
 */
function integerHardSwish(g: Graph, pool: ScalarPool, domain: string): void {
  for (const n of [...g.nodes]) {
    if (n.opType !== 'HardSwish' || n.domain !== '') continue;
    const x = n.inputs[0] as string;
    const y = n.outputs[0] as string;
    const dq = g.producerOf(x);
    const readers = g.consumersOf(y);
    if (dq?.opType !== 'DequantizeLinear' || readers.length === 0 || !readers.every((r) => r.opType === 'QuantizeLinear')) continue;
    const b = new GraphBuilder(g, 'hs');
    const zero = pool.get('uint8', 0, 'az');
    const three = b.fresh('hs3');
    const sum = b.fresh('hsa');
    const q6 = b.fresh('hsq');
    const hsig = b.fresh('hsd');
    const node = (opType: string, inputs: string[], output: string): Node => ({
      name: '',
      opType,
      domain: opType === 'Add' || opType === 'Mul' ? '' : domain,
      inputs,
      outputs: [output],
      attributes: {},
    });
    const replacement = [
      node('DequantizeLinear', [pool.get('uint8', 255, 'az'), pool.get('float32', Math.fround(3 / 255), 'as'), zero], three),
      node('Add', [x, three], sum),
      node('QuantizeLinear', [sum, pool.get('float32', Math.fround(6 / 255), 'as'), zero], q6),
      node('DequantizeLinear', [q6, pool.get('float32', Math.fround(1 / 255), 'as'), zero], hsig),
      { ...node('Mul', [x, hsig], y), name: n.name },
    ];
    g.nodes.splice(g.nodes.indexOf(n), 1, ...replacement);
  }
}

/** Emits a node just before `before` in node order; returns its output. */
function insertBefore(
  g: Graph,
  before: Node,
  opType: string,
  inputs: string[],
  attributes: Node['attributes'],
  b: GraphBuilder,
  hint: string,
  domain: string,
): string {
  const out = b.fresh(hint);
  // Unnamed (names are optional in ONNX): 330 generated ones were 1% of an int8 MobileNetV3-Small.
  const node: Node = { name: '', opType, domain, inputs, outputs: [out], attributes };
  g.nodes.splice(g.nodes.indexOf(before), 0, node);
  return out;
}

/** Activations that onnxruntime removes in front of a QuantizeLinear (folded into the range). */
const FUSED_ACTIVATIONS = new Set(['Relu', 'Clip']);
/** Ops through which onnxruntime's QDQ propagation moves a QuantizeLinear backwards. */
const ORT_Q_PROPAGATES = new Set(['MaxPool', 'Reshape', 'Transpose', 'Squeeze', 'Unsqueeze', 'Slice']);

/**
 * The activations to quantize: each consumer's inputs (a weighted node's first input; every float
 * activation input of a QDQ_OPS node), traced back through pass-through ops (MaxPool, Flatten,
 * ...) whose readers are all quantized, to where it was computed (the key); every value on the way
 * shares its params. Where that value comes from a layer left in float (or is the graph input),
 * only the layer's own input is quantized and the pass-through ops run in float: a uint8 MaxPool
 * in NCHW layout is onnxruntime's slow generic kernel (2.1 ms against 0.15 ms in float for
 * LeNet-5's pool1). Quantization is monotone, so Q(MaxPool(x)) = MaxPool(Q(x)): the same numbers.
 */
export function activationGroups(
  g: Graph,
  weighted: readonly WeightedNode[],
  extra: readonly QdqConsumer[] = [],
  o: { convOutputs?: boolean } = {},
): Map<string, string[]> {
  const consumers: QdqConsumer[] = [...weighted.map((w) => ({ node: w.node, inputs: [w.node.inputs[0] as string] })), ...extra];
  const quantized = new Set(consumers.map((c) => c.node));
  const fromIntegerKernel = (value: string): boolean => {
    let p = g.producerOf(value);
    if (p !== undefined && FUSED_ACTIVATIONS.has(p.opType)) p = g.producerOf(p.inputs[0] as string);
    return p !== undefined && quantized.has(p);
  };
  // Whether every reader of `value` is quantized, directly or through pass-through ops (a
  // ShuffleNet's channel split: Reshape → Transpose → Reshape → two Slices → Conv and Concat).
  const readAsQuantized = (value: string, depth = 0): boolean =>
    g
      .consumersOf(value)
      .every(
        (r) =>
          quantized.has(r) || SHAPE_READERS.has(r.opType) || (depth < 8 && PASS_THROUGH.has(r.opType) && readAsQuantized(r.outputs[0] as string, depth + 1)),
      );
  const groups = new Map<string, string[]>();
  for (const c of consumers) {
    for (const input of c.inputs) {
      const chain = [input];
      for (;;) {
        const p = g.producerOf(chain[chain.length - 1] as string);
        const readers = p === undefined ? [] : g.consumersOf(p.outputs[0] as string);
        if (p === undefined || !PASS_THROUGH.has(p.opType) || (readers.length !== 1 && !readAsQuantized(p.outputs[0] as string))) break;
        chain.push(p.inputs[0] as string);
      }
      const origin = chain[chain.length - 1] as string;
      const list = groups.get(origin) ?? [];
      for (const v of fromIntegerKernel(origin) ? chain : chain.slice(0, 1)) if (!list.includes(v)) list.push(v);
      groups.set(origin, list);
    }
  }
  if (o.convOutputs === true) for (const v of unquantizedConvOutputs(g, weighted, groups)) groups.set(v, [v]);
  return groups;
}

/**
 * The Conv outputs (after a Relu/Clip onnxruntime folds in) that no quantized consumer reads:
 * onnxruntime fuses DQ → Conv into QLinearConv only when a QuantizeLinear follows, else the Conv
 * runs in float on dequantized weights (MobileNetV3's Conv → HardSwish, an SE block's Conv →
 * Sigmoid/HardSigmoid: 27 of MobileNetV3-Small's 52 convolutions). Graph outputs stay float.
 */
function unquantizedConvOutputs(g: Graph, weighted: readonly WeightedNode[], groups: ReadonlyMap<string, string[]>): string[] {
  const covered = new Set([...groups.values()].flat());
  const graphOutputs = new Set(g.outputs.map((v) => v.name));
  const out: string[] = [];
  for (const w of weighted) {
    if (w.node.opType !== 'Conv') continue;
    let v = w.node.outputs[0] as string;
    const readers = g.consumersOf(v);
    const only = readers.length === 1 ? readers[0] : undefined;
    if (only !== undefined && FUSED_ACTIVATIONS.has(only.opType)) v = only.outputs[0] as string;
    if (covered.has(v) || graphOutputs.has(v) || g.consumersOf(v).length === 0 || out.includes(v)) continue;
    out.push(v);
  }
  return out;
}

/**
 * Whether onnxruntime would move a QuantizeLinear of `value` back across a MaxPool (its QDQ
 * propagation passes single-consumer MaxPool, Reshape, Transpose, ... nodes).
 */
function qWouldCrossMaxPool(g: Graph, value: string): boolean {
  for (let v = value; ; ) {
    const p = g.producerOf(v);
    if (p === undefined || !ORT_Q_PROPAGATES.has(p.opType)) return false;
    if (p.opType === 'MaxPool') return true;
    v = p.inputs[0] as string;
    if (g.consumersOf(v).length !== 1) return false;
  }
}

/** What a model offers static quantization: its layers, its other QDQ nodes, and what stays float. */
export interface QdqPlan {
  weighted: WeightedNode[];
  extra: QdqConsumer[];
  skipped: SkippedNode[];
}

/**
 * The Conv/Gemm/MatMul layers with constant weights and float32 inputs, and the QDQ_OPS nodes
 * whose inputs are all float32 activations, minus `exclude` (node names or op types).
 */
export function planQdq(model: Model, exclude: ReadonlySet<string>, withExtra = true): QdqPlan {
  const g = model.graph;
  const types = valueTypes(model);
  const isFloat = (v: string): boolean => types.get(v) === 'float32';
  const skipped: SkippedNode[] = [];
  const weighted: WeightedNode[] = [];
  const found = new Set<Node>();
  for (const w of weightedNodes(g)) {
    found.add(w.node);
    if (isExcluded(w.node, exclude)) skipped.push({ node: w.node.name, op: w.node.opType, reason: 'excluded (--exclude / keepFloat)' });
    else if (!isFloat(w.node.inputs[0] as string))
      skipped.push({ node: w.node.name, op: w.node.opType, reason: 'its input is not a float32 activation of known type' });
    else weighted.push(w);
  }
  for (const n of g.nodes)
    if (COMPUTE_OPS.has(n.opType) && !found.has(n))
      skipped.push({ node: n.name, op: n.opType, reason: isExcluded(n, exclude) ? 'excluded (--exclude / keepFloat)' : skipReason(g, n) });
  const extra: QdqConsumer[] = [];
  if (withExtra) {
    for (const n of g.nodes) {
      if (!QDQ_OPS.has(n.opType) || isExcluded(n, exclude)) continue;
      const inputs = n.inputs.filter((i) => i !== '');
      // Constant operands (a bias Add, a scale Mul) would need their own int8 form: left float.
      if (inputs.length === 0 || !inputs.every((i) => isFloat(i) && !g.initializers.has(i)) || !isFloat(n.outputs[0] as string)) continue;
      extra.push({ node: n, inputs });
    }
  }
  return { weighted, extra, skipped };
}

/**
 * Static int8 post-training quantization in QDQ form, for any model: Conv (grouped and depthwise
 * included), Gemm and MatMul with constant weights get int8 weights (per channel) and uint8
 * inputs; Add, Mul, Concat and average pools between them get uint8 activations too. Everything
 * else runs in float32 on dequantized values; `skipped` lists the compute ops left in float.
 *
 * ```ts
 * const { model: q } = await quantizeStatic(lenet, { samples, calibration: { method: 'percentile' } });
 * saveModel(q, 'lenet-int8.onnx');
 * ```
 */
export async function quantizeStatic(model: Model, o: StaticQuantOptions): Promise<QuantizeResult & { ranges: Map<string, ActivationRange> }> {
  if (o.samples instanceof Tensor) checkCalibrationShape(model, o.samples);
  const floatCompute = new Set(o.floatCompute ?? []);
  const exclude = new Set([...(o.keepFloat ?? []), ...(o.exclude ?? []), ...floatCompute]);
  const notes: string[] = [];
  const own = opsetOf(model);
  // An opset-13 model with HardSwish spelled out goes to 14, where it is one HardSwish node that
  // runs as QLinearAdd + QLinearMul (MobileNetV3-Small 224, CPU ms at 1 thread: 3.45 → 2.91 at batch 1, 74 → 61 at 32).
  const spelledHardSwish = own < HARDSWISH_OPSET && foldHardSwish({ ...model, opsetImports: [{ domain: '', version: HARDSWISH_OPSET }] }).folded.length > 0;
  const target = o.opset ?? (own < QDQ_OPSET ? STATIC_INT8_OPSET : spelledHardSwish ? HARDSWISH_OPSET : own);
  const upgraded = upgradeOpset(model, target, { rules: SHAPE_RULES });
  if (upgraded !== model)
    notes.push(
      own >= QDQ_OPSET
        ? `opset ${own} upgraded to ${target} first (same math): HardSwish, spelled out in this model, is an op from opset 14 on, which int8 runs as QLinearAdd + QLinearMul; options.opset ${own} keeps the model's opset`
        : `opset ${own} upgraded to ${target} first (same math; onnxruntime's int8 kernels need opset 10, per-channel QuantizeLinear/DequantizeLinear 13); options.opset ${own} keeps the model's opset${own < 10 ? ', with int8-stored weights computed in float32' : ''}`,
    );
  const prepared = foldHardSwish(foldHardSigmoid(foldBatchNorm(foldWeightTransposes(upgraded)).model).model).model;
  // Calibration cannot see inside If/Loop/Scan bodies: their layers get dynamic int8.
  const inside = quantizeSubgraphsDynamic(prepared, exclude, o.reduceRange ?? true);
  const folded: Model = { ...prepared, graph: inside.graph };
  const plan = planQdq(folded, exclude);
  for (const s of plan.skipped) if (floatCompute.has(s.node)) s.reason = 'computed in float32 from int8-stored weights (its int8 kernel is not faster here)';
  plan.skipped.push(...inside.skipped);
  if (plan.weighted.length === 0 && floatCompute.size === 0 && inside.layers.length > 0) {
    const g = folded.graph.clone();
    dropUnusedInitializers(g);
    notes.push('the layers are inside If/Loop/Scan bodies, which calibration cannot observe: they got dynamic int8 (activations quantized per run)');
    return {
      model: { ...folded, graph: g, opsetImports: withMicrosoftDomain(folded, g), metadata: { ...folded.metadata, 'whittle.quantization': 'dynamic-int8' } },
      layers: inside.layers,
      skipped: plan.skipped,
      notes,
      ranges: new Map(),
    };
  }
  if (plan.weighted.length === 0 && floatCompute.size === 0)
    throw new WhittleError(
      'BAD_ARGUMENT',
      `the model has no Conv, Gemm or MatMul with constant float32 weights to quantize${
        plan.skipped.length > 0
          ? ` (${plan.skipped
              .map((s) => `${s.op} "${s.node}": ${s.reason}`)
              .slice(0, 3)
              .join('; ')})`
          : ''
      }`,
    );
  // onnxruntime fuses QDQ into QLinearConv & co. of opset 10; an opset-9 model cannot hold them.
  const weightOnly = opsetOf(folded) < 10;
  if (weightOnly) {
    notes.push(
      `opset ${opsetOf(folded)} < 10: int8 weights only, computed in float32 (onnxruntime expands them at load, so it runs at fp32 speed; its QDQ fusion makes opset-10 QLinear ops this model's opset cannot hold); re-export at opset 13+ for int8 compute`,
    );
    // A DequantizeLinear of each weight would run on every call (0.6-0.7x fp32's speed on PaddleOCR's
    // opset-9 cls/rec): int8-stored weights as Cast × scale, which onnxruntime folds when it loads the model.
    for (const w of floatComputeAll(folded.graph, plan)) {
      floatCompute.add(w.node.name);
      plan.skipped.push({ node: w.node.name, op: w.node.opType, reason: 'computed in float32 from int8-stored weights (opset < 10: no integer kernel)' });
    }
  }
  if (!weightOnly) {
    for (const w of floatOutputGemms(folded.graph, plan)) {
      plan.weighted.splice(plan.weighted.indexOf(w), 1);
      floatCompute.add(w.node.name);
      plan.skipped.push({
        node: w.node.name,
        op: 'Gemm',
        reason:
          'computed in float32 from int8-stored weights: its output stays float, and onnxruntime fuses a QDQ Gemm into its integer QGemm only with a quantized output (else it dequantizes the weights on every run)',
      });
    }
  }
  const groups = weightOnly ? new Map<string, string[]>() : activationGroups(folded.graph, plan.weighted, plan.extra, { convOutputs: true });
  const known = o.ranges ?? new Map<string, ActivationRange>();
  const missing = [...groups.keys()].filter((v) => !known.has(v));
  const measured =
    missing.length === 0
      ? new Map<string, ActivationRange>()
      : await calibrate(folded, o.samples, missing, { method: 'minmax', ...o.calibration, threads: o.threads }, UINT8_ACTIVATIONS);
  const ranges = new Map([...groups.keys()].map((v) => [v, (measured.get(v) ?? known.get(v)) as ActivationRange]));
  const activations = new Map<string, { scale: number; zeroPoint: number }>();
  for (const origin of groups.keys()) {
    const r = ranges.get(origin) as ActivationRange;
    activations.set(origin, rangeToParams(r.lo, r.hi, UINT8_ACTIVATIONS));
  }
  const perChannel = o.perChannel ?? true;
  const domain = qdqDomain(folded);
  if (domain !== '')
    notes.push(
      `opset ${folded.opsetImports.find((i) => i.domain === '')?.version ?? '?'} < 13: QuantizeLinear/DequantizeLinear from onnxruntime's com.microsoft domain (the standard ones take no per-channel axis before opset 13)`,
    );
  const chosen = new Set(plan.weighted.map((w) => w.node));
  const floatLayers = new Set(
    weightedNodes(folded.graph)
      .filter((w) => !chosen.has(w.node))
      .map((w) => w.node.name),
  );
  // Weight-only layers compute in float32: only integer kernels need the 7-bit weights.
  const scheme = int8Weights((o.reduceRange ?? true) && !weightOnly);
  const r = buildQdq(folded, activations, (w) => depthwiseAwareParams(w, perChannel, scheme), floatLayers, weightOnly ? [] : plan.extra, floatCompute);
  if (inside.layers.length > 0) notes.push(`${inside.layers.length} layer(s) inside If/Loop/Scan bodies got dynamic int8: calibration cannot observe them`);
  return { ...r, layers: [...r.layers, ...inside.layers], skipped: plan.skipped, notes, ranges };
}

/**
 * The planned Gemm layers whose output no quantized node reads (a classifier's last layer, read by
 * the graph output or a Softmax): onnxruntime's QDQ fusion makes QGemm only where a QuantizeLinear
 * follows, so in int8 such a Gemm ran onnxruntime's float Gemm on an input, a weight and a bias
 * each dequantized on every run (three DequantizeLinear nodes: 21 µs against the Gemm's 7 µs in
 * resnet18 at batch 1, one thread). Named nodes with unshared weights only (floatCompute is by name).
 */
function floatOutputGemms(g: Graph, plan: QdqPlan): WeightedNode[] {
  const covered = new Set([...activationGroups(g, plan.weighted, plan.extra, { convOutputs: true }).values()].flat());
  return plan.weighted.filter((w) => {
    if (w.node.opType !== 'Gemm' || w.node.name === '' || g.consumersOf(w.weightName).length !== 1) return false;
    const v = w.node.outputs[0] as string;
    const readers = g.consumersOf(v);
    const after = readers.length === 1 && FUSED_ACTIVATIONS.has((readers[0] as Node).opType) ? ((readers[0] as Node).outputs[0] as string) : undefined;
    return !covered.has(v) && (after === undefined || !covered.has(after));
  });
}

/**
 * Every planned layer, taken out of the plan to be computed in float32 from int8-stored weights
 * (floatCompute goes by node name: unnamed layers get a fresh one).
 */
function floatComputeAll(g: Graph, plan: QdqPlan): WeightedNode[] {
  const names = new Set(g.nodes.map((n) => n.name));
  const out = plan.weighted.splice(0, plan.weighted.length);
  for (const [i, w] of out.entries()) {
    if (w.node.name !== '') continue;
    let name = `${w.node.opType}_int8_weights_${i}`;
    while (names.has(name)) name += '_';
    names.add(name);
    w.node.name = name;
  }
  return out;
}

/** How much coarser than its own a depthwise channel's step may get under one scale per tensor. */
const DEPTHWISE_SHARED_STEP = 4;

/**
 * Per-channel int8 weight parameters, except one scale for a depthwise Conv whose channels all
 * keep ≥ 1/4 of their own resolution under it (≤ 2 bits lost on the narrowest channel): its
 * per-channel scales (and the Mul computing its bias scales) cost 4 bytes a channel for an
 * op with 9–25 weights a channel.
 */
function depthwiseAwareParams(w: WeightedNode, perChannel: boolean, scheme: QuantScheme = INT8_WEIGHTS): QuantParams {
  const data = w.weight.data as Float32Array;
  const own = weightParams(data, w.weight.dims, scheme, perChannel ? w.channelAxis : undefined);
  const depthwise = w.node.opType === 'Conv' && w.weight.dims[1] === 1 && w.weight.dims[0] !== 1 && getInt(w.node, 'group', 1) > 1;
  if (!perChannel || !depthwise) return own;
  const shared = weightParams(data, w.weight.dims, scheme, undefined);
  const step = shared.scale[0] as number;
  return own.scale.every((s) => step <= DEPTHWISE_SHARED_STEP * s) ? shared : own;
}

/**
 * The QDQ form of a float model, given uint8 parameters for the activation feeding each layer
 * (by the value where it is computed, as `activationGroups` keys them) and int8 parameters for
 * each weight. `extra` nodes (Add, Concat, ...) get their inputs quantized too.
 */
export function buildQdq(
  model: Model,
  activations: ReadonlyMap<string, { scale: number; zeroPoint: number }>,
  weightParamsOf: (w: WeightedNode) => QuantParams,
  keepFloat: ReadonlySet<string> = new Set(),
  extra: readonly QdqConsumer[] = [],
  floatCompute: ReadonlySet<string> = new Set(),
): QuantizeResult {
  const g = model.graph.clone();
  const domain = qdqDomain(model);
  const weighted = weightedNodes(g).filter((w) => !isExcluded(w.node, keepFloat));
  // `extra` names nodes of model.graph; the clone's nodes sit at the same positions.
  const extraHere = extra.map((c) => ({ node: g.nodes[model.graph.nodes.indexOf(c.node)] as Node, inputs: c.inputs }));
  const groups = activationGroups(g, weighted, extraHere, { convOutputs: true });
  const b = new GraphBuilder(g, 'q');
  const actParams = new Map<string, QuantParams>();
  for (const [origin, members] of groups) {
    const p = activations.get(origin);
    if (p === undefined) continue;
    const params: QuantParams = { scale: Float32Array.of(p.scale), zeroPoint: Int32Array.of(p.zeroPoint), axis: undefined, scheme: UINT8_ACTIVATIONS };
    for (const v of members) actParams.set(v, params);
  }
  const pool = new ScalarPool(b);
  const actTensors = (p: QuantParams): [string, string] => [pool.get('float32', p.scale[0] as number, 'as'), pool.get('uint8', p.zeroPoint[0] as number, 'az')];
  const actScaleOf = (v: string): ActScale | undefined => {
    const p = actParams.get(v);
    return p === undefined ? undefined : { name: actTensors(p)[0], value: p.scale[0] as number };
  };
  // Short generated names (w3q, a7s, ...): long ONNX value names repeated in every Q/DQ input cost more bytes than small layers' weights.
  const shared = new Map<string, { deq: string; s: string }>();
  const layers = weighted.map((w, i) => quantizeWeight(g, b, w, weightParamsOf(w), actScaleOf(w.node.inputs[0] as string), domain, `w${i}`, shared));
  for (const [i, w] of weightedNodes(g).entries()) if (floatCompute.has(w.node.name)) layers.push(storeWeightInt8(g, b, w, `f${i}`));

  // Q → DQ right after each activation is produced (or at the start for graph inputs).
  const floatPooled = new Set(
    [...groups]
      .filter(([origin, members]) => !members.includes(origin))
      .flatMap(([, members]) => members)
      .filter((v) => qWouldCrossMaxPool(g, v)),
  );
  let k = 0;
  for (const [value, p] of actParams) {
    const id = `a${k++}`;
    const [s, z] = actTensors(p);
    const qv = b.fresh(`${id}q`);
    const dq = b.fresh(`${id}d`);
    // Max(v, v) = v, an op onnxruntime's QDQ propagation does not pass: the pooling stays in float.
    const barrier: Node[] = floatPooled.has(value)
      ? [{ name: b.fresh(`${id}.barrier`), opType: 'Max', domain: '', inputs: [value, value], outputs: [b.fresh(`${id}f`)], attributes: {} }]
      : [];
    const qInput = barrier[0]?.outputs[0] ?? value;
    const qNode: Node = { name: '', opType: 'QuantizeLinear', domain, inputs: [qInput, s, z], outputs: [qv], attributes: {} };
    const dqNode: Node = { name: '', opType: 'DequantizeLinear', domain, inputs: [qv, s, z], outputs: [dq], attributes: {} };
    // Shape readers take the uint8 value: reading the DequantizeLinear's would make onnxruntime run
    // one (duplicated per reader) just for its shape: 74 DequantizeLinear nodes, 546 µs of a ShuffleNet's 3,200 at batch 1.
    for (const n of g.nodes) n.inputs = n.inputs.map((i) => (i === value ? (SHAPE_READERS.has(n.opType) ? qv : dq) : i));
    const producer = g.producerOf(value);
    g.nodes.splice(producer === undefined ? 0 : g.nodes.indexOf(producer) + 1, 0, ...barrier, qNode, dqNode);
  }
  integerHardSwish(g, pool, domain);
  dropUnusedInitializers(g);
  dropDefaultConvAttributes(g);
  return {
    model: { ...model, graph: g, opsetImports: withMicrosoftDomain(model, g), metadata: { ...model.metadata, 'whittle.quantization': 'qdq-int8' } },
    layers,
  };
}
