// NumPy's .npy format (NEP 1): a magic string, a version, a Python-dict header and the raw array
// bytes. Whittle reads and writes little-endian, C-order arrays of the dtypes ONNX models take.
import { readFileSync } from 'node:fs';
import { WhittleError } from '../ir/errors.js';
import { checkedSize } from '../ir/limits.js';
import type { DType, TensorData } from '../ir/tensor.js';
import { allocate, bytesPerElement, sizeOf } from '../ir/tensor.js';

/** An n-dimensional array as a .npy file holds it. */
export interface NpyArray {
  dtype: DType;
  /** Full shape, e.g. [N, 3, 224, 224]; [] for a scalar. */
  dims: number[];
  data: TensorData;
}

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY

// NumPy's type strings without the byte-order character.
const DESCR: Record<string, DType> = {
  f4: 'float32',
  f8: 'float64',
  f2: 'float16',
  i8: 'int64',
  i4: 'int32',
  i1: 'int8',
  u1: 'uint8',
  b1: 'bool',
};

// The Tensor types .npy reading does not take yet are written all the same (numpy has no bfloat16).
const DESCR_OF: Record<Exclude<DType, 'bfloat16'>, string> = {
  int16: '<i2',
  uint16: '<u2',
  uint32: '<u4',
  uint64: '<u8',
  float32: '<f4',
  float64: '<f8',
  float16: '<f2',
  int64: '<i8',
  int32: '<i4',
  int8: '|i1',
  uint8: '|u1',
  bool: '|b1',
};

function field(header: string, key: string, source: string): string {
  // The header is a Python dict literal such as {'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }.
  const m = new RegExp(`['"]${key}['"]\\s*:\\s*('[^']*'|"[^"]*"|True|False|\\([^)]*\\))`).exec(header);
  if (m?.[1] === undefined)
    throw new WhittleError('BAD_DATA', `${source}: the .npy header has no '${key}' (header: ${header.trim()}); is this a NumPy .npy file?`);
  return m[1];
}

/**
 * Decodes a .npy file's bytes (format versions 1.0, 2.0 and 3.0).
 *
 * ```ts
 * const { dtype, dims, data } = decodeNpy(readFileSync('x.npy')); // 'float32', [4, 1, 28, 28], Float32Array
 * ```
 */
export function decodeNpy(bytes: Uint8Array, source = '.npy'): NpyArray {
  if (bytes.length < 10 || MAGIC.some((b, i) => bytes[i] !== b)) {
    throw new WhittleError('BAD_DATA', `${source} is not a NumPy .npy file (no \\x93NUMPY magic); save arrays with numpy.save`);
  }
  const major = bytes[6] as number;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let headerLen: number;
  let start: number;
  if (major === 1) {
    headerLen = view.getUint16(8, true);
    start = 10;
  } else if (major === 2 || major === 3) {
    if (bytes.length < 12) throw new WhittleError('BAD_DATA', `${source}: truncated .npy header`);
    headerLen = view.getUint32(8, true);
    start = 12;
  } else {
    throw new WhittleError('BAD_DATA', `${source}: .npy format version ${major}.${bytes[7]} is not supported (1.0, 2.0 and 3.0 are); save with numpy.save`);
  }
  if (start + headerLen > bytes.length)
    throw new WhittleError('BAD_DATA', `${source}: truncated .npy header (${headerLen} bytes announced, ${bytes.length - start} present)`);
  const header = new TextDecoder(major === 3 ? 'utf-8' : 'latin1').decode(bytes.subarray(start, start + headerLen));
  const descr = field(header, 'descr', source).slice(1, -1);
  if (field(header, 'fortran_order', source) === 'True') {
    throw new WhittleError('BAD_DATA', `${source} is in Fortran order; Whittle reads C-order arrays: save numpy.ascontiguousarray(x) instead`);
  }
  const order = descr[0];
  const dtype = DESCR[descr.slice(1)];
  if (dtype === undefined || order === undefined || !['<', '|', '='].includes(order)) {
    throw new WhittleError(
      'BAD_DATA',
      `${source} has dtype '${descr}'; Whittle reads little-endian float32, float64, float16, int64, int32, int8, uint8 and bool: convert with x.astype('<f4') (or the type the model takes)`,
    );
  }
  if (order !== '<' && bytesPerElement(dtype) > 1 && order !== '=') {
    throw new WhittleError('BAD_DATA', `${source} has dtype '${descr}'; multi-byte values must be little-endian: convert with x.astype('<${descr.slice(1)}')`);
  }
  const shapeText = field(header, 'shape', source).slice(1, -1).trim();
  const dims =
    shapeText === ''
      ? []
      : shapeText
          .split(',')
          .map((s) => s.trim())
          .filter((s) => s !== '')
          .map(Number);
  if (dims.some((d) => !Number.isInteger(d) || d < 0)) throw new WhittleError('BAD_DATA', `${source}: bad shape (${shapeText}) in the .npy header`);
  const size = checkedSize(dims, bytesPerElement(dtype), 'the array', source, 'BAD_DATA');
  const byteLen = size * bytesPerElement(dtype);
  const offset = start + headerLen;
  if (bytes.length - offset < byteLen) {
    throw new WhittleError(
      'BAD_DATA',
      `${source}: shape [${dims.join(', ')}] of ${dtype} needs ${byteLen} data bytes, the file has ${bytes.length - offset}; the file is truncated`,
    );
  }
  const data = allocate(dtype, size);
  // Copied, not viewed: the data's offset in a file buffer need not be aligned for the typed array.
  new Uint8Array(data.buffer, data.byteOffset, byteLen).set(bytes.subarray(offset, offset + byteLen));
  return { dtype, dims, data };
}

