// BatchNormalization (opset 15): inference form (running statistics are inputs) and training
// form (training_mode = 1: batch statistics, plus updated running_mean / running_var outputs).
import { WhittleError } from '../ir/errors.js';
import { attr, getFloat, getInt } from '../ir/graph.js';
import type { GraphBuilder, Node } from '../ir/graph.js';
import type { TypeShape } from '../ir/shape.js';
import { ONNX_DTYPE, Tensor } from '../ir/tensor.js';
import type { OpDef } from './types.js';
import { input, scalar } from './util.js';
import { batchNormChannels } from './channels.js';

/** The axes statistics are taken over: all but the channel axis 1. */
function statAxes(rank: number): number[] {
  return [0, ...Array.from({ length: rank - 2 }, (_, i) => i + 2)];
}

/** A [C] vector shaped [C, 1, …] so it broadcasts against [N, C, spatial…]. */
function perChannel(b: GraphBuilder, v: string, rank: number): string {
  if (rank <= 2) return v;
  return b.op1('Unsqueeze', [v, b.constant(Tensor.int64(Array.from({ length: rank - 2 }, (_, i) => i + 1)), 'axes')]);
}

/** [1, C, 1, …] (a keepdims reduction) back to [C]. */
function toVector(b: GraphBuilder, v: string): string {
  return b.op1('Reshape', [v, b.constant(Tensor.int64([-1]), 'shape')]);
}

/** 1 / (number of elements per channel), a constant when the dims are known, else computed. */
function inverseCount(b: GraphBuilder, x: string, ts: TypeShape): string {
  const dims = statAxes(ts.shape.length).map((a) => ts.shape[a]);
  if (dims.every((d): d is number => typeof d === 'number')) return scalar(b, ts.dtype, 1 / dims.reduce((p, q) => p * q, 1), 'inv_count');
  const count = b.op1('ReduceProd', [b.op1('Gather', [b.op1('Shape', [x]), b.constant(Tensor.int64(statAxes(ts.shape.length)), 'axes')])], {
    keepdims: attr.int(0),
  });
  return b.op1('Div', [scalar(b, ts.dtype, 1, 'one'), b.op1('Cast', [count], { to: attr.int(ONNX_DTYPE[ts.dtype]) })]);
}

function sumOver(b: GraphBuilder, v: string, rank: number, keepdims: boolean): string {
  return b.op1('ReduceSum', [v, b.constant(Tensor.int64(statAxes(rank)), 'axes')], { keepdims: attr.int(keepdims ? 1 : 0) });
}

function isTraining(node: Node): boolean {
  return getInt(node, 'training_mode', 0) !== 0;
}

/**
 * Y = scale·(X − μ)/√(σ² + ε) + B. Inference form: μ, σ² are the mean/var inputs, so Y is
 * affine in X. Training form: μ, σ² are the batch's (biased) statistics and the gradient runs
 * through them: dX = scale/σ·(dY − mean(dY) − x̂·mean(dY·x̂)). The running_mean / running_var
 * outputs (momentum·input + (1 − momentum)·batch statistic) are differentiated too, should
 * they ever reach the loss.
 *
 * Beware (onnxruntime 1.30, CPU): in training form the running outputs share memory with the
 * mean/var inputs, so when they are not graph outputs ORT writes the updated statistics into
 * the buffers fed as mean/var. Make running_mean/running_var graph outputs to keep feeds intact.
 */
