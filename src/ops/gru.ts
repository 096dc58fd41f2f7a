import { attr, getInt } from '../ir/graph.js';
import type { Dim } from '../ir/graph.js';
import { Tensor } from '../ir/tensor.js';
import type { DirectionGrads } from './recurrent.js';
import { emitScan, recurrentPieces, recurrentShape, sigmoidSlope, tanhSlope, weightGrads } from './recurrent.js';
import type { OpDef } from './types.js';
import { scalar } from './util.js';
import { recurrentChannels } from './channels.js';

/**
 * GRU (gates z, r, h in ONNX's order): z, r = σ(X·Wᵀ + H₋₁·Rᵀ + Wb + Rb), H = (1 − z)·n + z·H₋₁ with
 * n = tanh(X·Wₕᵀ + r·(H₋₁·Rₕᵀ + Rbₕ) + Wbₕ) for linear_before_reset=1 (PyTorch's export) or
 * tanh(X·Wₕᵀ + (r·H₋₁)·Rₕᵀ + Rbₕ + Wbₕ) for 0. Directions and initial state as LSTM.
 *
 * Gradient: per step backwards (a Scan) dH = dY + dHₙₑₓₜ; everything else is dH times coefficients
 * computed for all steps at once (linear_before_reset=1), or needs one more MatMul per step through
 * Rₕ (0).
 */
