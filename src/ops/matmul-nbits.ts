import { getInt } from '../ir/graph.js';
import type { Dim } from '../ir/graph.js';
import { formatShape, shapeError } from './dims.js';
import type { OpDef } from './types.js';
import { input } from './util.js';

/**
 * onnxruntime's MatMulNBits (domain com.microsoft), the form `whittle quantize --format int4`
 * writes: A [..., K] times a [K, N] weight stored as `bits`-bit blocks along K (B: uint8
 * [N, ceil(K / block_size), block_size · bits / 8], with per-block scales and zero points) →
 * [..., N]. Supported for inference, shape inference and statistics; it has no gradient (train the
 * float model, then export).
 */
export const matMulNBits: OpDef = {
  op: 'com.microsoft:MatMulNBits',
  inferShape({ node, inputs }) {
    const a = input(node, inputs, 0);
    const k = getInt(node, 'K', 0);
    const n = getInt(node, 'N', 0);
    if (k <= 0 || n <= 0) throw shapeError(node, `attributes K and N must be positive, got K=${k}, N=${n}`);
    const last = a.shape[a.shape.length - 1] as Dim | undefined;
    if (last === undefined || (typeof last === 'number' && last !== k)) throw shapeError(node, `input A ${formatShape(a.shape)} must end in K=${k}`);
    return [{ dtype: a.dtype, shape: [...a.shape.slice(0, -1), n] }];
  },
};
