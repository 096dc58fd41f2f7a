import { WhittleError } from '../ir/errors.js';
import { attr } from '../ir/graph.js';
import type { Dim } from '../ir/graph.js';
import { Tensor } from '../ir/tensor.js';
import { tileChannels } from './channels.js';
import { constantInts, shapeError, unknownDim } from './dims.js';
import type { OpDef } from './types.js';
import { input } from './util.js';

/**
 * Tile(X, repeats): Y's axis i holds repeats[i] copies of X's axis i. dX: dY viewed as
 * [r₀, d₀, r₁, d₁, …] summed over the r axes.
 */
export const tile: OpDef = {
  op: 'Tile',
  channels: tileChannels,
  inferShape({ node, inputs, constant }) {
    const x = input(node, inputs, 0);
    const reps = constantInts(node, constant, 1);
    if (reps === undefined) return [{ dtype: x.dtype, shape: x.shape.map((_, i) => unknownDim(node, i)) }];
    if (reps.length !== x.shape.length) throw shapeError(node, `repeats [${reps.join(', ')}] must have one entry per input axis (${x.shape.length})`);
    return [{ dtype: x.dtype, shape: x.shape.map((d, i): Dim => (typeof d === 'number' ? d * (reps[i] as number) : reps[i] === 1 ? d : unknownDim(node, i))) }];
  },
  gradient({ node, b, dy, inputs, constant }) {
    const g = dy[0];
    const x = inputs[0];
    if (g === undefined || x === undefined) return [];
    const reps = constant(1)?.toNumbers();
    if (reps === undefined)
      throw new WhittleError('NO_GRADIENT', `Tile "${node.name}" takes its repeats from a computed value; its gradient needs them constant`);
    const rank = x.shape.length;
    const xShape = b.op1('Shape', [node.inputs[0] as string]);
    const parts: string[] = [];
    for (let i = 0; i < rank; i++) {
      parts.push(b.constant(Tensor.int64([reps[i] as number]), 'repeat'));
      parts.push(b.op1('Slice', [xShape, b.constant(Tensor.int64([i]), 'start'), b.constant(Tensor.int64([i + 1]), 'end')]));
    }
    const view = b.op1('Reshape', [g, b.op1('Concat', parts, { axis: attr.int(0) })]);
    const axes = Array.from({ length: rank }, (_, i) => 2 * i);
    return [b.op1('ReduceSum', [view, b.constant(Tensor.int64(axes), 'axes')], { keepdims: attr.int(0) })];
  },
};
