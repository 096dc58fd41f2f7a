import { attr } from '../ir/graph.js';
import type { Dim } from '../ir/graph.js';
import { Tensor } from '../ir/tensor.js';
import type { DirectionGrads } from './recurrent.js';
import { emitScan, recurrentPieces, recurrentShape, sigmoidSlope, tanhSlope, weightGrads } from './recurrent.js';
import type { OpDef } from './types.js';
import { scalar } from './util.js';
import { recurrentChannels } from './channels.js';

/**
 * LSTM (gates i, o, f, c in ONNX's order): i, o, f = σ(X·Wᵀ + H₋₁·Rᵀ + Wb + Rb), g = tanh(…),
 * C = f·C₋₁ + i·g, H = o·tanh(C). Forward and reverse directions, bidirectional, initial states;
 * no sequence_lens, peepholes or clipping in the gradient.
 *
 * Gradient, per step backwards (a Scan): dH = dY + dHₙₑₓₜ, dC = dCₙₑₓₜ·fₙₑₓₜ + dH·o·(1 − tanh²C),
 * and the pre-activation gradient [dC·g·σ'(i), dH·tanh C·σ'(o), dC·C₋₁·σ'(f), dC·i·(1 − g²)],
 * whose coefficients are computed for all steps at once; dH flows back as that times R.
 */
export const lstm: OpDef = {
  op: 'LSTM',
  channels: recurrentChannels,
  inferShape: recurrentShape(4),
  gradient(ctx) {
    if (ctx.dy.every((d) => d === undefined)) return [];
    const { b } = ctx;
    const p = recurrentPieces(ctx, 4, ['Sigmoid', 'Tanh', 'Tanh']);
    const H = p.hidden;
    const { dtype } = p;
    const one = scalar(b, dtype, 1, 'one');
    const state: Dim[] = ['batch', H];
    const gates: Dim[] = ['batch', 4 * H];
    const axis0 = b.constant(Tensor.int64([0]), 'axis0');
    const grads = p.dirs.map((d): DirectionGrads => {
      // Gate pre-activations of every step at once, from the hidden states ORT returned.
      const bias = d.Wb !== undefined && d.Rb !== undefined ? b.op1('Add', [d.Wb, d.Rb]) : undefined;
      const xw = b.op1('Gemm', bias !== undefined ? [d.X2d, d.W, bias] : [d.X2d, d.W], { transB: attr.int(1) });
      const pre = p.steps(b.op1('Gemm', [d.Hprev2d, d.R, xw], { transB: attr.int(1) }), 4 * H);
      const [pi, po, pf, pc] = b.op('Split', [pre], { axis: attr.int(2) }, 4) as [string, string, string, string];
      const i = b.op1('Sigmoid', [pi]);
      const o = b.op1('Sigmoid', [po]);
      const f = b.op1('Sigmoid', [pf]);
      const g = b.op1('Tanh', [pc]);
      // The cell states: the one recurrence the forward must replay (elementwise, cheap).
      const c0 = d.c0 as string;
      const cells = emitScan(b, {
        dtype,
        states: [{ init: c0, shape: state }],
        scans: [
          { value: f, shape: state },
          { value: b.op1('Mul', [i, g]), shape: state },
        ],
        reverse: d.reverse,
        body: (bb, [c], [ft, igt]) => {
          const next = bb.op1('Add', [bb.op1('Mul', [ft as string, c as string]), igt as string]);
          return { next: [next], ys: [{ name: next, shape: state }] };
        },
      });
      const C = cells.ys[0] as string;
      const first = b.op1('Unsqueeze', [c0, axis0]);
      const slice = (start: number, end: number): string =>
        b.op1('Slice', [C, b.constant(Tensor.int64([start]), 'start'), b.constant(Tensor.int64([end]), 'end'), axis0]);
      const Cprev = d.reverse
        ? b.op1('Concat', [slice(1, 2 ** 53), first], { axis: attr.int(0) })
        : b.op1('Concat', [first, slice(0, -1)], { axis: attr.int(0) });
      const tC = b.op1('Tanh', [C]);
      const A = b.op1('Mul', [o, tanhSlope(b, one, tC)]);
      const K = b.op1(
        'Concat',
        [
          b.op1('Mul', [g, sigmoidSlope(b, one, i)]),
          b.op1('Mul', [tC, sigmoidSlope(b, one, o)]),
          b.op1('Mul', [Cprev, sigmoidSlope(b, one, f)]),
          b.op1('Mul', [i, tanhSlope(b, one, g)]),
        ],
        { axis: attr.int(2) },
      );

      // Backwards through time: dH and the cell-state gradient carried, R carried unchanged.
      const back = emitScan(b, {
        dtype,
        states: [
          { init: d.dYh ?? p.zeros(), shape: state },
          { init: d.dYc ?? p.zeros(), shape: state },
          { init: d.R, shape: [4 * H, H] },
        ],
        scans: [
          d.dY !== undefined ? { value: d.dY, shape: state } : undefined,
          { value: A, shape: state },
          { value: K, shape: gates },
          { value: f, shape: state },
        ],
        reverse: !d.reverse,
        body: (bb, [dHnext, carry, R], [dYt, At, Kt, ft]) => {
          const dH = dYt !== undefined ? bb.op1('Add', [dYt, dHnext as string]) : (dHnext as string);
          const dC = bb.op1('Add', [carry as string, bb.op1('Mul', [dH, At as string])]);
          const dPre = bb.op1('Mul', [bb.op1('Concat', [dC, dH, dC, dC], { axis: attr.int(-1) }), Kt as string]);
          return { next: [bb.op1('MatMul', [dPre, R as string]), bb.op1('Mul', [dC, ft as string]), R as string], ys: [{ name: dPre, shape: gates }] };
        },
      });
      const dGates = b.op1('Reshape', [back.ys[0] as string, b.constant(Tensor.int64([-1, 4 * H]), 'rows')]);
      const { dW, dR, dB } = weightGrads(b, dGates, d.X2d, d.Hprev2d, d.Wb !== undefined);
      return {
        dX: ctx.needs[0] ? b.op1('Gemm', [dGates, d.W]) : undefined,
        dW,
        dR: dR as string,
        dB,
        // After the first step, the carried dH and dC are dLoss/dinitial_h and dLoss/dinitial_c.
        dh0: back.finals[0],
        dc0: back.finals[1],
      };
    });
    return p.finish(grads);
  },
};
