import { WhittleError } from './errors.js';

/**
 * Element types a Tensor holds; names follow numpy / onnxruntime-node. float16 and bfloat16 are
 * kept as their 16-bit patterns. Other ONNX element types (string, complex, float8, 4-bit) are
 * carried through load → save as opaque values (see `Graph.opaqueInitializers`).
 */
export type DType = 'float32' | 'float64' | 'float16' | 'bfloat16' | 'int8' | 'uint8' | 'int16' | 'uint16' | 'int32' | 'uint32' | 'int64' | 'uint64' | 'bool';

export type TensorData =
  | Float32Array
  | Float64Array
  | Uint16Array
  | Int8Array
  | Uint8Array
  | Int16Array
  | Int32Array
  | Uint32Array
  | BigInt64Array
  | BigUint64Array;

/** ONNX TensorProto.DataType codes. */
export const ONNX_DTYPE: Record<DType, number> = {
  float32: 1,
  uint8: 2,
  int8: 3,
  int32: 6,
  int64: 7,
  bool: 9,
  float16: 10,
  float64: 11,
  uint16: 4,
  int16: 5,
  uint32: 12,
  uint64: 13,
  bfloat16: 16,
};

/** ONNX element types by code, for messages about the ones a Tensor cannot hold. */
export const ONNX_TYPE_NAMES: Readonly<Record<number, string>> = {
  1: 'float',
  2: 'uint8',
  3: 'int8',
  4: 'uint16',
  5: 'int16',
  6: 'int32',
  7: 'int64',
  8: 'string',
  9: 'bool',
  10: 'float16',
  11: 'double',
  12: 'uint32',
  13: 'uint64',
  14: 'complex64',
  15: 'complex128',
  16: 'bfloat16',
  17: 'float8e4m3fn',
  18: 'float8e4m3fnuz',
  19: 'float8e5m2',
  20: 'float8e5m2fnuz',
  21: 'uint4',
  22: 'int4',
  23: 'float4e2m1',
};

/** Whether a Tensor can hold ONNX element type `code`. */
export function isHoldable(code: number): boolean {
  return Object.values(ONNX_DTYPE).includes(code);
}

export function dtypeFromOnnx(code: number): DType {
  for (const [k, v] of Object.entries(ONNX_DTYPE)) if (v === code) return k as DType;
  throw new WhittleError(
    'BAD_ONNX',
    `ONNX tensor element type ${ONNX_TYPE_NAMES[code] ?? code} has no Whittle Tensor form; Whittle computes with float32/64/16, bfloat16, (u)int8/16/32/64 and bool`,
  );
}

export function bytesPerElement(dtype: DType): number {
  switch (dtype) {
    case 'float64':
    case 'int64':
    case 'uint64':
      return 8;
    case 'float32':
    case 'int32':
    case 'uint32':
      return 4;
    case 'float16':
    case 'bfloat16':
    case 'int16':
    case 'uint16':
      return 2;
    default:
      return 1;
  }
}

export function allocate(dtype: DType, size: number): TensorData {
  switch (dtype) {
    case 'float32':
      return new Float32Array(size);
    case 'float64':
      return new Float64Array(size);
    case 'float16':
    case 'bfloat16':
    case 'uint16':
      return new Uint16Array(size);
    case 'int16':
      return new Int16Array(size);
    case 'uint32':
      return new Uint32Array(size);
    case 'uint64':
      return new BigUint64Array(size);
    case 'int8':
      return new Int8Array(size);
    case 'uint8':
    case 'bool':
      return new Uint8Array(size);
    case 'int32':
      return new Int32Array(size);
    case 'int64':
      return new BigInt64Array(size);
  }
}

export function sizeOf(dims: readonly number[]): number {
  let n = 1;
  for (const d of dims) n *= d;
  return n;
}

/**
 * A dense tensor: element type, dimensions and a typed array in row-major order.
 *
 * ```ts
 * const w = Tensor.fromArray('float32', [2, 2], [1, 2, 3, 4]);
 * ```
 */
export class Tensor {
  readonly dtype: DType;
  readonly dims: readonly number[];
  readonly data: TensorData;

  constructor(dtype: DType, dims: readonly number[], data?: TensorData) {
    const size = sizeOf(dims);
    const d = data ?? allocate(dtype, size);
    if (d.length !== size) {
      throw new WhittleError('SHAPE_MISMATCH', `tensor of shape [${dims.join(', ')}] needs ${size} elements, got ${d.length}`);
    }
    this.dtype = dtype;
    this.dims = [...dims];
    this.data = d;
  }

  get size(): number {
    return this.data.length;
  }

  static fromArray(dtype: DType, dims: readonly number[], values: ArrayLike<number> | readonly bigint[]): Tensor {
    const data = allocate(dtype, values.length);
    if (data instanceof BigInt64Array || data instanceof BigUint64Array) {
      for (let i = 0; i < values.length; i++) data[i] = BigInt(values[i] as number | bigint);
    } else {
      for (let i = 0; i < values.length; i++) data[i] = Number(values[i]);
    }
    return new Tensor(dtype, dims, data);
  }

  static scalar(dtype: DType, value: number): Tensor {
    return Tensor.fromArray(dtype, [], [value]);
  }

  /** 1-D int64 tensor, the form ONNX wants for shapes and axes. */
  static int64(values: readonly number[]): Tensor {
    return Tensor.fromArray('int64', [values.length], values);
  }

  /** Values as plain numbers (int64 converted; fine for shapes and small ints). */
  toNumbers(): number[] {
    return Array.from(this.data as ArrayLike<number | bigint>, (v) => Number(v));
  }

  clone(): Tensor {
    return new Tensor(this.dtype, this.dims, this.data.slice());
  }
}
