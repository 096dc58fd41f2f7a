import type { DType } from '../ir/tensor.js';
import type { OpDef } from './types.js';
import { input } from './util.js';

/** QuantizeLinear: y has the zero point's type (uint8 without one). Not differentiable: QAT uses Round. */
export const quantizeLinear: OpDef = {
  op: 'QuantizeLinear',
  inferShape: ({ node, inputs }) => [{ dtype: inputs[2]?.dtype ?? 'uint8', shape: input(node, inputs, 0).shape }],
};

/** DequantizeLinear: y is float32 with x's shape. */
export const dequantizeLinear: OpDef = {
  op: 'DequantizeLinear',
  inferShape: ({ node, inputs }) => [{ dtype: inputs[1]?.dtype ?? 'float32', shape: input(node, inputs, 0).shape }],
};

/** DynamicQuantizeLinear: uint8 y, float scale, uint8 zero point. */
export const dynamicQuantizeLinear: OpDef = {
  op: 'DynamicQuantizeLinear',
  inferShape: ({ node, inputs }) => [
    { dtype: 'uint8', shape: input(node, inputs, 0).shape },
    { dtype: 'float32', shape: [] },
    { dtype: 'uint8', shape: [] },
  ],
};

/** MatMulInteger: numpy matmul of 8-bit integers with int32 output. */
export const matMulInteger: OpDef = {
  op: 'MatMulInteger',
  inferShape({ node, inputs }) {
    const a = input(node, inputs, 0);
    const b = input(node, inputs, 1);
    return [{ dtype: 'int32' as DType, shape: [...a.shape.slice(0, -1), b.shape[b.shape.length - 1] ?? 'N'] }];
  },
};
