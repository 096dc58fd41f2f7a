// Deployment forms of a model that onnxruntime loads unchanged: fp16 (weights or compute), 4-bit MatMulNBits,
// packed 1-/2-bit weights. (QDQ int8 and dynamic int8 come from compress/quantize.)
export { type Fp16Options, FP16_DEFAULT_BLOCK, exportFp16, fromFloat16Bits, toFloat16Bits } from './fp16.js';
export { type Int4Blocks, type Int4Options, exportInt4, quantizeInt4Blocks } from './int4.js';
export { type PackedWeight, addPackedWeight, packCodes, unpackCodes } from './packed.js';
