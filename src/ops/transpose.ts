import { attr, getInts } from '../ir/graph.js';
import type { Dim, Node } from '../ir/graph.js';
import { shapeError } from './dims.js';
import type { OpDef } from './types.js';
import { input } from './util.js';
import { transposeChannels } from './channels.js';

function permOf(node: Node, rank: number): number[] {
  const perm = getInts(node, 'perm') ?? Array.from({ length: rank }, (_, i) => rank - 1 - i);
  const sorted = [...perm].sort((p, q) => p - q);
  if (perm.length !== rank || sorted.some((p, i) => p !== i)) {
    throw shapeError(node, `perm [${perm.join(', ')}] is not a permutation of 0..${rank - 1} for an input of rank ${rank}`);
  }
  return perm;
}

/** Output dim i is input dim perm[i]; the gradient transposes dY by the inverse permutation. */
export const transpose: OpDef = {
  op: 'Transpose',
  channels: transposeChannels,
  inferShape({ node, inputs }) {
    const x = input(node, inputs, 0);
    const perm = permOf(node, x.shape.length);
    return [{ dtype: x.dtype, shape: perm.map((p) => x.shape[p] as Dim) }];
  },
  gradient({ node, b, dy, inputs }) {
    const g = dy[0];
    const x = inputs[0];
    if (g === undefined || x === undefined) return [];
    const perm = permOf(node, x.shape.length);
    const inverse: number[] = new Array<number>(perm.length).fill(0);
    perm.forEach((p, i) => {
      inverse[p] = i;
    });
    if (inverse.every((p, i) => p === i)) return [g];
    return [b.op1('Transpose', [g], { perm: attr.ints(inverse) })];
  },
};
