import { WhittleError } from '../ir/errors.js';
import { attr, getFloat, getInt } from '../ir/graph.js';
import type { Attribute } from '../ir/graph.js';
import { reduceToShape } from './broadcast.js';
import type { OpDef } from './types.js';
import { expectRank, input, scalar } from './util.js';
import { layerChannels } from './channels.js';

/** Y = alpha·A'·B' + beta·C, A' = transA ? Aᵀ : A. */
export const gemm: OpDef = {
  op: 'Gemm',
  channels: layerChannels,
  inferShape({ node, inputs }) {
    const a = input(node, inputs, 0);
    const b = input(node, inputs, 1);
    expectRank(node, a, 2, 'did you forget a Flatten?');
    expectRank(node, b, 2);
    const ta = getInt(node, 'transA', 0);
    const tb = getInt(node, 'transB', 0);
    const [m, k1] = ta ? [a.shape[1], a.shape[0]] : [a.shape[0], a.shape[1]];
    const [k2, n] = tb ? [b.shape[1], b.shape[0]] : [b.shape[0], b.shape[1]];
    if (typeof k1 === 'number' && typeof k2 === 'number' && k1 !== k2) {
      throw new WhittleError(
        'SHAPE_MISMATCH',
        `Gemm "${node.name}": inner dimensions differ (${k1} vs ${k2}); input is [${a.shape.join(', ')}], weight is [${b.shape.join(', ')}]`,
      );
    }
    return [{ dtype: a.dtype, shape: [m ?? 'M', n ?? 'N'] }];
  },
  gradient({ node, b, dy, inputs, outputs, needs }) {
    const g = dy[0];
    if (g === undefined) return [];
    const [A, B, C] = node.inputs as [string, string, string | undefined];
    const ta = getInt(node, 'transA', 0);
    const tb = getInt(node, 'transB', 0);
    const alpha = getFloat(node, 'alpha', 1);
    const beta = getFloat(node, 'beta', 1);
    const gemm2 = (x: string, y: string, tx: number, ty: number): string => {
      const at: Record<string, Attribute> = {};
      if (tx) at['transA'] = attr.int(1);
      if (ty) at['transB'] = attr.int(1);
      if (alpha !== 1) at['alpha'] = attr.float(alpha);
      return b.op1('Gemm', [x, y], at);
    };
    let dA: string | undefined;
    let dB: string | undefined;
    if (needs[0]) dA = ta ? (tb ? gemm2(B, g, 1, 1) : gemm2(B, g, 0, 1)) : tb ? gemm2(g, B, 0, 0) : gemm2(g, B, 0, 1);
    if (needs[1]) dB = tb ? (ta ? gemm2(g, A, 1, 1) : gemm2(g, A, 1, 0)) : ta ? gemm2(A, g, 0, 0) : gemm2(A, g, 1, 0);
    let dC: string | undefined;
    const cInfo = inputs[2];
    const yInfo = outputs[0];
    if (needs[2] && C !== undefined && cInfo !== undefined && yInfo !== undefined) {
      const scaled = beta === 1 ? g : b.op1('Mul', [g, scalar(b, yInfo.dtype, beta, 'beta')]);
      dC = reduceToShape(b, scaled, yInfo.shape, cInfo.shape);
    }
    return [dA, dB, dC];
  },
};