/**
 * Encodes an array as a .npy file (version 1.0 unless the header needs 2.0, or `version` says).
 *
 * ```ts
 * writeFileSync('x.npy', encodeNpy({ dtype: 'float32', dims: [2, 2], data: Float32Array.of(1, 2, 3, 4) }));
 * ```
 */
export function encodeNpy(array: NpyArray, options: { version?: 1 | 2 } = {}): Uint8Array {
  const { dtype, dims, data } = array;
  const size = sizeOf(dims);
  if (data.length !== size) throw new WhittleError('BAD_ARGUMENT', `encodeNpy: shape [${dims.join(', ')}] holds ${size} values, data has ${data.length}`);
  if (dtype === 'bfloat16') throw new WhittleError('BAD_ARGUMENT', 'encodeNpy: numpy has no bfloat16; convert the array to float32 first');
  const shape = dims.length === 1 ? `(${dims[0]},)` : `(${dims.join(', ')})`;
  const dict = `{'descr': '${DESCR_OF[dtype]}', 'fortran_order': False, 'shape': ${shape}, }`;
  let version = options.version ?? 1;
  // The whole preamble (magic, version, length, header) is padded with spaces to a multiple of 64, ending in '\n'.
  const pad = (prefix: number): number => (64 - ((prefix + dict.length + 1) % 64)) % 64;
  if (version === 1 && 10 + dict.length + 1 + pad(10) > 0xffff + 10) version = 2;
  const prefix = version === 1 ? 10 : 12;
  const headerLen = dict.length + pad(prefix) + 1;
  const byteLen = size * bytesPerElement(dtype);
  const out = new Uint8Array(prefix + headerLen + byteLen);
  out.set(MAGIC);
  out[6] = version;
  out[7] = 0;
  const view = new DataView(out.buffer);
  if (version === 1) view.setUint16(8, headerLen, true);
  else view.setUint32(8, headerLen, true);
  out.set(new TextEncoder().encode(dict + ' '.repeat(pad(prefix)) + '\n'), prefix);
  out.set(new Uint8Array(data.buffer, data.byteOffset, byteLen), prefix + headerLen);
  return out;
}

/**
 * Reads a .npy file.
 *
 * ```ts
 * const x = readNpy('inputs/x.npy');
 * ```
 */
export function readNpy(path: string): NpyArray {
  return decodeNpy(readFileSync(path), path);
}