export const gru: OpDef = {
  op: 'GRU',
  channels: recurrentChannels,
  inferShape: recurrentShape(3),
  gradient(ctx) {
    if (ctx.dy[0] === undefined && ctx.dy[1] === undefined) return [];
    const { b, node } = ctx;
    const p = recurrentPieces(ctx, 3, ['Sigmoid', 'Tanh']);
    const H = p.hidden;
    const { dtype } = p;
    const one = scalar(b, dtype, 1, 'one');
    const i64 = (v: number[], hint: string): string => b.constant(Tensor.int64(v), hint);
    const rows = (cols: number): string => i64([-1, cols], 'rows');
    const state: Dim[] = ['batch', H];
    const linearBeforeReset = getInt(node, 'linear_before_reset', 0) === 1;
    const grads = p.dirs.map((d): DirectionGrads => {
      const xw = p.steps(b.op1('Gemm', d.Wb !== undefined ? [d.X2d, d.W, d.Wb] : [d.X2d, d.W], { transB: attr.int(1) }), 3 * H);
      const [xz, xr, xh] = b.op('Split', [xw], { axis: attr.int(2) }, 3) as [string, string, string];
      const slice = (v: string, from: number, to: number): string => b.op1('Slice', [v, i64([from], 'start'), i64([to], 'end'), i64([0], 'axis0')]);
      const dYstep = d.dY !== undefined ? { value: d.dY, shape: state } : undefined;
      const dHlast = d.dYh ?? p.zeros();

      if (linearBeforeReset) {
        const hr = p.steps(b.op1('Gemm', d.Rb !== undefined ? [d.Hprev2d, d.R, d.Rb] : [d.Hprev2d, d.R], { transB: attr.int(1) }), 3 * H);
        const [hz, hrr, hh] = b.op('Split', [hr], { axis: attr.int(2) }, 3) as [string, string, string];
        const z = b.op1('Sigmoid', [b.op1('Add', [xz, hz])]);
        const r = b.op1('Sigmoid', [b.op1('Add', [xr, hrr])]);
        const n = b.op1('Tanh', [b.op1('Add', [xh, b.op1('Mul', [r, hh])])]);
        const Kh = b.op1('Mul', [b.op1('Sub', [one, z]), tanhSlope(b, one, n)]);
        const Kz = b.op1('Mul', [b.op1('Sub', [d.Hprev, n]), sigmoidSlope(b, one, z)]);
        const Kr = b.op1('Mul', [b.op1('Mul', [Kh, hh]), sigmoidSlope(b, one, r)]);
        // Gradient into X·Wᵀ (for W, Wb, X) and into H₋₁·Rᵀ + Rb (for R, Rb, H₋₁), per unit of dH.
        const Kx = b.op1('Concat', [Kz, Kr, Kh], { axis: attr.int(2) });
        const Khr = b.op1('Concat', [Kz, Kr, b.op1('Mul', [Kh, r])], { axis: attr.int(2) });
        const back = emitScan(b, {
          dtype,
          states: [
            { init: dHlast, shape: state },
            { init: d.R, shape: [3 * H, H] },
          ],
          scans: [dYstep, { value: Khr, shape: ['batch', 3 * H] }, { value: z, shape: state }],
          reverse: !d.reverse,
          body: (bb, [dHnext, R], [dYt, Kt, zt]) => {
            const dH = dYt !== undefined ? bb.op1('Add', [dYt, dHnext as string]) : (dHnext as string);
            const dHR = bb.op1('Mul', [bb.op1('Concat', [dH, dH, dH], { axis: attr.int(-1) }), Kt as string]);
            const next = bb.op1('Add', [bb.op1('MatMul', [dHR, R as string]), bb.op1('Mul', [dH, zt as string])]);
            return {
              next: [next, R as string],
              ys: [
                { name: dH, shape: state },
                { name: dHR, shape: ['batch', 3 * H] },
              ],
            };
          },
        });
        const dHall = back.ys[0] as string;
        const dX3 = b.op1('Reshape', [b.op1('Mul', [b.op1('Concat', [dHall, dHall, dHall], { axis: attr.int(2) }), Kx]), rows(3 * H)]);
        const dHR = b.op1('Reshape', [back.ys[1] as string, rows(3 * H)]);
        const dW = b.op1('Gemm', [dX3, d.X2d], { transA: attr.int(1) });
        const dR = b.op1('Gemm', [dHR, d.Hprev2d], { transA: attr.int(1) });
        const axis0 = i64([0], 'axis0');
        const dB =
          d.Wb !== undefined
            ? b.op1('Concat', [b.op1('ReduceSum', [dX3, axis0], { keepdims: attr.int(0) }), b.op1('ReduceSum', [dHR, axis0], { keepdims: attr.int(0) })], {
                axis: attr.int(0),
              })
            : undefined;
        return { dX: ctx.needs[0] ? b.op1('Gemm', [dX3, d.W]) : undefined, dW, dR, dB, dh0: back.finals[0] };
      }

      // linear_before_reset=0: the reset gate scales H₋₁ before Rₕ, so dr needs dn·Rₕ per step.
      const Rzr = slice(d.R, 0, 2 * H);
      const Rh = slice(d.R, 2 * H, 3 * H);
      const Rbzr = d.Rb !== undefined ? slice(d.Rb, 0, 2 * H) : undefined;
      const Rbh = d.Rb !== undefined ? slice(d.Rb, 2 * H, 3 * H) : undefined;
      const hzr = p.steps(b.op1('Gemm', Rbzr !== undefined ? [d.Hprev2d, Rzr, Rbzr] : [d.Hprev2d, Rzr], { transB: attr.int(1) }), 2 * H);
      const [hz, hrr] = b.op('Split', [hzr], { axis: attr.int(2) }, 2) as [string, string];
      const z = b.op1('Sigmoid', [b.op1('Add', [xz, hz])]);
      const r = b.op1('Sigmoid', [b.op1('Add', [xr, hrr])]);
      const rH2d = b.op1('Reshape', [b.op1('Mul', [r, d.Hprev]), rows(H)]);
      const hh = p.steps(b.op1('Gemm', Rbh !== undefined ? [rH2d, Rh, Rbh] : [rH2d, Rh], { transB: attr.int(1) }), H);
      const n = b.op1('Tanh', [b.op1('Add', [xh, hh])]);
      const Kh = b.op1('Mul', [b.op1('Sub', [one, z]), tanhSlope(b, one, n)]);
      const Kz = b.op1('Mul', [b.op1('Sub', [d.Hprev, n]), sigmoidSlope(b, one, z)]);
      const Kr = b.op1('Mul', [d.Hprev, sigmoidSlope(b, one, r)]);
      const back = emitScan(b, {
        dtype,
        states: [
          { init: dHlast, shape: state },
          { init: Rh, shape: [H, H] },
          { init: Rzr, shape: [2 * H, H] },
        ],
        scans: [dYstep, ...[Kh, Kz, Kr, z, r].map((v) => ({ value: v, shape: state }))],
        reverse: !d.reverse,
        body: (bb, [dHnext, RhS, RzrS], [dYt, Kht, Kzt, Krt, zt, rt]) => {
          const dH = dYt !== undefined ? bb.op1('Add', [dYt, dHnext as string]) : (dHnext as string);
          const dph = bb.op1('Mul', [dH, Kht as string]);
          const dpz = bb.op1('Mul', [dH, Kzt as string]);
          const u = bb.op1('MatMul', [dph, RhS as string]);
          const dzr = bb.op1('Concat', [dpz, bb.op1('Mul', [u, Krt as string])], { axis: attr.int(-1) });
          const dPre = bb.op1('Concat', [dzr, dph], { axis: attr.int(-1) });
          const next = bb.op1('Sum', [bb.op1('Mul', [dH, zt as string]), bb.op1('Mul', [u, rt as string]), bb.op1('MatMul', [dzr, RzrS as string])]);
          return { next: [next, RhS as string, RzrS as string], ys: [{ name: dPre, shape: ['batch', 3 * H] }] };
        },
      });
      const dGates = b.op1('Reshape', [back.ys[0] as string, rows(3 * H)]);
      const { dW, dB } = weightGrads(b, dGates, d.X2d, undefined, d.Wb !== undefined);
      const cols = (from: number, to: number): string => b.op1('Slice', [dGates, i64([from], 'start'), i64([to], 'end'), i64([1], 'axis1')]);
      const dR = b.op1(
        'Concat',
        [b.op1('Gemm', [cols(0, 2 * H), d.Hprev2d], { transA: attr.int(1) }), b.op1('Gemm', [cols(2 * H, 3 * H), rH2d], { transA: attr.int(1) })],
        { axis: attr.int(0) },
      );
      return { dX: ctx.needs[0] ? b.op1('Gemm', [dGates, d.W]) : undefined, dW, dR, dB, dh0: back.finals[0] };
    });
    return p.finish(grads);
  },
};
