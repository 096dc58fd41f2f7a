import { attr } from '../ir/graph.js';
import { Tensor } from '../ir/tensor.js';
import { recurrentPieces, recurrentShape, sigmoidSlope, splitSteps, sumOf, tanhSlope, concat, weightGrads } from './recurrent.js';
import type { DirectionGrads } from './recurrent.js';
import type { OpDef } from './types.js';
import { scalar } from './util.js';

/**
 * LSTM (gates i, o, f, c in ONNX's order): i, o, f = σ(X·Wᵀ + H₋₁·Rᵀ + Wb + Rb), g = tanh(…),
 * C = f·C₋₁ + i·g, H = o·tanh(C). Forward and reverse directions, bidirectional, layout 0 and 1,
 * initial states; no sequence_lens, peepholes or clipping in the gradient.
 *
 * Gradient, per step backwards: dH = dY + dHₙₑₓₜ, dC = dCₙₑₓₜ·fₙₑₓₜ + dH·o·(1 − tanh²C), and the
 * pre-activation gradient [dC·g·σ'(i), dH·tanh C·σ'(o), dC·C₋₁·σ'(f), dC·i·(1 − g²)], whose
 * coefficients are computed for all steps at once; dH flows back as that times R.
 */
export const lstm: OpDef = {
  op: 'LSTM',
  inferShape: recurrentShape(4),
  gradient(ctx) {
    if (ctx.dy.every((d) => d === undefined)) return [];
    const { b } = ctx;
    const p = recurrentPieces(ctx, 4, ['Sigmoid', 'Tanh', 'Tanh']);
    const { T, hidden } = p;
    const one = scalar(b, p.dtype, 1, 'one');
    const shape3 = b.constant(Tensor.int64([T, -1, 4 * hidden]), 'gshape');
    const grads = p.dirs.map((d): DirectionGrads => {
      // Gate pre-activations of every step at once, from the hidden states ORT returned.
      const bias = d.Wb !== undefined && d.Rb !== undefined ? b.op1('Add', [d.Wb, d.Rb]) : undefined;
      const xw = b.op1('Gemm', bias !== undefined ? [d.X2d, d.W, bias] : [d.X2d, d.W], { transB: attr.int(1) });
      const pre = b.op1('Reshape', [b.op1('Gemm', [d.Hprev2d, d.R, xw], { transB: attr.int(1) }), shape3]);
      const [pi, po, pf, pc] = b.op('Split', [pre], { axis: attr.int(2) }, 4) as [string, string, string, string];
      const i = b.op1('Sigmoid', [pi]);
      const o = b.op1('Sigmoid', [po]);
      const f = b.op1('Sigmoid', [pf]);
      const g = b.op1('Tanh', [pc]);
      // The cell states: the one recurrence the forward must replay (elementwise, cheap).
      const fs = splitSteps(b, f, T);
      const igs = splitSteps(b, b.op1('Mul', [i, g]), T);
      const C: string[] = new Array(T);
      const Cprev: string[] = new Array(T);
      let prev = d.c0 as string;
      for (const t of d.order) {
        Cprev[t] = prev;
        prev = b.op1('Add', [b.op1('Mul', [fs[t] as string, prev]), igs[t] as string]);
        C[t] = prev;
      }
      const tC = b.op1('Tanh', [concat(b, C, 0)]);
      const A = b.op1('Mul', [o, tanhSlope(b, one, tC)]);
      const K = b.op1(
        'Concat',
        [
          b.op1('Mul', [g, sigmoidSlope(b, one, i)]),
          b.op1('Mul', [tC, sigmoidSlope(b, one, o)]),
          b.op1('Mul', [concat(b, Cprev, 0), sigmoidSlope(b, one, f)]),
          b.op1('Mul', [i, tanhSlope(b, one, g)]),
        ],
        { axis: attr.int(2) },
      );
      const Ks = splitSteps(b, K, T);
      const As = splitSteps(b, A, T);

      const dPre: string[] = new Array(T);
      let dHrec: string | undefined;
      let dCnext: string | undefined;
      for (let k = T - 1; k >= 0; k--) {
        const t = d.order[k] as number;
        const last = k === T - 1;
        const dH = sumOf(b, [d.dY[t], last ? d.dYh : undefined, dHrec]) ?? p.zeros();
        const carried = last ? d.dYc : b.op1('Mul', [dCnext as string, fs[d.order[k + 1] as number] as string]);
        const dC = sumOf(b, [carried, b.op1('Mul', [dH, As[t] as string])]) as string;
        dPre[t] = b.op1('Mul', [b.op1('Concat', [dC, dH, dC, dC], { axis: attr.int(2) }), Ks[t] as string]);
        // dH of the step before; after the first step it is dLoss/dinitial_h.
        if (k > 0 || ctx.needs[5]) dHrec = b.op1('MatMul', [dPre[t] as string, d.R]);
        dCnext = dC;
      }
      const dGates = b.op1('Reshape', [concat(b, dPre, 0), b.constant(Tensor.int64([-1, 4 * hidden]), 'rows')]);
      const { dW, dR, dB } = weightGrads(b, dGates, d.X2d, d.Hprev2d, d.Wb !== undefined);
      return {
        dX: ctx.needs[0] ? b.op1('Gemm', [dGates, d.W]) : undefined,
        dW,
        dR: dR as string,
        dB,
        dh0: dHrec,
        dc0: ctx.needs[6] ? b.op1('Mul', [dCnext as string, fs[d.order[0] as number] as string]) : undefined,
      };
    });
    return p.finish(grads);
  },
};
