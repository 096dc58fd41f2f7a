// Every op Whittle knows, in one explicit map. Adding an op: write src/ops/<op>.ts exporting an
// OpDef, list it here, and test its gradient against finite differences beside it.
import type { ShapeRule } from '../ir/shape.js';
import { add } from './add.js';
import { gemm } from './gemm.js';
import { identity } from './identity.js';
import { mul } from './mul.js';
import { reduceMean, reduceSum } from './reduce.js';
import { relu } from './relu.js';
import { softmaxCrossEntropyLoss } from './softmax-cross-entropy.js';
import { sum } from './sum.js';
import { max } from './max.js';
// Tensor math, data movement and the shape-only ops of exported models and gradient graphs.
import { argMax, argMin } from './argmax.js';
import { cast } from './cast.js';
import { clip } from './clip.js';
import { equal, greater, greaterOrEqual, less, lessOrEqual } from './compare.js';
import { concat } from './concat.js';
import { constant } from './constant.js';
import { constantOfShape } from './constant-of-shape.js';
import { div } from './div.js';
import { exp } from './exp.js';
import { expand } from './expand.js';
import { flatten } from './flatten.js';
import { floor } from './floor.js';
import { gather } from './gather.js';
import { gatherElements } from './gather-elements.js';
import { gru } from './gru.js';
import { leakyRelu } from './leaky-relu.js';
import { log } from './log.js';
import { lstm } from './lstm.js';
import { and, not, or } from './logical.js';
import { matmul } from './matmul.js';
import { mod } from './mod.js';
import { neg } from './neg.js';
import { oneHot } from './one-hot.js';
import { pad } from './pad.js';
import { pow } from './pow.js';
import { range } from './range.js';
import { reduceMax, reduceMin, reduceProd } from './reduce-extra.js';
import { reshape } from './reshape.js';
import { scatterElements } from './scatter-elements.js';
import { scatterND } from './scatter-nd.js';
import { shape, size } from './shape.js';
import { sigmoid } from './sigmoid.js';
import { slice } from './slice.js';
import { logSoftmax, softmax } from './softmax.js';
import { split } from './split.js';
import { sqrt } from './sqrt.js';
import { squeeze } from './squeeze.js';
import { sub } from './sub.js';
import { tanh } from './tanh.js';
import { transpose } from './transpose.js';
import { unsqueeze } from './unsqueeze.js';
import { where } from './where.js';
// Activations, normalizations and tensor ops of MobileNets, ResNets and Transformers.
import { einsum } from './einsum.js';
import { elu } from './elu.js';
import { erf } from './erf.js';
import { gelu } from './gelu.js';
import { groupNormalization } from './group-norm.js';
import { hardSigmoid } from './hard-sigmoid.js';
import { hardSwish } from './hard-swish.js';
import { instanceNormalization } from './instance-norm.js';
import { layerNormalization } from './layer-norm.js';
import { prelu } from './prelu.js';
import { selu } from './selu.js';
import { softplus } from './softplus.js';
import { tile } from './tile.js';
// Convolution, pooling, normalization, dropout.
import { conv } from './conv.js';
import { convTranspose } from './conv-transpose.js';
import { averagePool, globalAveragePool } from './average-pool.js';
import { batchNormalization } from './batch-norm.js';
import { dropout } from './dropout.js';
import { maxPool } from './max-pool.js';
import { maxUnpool } from './max-unpool.js';
import { resize } from './resize.js';
import { upsample } from './upsample.js';
// Quantization: STE rounding/sign for fake-quant training, QDQ and integer ops of exported models.
import { abs } from './abs.js';
import { bitShift } from './bit-shift.js';
import { dequantizeLinear, dynamicQuantizeLinear, matMulInteger, quantizeLinear } from './quantize-linear.js';
import { matMulNBits } from './matmul-nbits.js';
import { round } from './round.js';
import { sign } from './sign.js';
import type { ChannelRule, OpDef } from './types.js';

const ALL: OpDef[] = [
  add,
  gemm,
  identity,
  mul,
  reduceMean,
  reduceSum,
  relu,
  softmaxCrossEntropyLoss,
  sum,
  // tensor math, data movement, shape-only
  and,
  argMax,
  argMin,
  cast,
  clip,
  concat,
  constant,
  constantOfShape,
  div,
  equal,
  exp,
  expand,
  flatten,
  floor,
  gather,
  gatherElements,
  greater,
  gru,
  greaterOrEqual,
  leakyRelu,
  less,
  lessOrEqual,
  log,
  logSoftmax,
  lstm,
  matmul,
  max,
  mod,
  neg,
  not,
  oneHot,
  or,
  pad,
  pow,
  range,
  reduceMax,
  reduceMin,
  reduceProd,
  reshape,
  scatterElements,
  scatterND,
  shape,
  sigmoid,
  size,
  slice,
  softmax,
  split,
  sqrt,
  squeeze,
  sub,
  tanh,
  transpose,
  unsqueeze,
  where,
  // activations, normalizations and tensor ops of MobileNets, ResNets and Transformers
  einsum,
  elu,
  erf,
  gelu,
  groupNormalization,
  hardSigmoid,
  hardSwish,
  instanceNormalization,
  layerNormalization,
  prelu,
  selu,
  softplus,
  tile,
  // convolution, pooling, normalization, dropout
  averagePool,
  batchNormalization,
  conv,
  convTranspose,
  dropout,
  globalAveragePool,
  maxPool,
  maxUnpool,
  resize,
  upsample,
  // quantization
  abs,
  bitShift,
  dequantizeLinear,
  dynamicQuantizeLinear,
  matMulInteger,
  quantizeLinear,
  round,
  sign,
  // onnxruntime contrib ops that Whittle's exports use (inference only)
  matMulNBits,
];

export const OPS: ReadonlyMap<string, OpDef> = new Map(ALL.map((d) => [d.op, d]));
export const SHAPE_RULES: ReadonlyMap<string, ShapeRule> = new Map(ALL.map((d) => [d.op, d.inferShape]));
/** The ops that declare how they move channels (structured pruning's dependency tracing). */
export const CHANNEL_RULES: ReadonlyMap<string, ChannelRule> = new Map(ALL.flatMap((d) => (d.channels !== undefined ? [[d.op, d.channels] as const] : [])));
export type { ChannelContext, ChannelLayout, ChannelRole, ChannelRule, ChannelSegment, OpDef, GradientContext, GradientRule } from './types.js';