export const batchNormalization: OpDef = {
  op: 'BatchNormalization',
  channels: batchNormChannels,
  inferShape({ node, inputs }) {
    const x = input(node, inputs, 0);
    if (x.shape.length < 2) {
      throw new WhittleError('SHAPE_MISMATCH', `BatchNormalization "${node.name}" expects input [N, C, …], got [${x.shape.join(', ')}]`);
    }
    const c = x.shape[1];
    for (let i = 1; i <= 4; i++) {
      const p = input(node, inputs, i);
      if (p.shape.length !== 1 || (typeof p.shape[0] === 'number' && typeof c === 'number' && p.shape[0] !== c)) {
        throw new WhittleError(
          'SHAPE_MISMATCH',
          `BatchNormalization "${node.name}": input ${i} must be [${c}] (one value per channel), got [${p.shape.join(', ')}]`,
        );
      }
    }
    const y: TypeShape = { dtype: x.dtype, shape: [...x.shape] };
    if (!isTraining(node)) return [y];
    if (node.outputs.length !== 3) {
      throw new WhittleError(
        'INVALID_GRAPH',
        `BatchNormalization "${node.name}" has training_mode=1 and ${node.outputs.length} outputs; it needs 3 (Y, running_mean, running_var)`,
      );
    }
    return [y, input(node, inputs, 3), input(node, inputs, 4)];
  },
  gradient({ node, b, dy, inputs, needs }) {
    const x = inputs[0];
    if (x === undefined) return [];
    const [X, scale, , mean, variance] = node.inputs as [string, string, string, string, string];
    const rank = x.shape.length;
    const eps = scalar(b, x.dtype, getFloat(node, 'epsilon', 1e-5), 'epsilon');
    const one = scalar(b, x.dtype, 1, 'one');
    const g = dy[0];
    if (!isTraining(node)) {
      if (g === undefined) return [];
      const invStd = b.op1('Div', [one, b.op1('Sqrt', [b.op1('Add', [variance, eps])])]);
      const gain = b.op1('Mul', [scale, invStd]);
      const dX = needs[0] ? b.op1('Mul', [g, perChannel(b, gain, rank)]) : undefined;
      const dB = needs[2] || needs[3] ? sumOver(b, g, rank, false) : undefined;
      const needCentered = needs[1] || needs[4];
      const dyCentered = needCentered ? sumOver(b, b.op1('Mul', [g, b.op1('Sub', [X, perChannel(b, mean, rank)])]), rank, false) : undefined;
      const dScale = needs[1] && dyCentered ? b.op1('Mul', [dyCentered, invStd]) : undefined;
      const dMean = needs[3] && dB ? b.op1('Neg', [b.op1('Mul', [dB, gain])]) : undefined;
      // d/dσ² of (σ² + ε)^(−1/2) is −½(σ² + ε)^(−3/2).
      const dVar =
        needs[4] && dyCentered
          ? b.op1('Mul', [
              b.op1('Mul', [dyCentered, scale]),
              b.op1('Mul', [scalar(b, x.dtype, -0.5, 'minus_half'), b.op1('Mul', [invStd, b.op1('Mul', [invStd, invStd])])]),
            ])
          : undefined;
      return [dX, dScale, needs[2] ? dB : undefined, dMean, dVar];
    }

    const [dRunningMean, dRunningVar] = [dy[1], dy[2]];
    const momentum = getFloat(node, 'momentum', 0.9);
    const invCount = inverseCount(b, X, x);
    // Batch statistics, recomputed (keepdims: [1, C, 1, …]).
    // ReduceMean takes its axes as an attribute up to opset 17.
    const meanOver = { axes: attr.ints(statAxes(rank)), keepdims: attr.int(1) };
    const batchMean = b.op1('ReduceMean', [X], meanOver);
    const centered = b.op1('Sub', [X, batchMean]);
    const terms: string[] = [];
    let dScale: string | undefined;
    let dB: string | undefined;
    if (g !== undefined) {
      // x̂ = (x − μ)·invStd is never formed: every full-size pass saved is a pass over the
      // activations (ResNet's step is memory-bound outside its convolutions), so the per-channel
      // factors are folded into [1, C, 1, …] vectors: Σ dY·x̂ is invStd·Σ dY·(x − μ).
      // (ReduceSumSquare for σ² measured slower in onnxruntime than this Mul + ReduceMean.)
      const batchVar = b.op1('ReduceMean', [b.op1('Mul', [centered, centered])], meanOver);
      const invStd = b.op1('Div', [one, b.op1('Sqrt', [b.op1('Add', [batchVar, eps])])]);
      const sumDy = sumOver(b, g, rank, true);
      const sumDyXHat = b.op1('Mul', [sumOver(b, b.op1('Mul', [g, centered]), rank, true), invStd]);
      if (needs[2]) dB = toVector(b, sumDy);
      if (needs[1]) dScale = toVector(b, sumDyXHat);
      if (needs[0]) {
        // gain·(dY − mean(dY) − x̂·mean(dY·x̂)) = gain·(dY − mean(dY)) − (x − μ)·(gain·invStd·mean(dY·x̂)).
        const gain = b.op1('Mul', [perChannel(b, scale, rank), invStd]);
        const meanDy = b.op1('Mul', [sumDy, invCount]);
        const slope = b.op1('Mul', [gain, b.op1('Mul', [invStd, b.op1('Mul', [sumDyXHat, invCount])])]);
        terms.push(b.op1('Sub', [b.op1('Mul', [b.op1('Sub', [g, meanDy]), gain]), b.op1('Mul', [centered, slope])]));
      }
    }
    const keep = scalar(b, x.dtype, momentum, 'momentum');
    const blend = scalar(b, x.dtype, 1 - momentum, 'one_minus_momentum');
    if (needs[0] && dRunningMean !== undefined) {
      // running_mean = momentum·mean_in + (1 − momentum)·mean(X): each x adds (1 − momentum)/M.
      terms.push(b.op1('Mul', [perChannel(b, dRunningMean, rank), b.op1('Mul', [blend, invCount])]));
    }
    if (needs[0] && dRunningVar !== undefined) {
      // running_var uses the biased batch variance: d var / dx = 2(x − μ)/M.
      const coef = b.op1('Mul', [scalar(b, x.dtype, 2 * (1 - momentum), 'two_blend'), invCount]);
      terms.push(b.op1('Mul', [b.op1('Mul', [perChannel(b, dRunningVar, rank), centered]), coef]));
    }
    const dX = terms.length === 0 ? undefined : terms.length === 1 ? terms[0] : b.op1('Sum', terms);
    const dMeanIn = needs[3] && dRunningMean !== undefined ? b.op1('Mul', [dRunningMean, keep]) : undefined;
    const dVarIn = needs[4] && dRunningVar !== undefined ? b.op1('Mul', [dRunningVar, keep]) : undefined;
    return [dX, dScale, dB, dMeanIn, dVarIn];
  },
};
