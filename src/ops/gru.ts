import { attr, getInt } from '../ir/graph.js';
import { Tensor } from '../ir/tensor.js';
import type { DirectionGrads } from './recurrent.js';
import { concat, recurrentPieces, recurrentShape, sigmoidSlope, splitSteps, sumOf, tanhSlope, weightGrads } from './recurrent.js';
import type { OpDef } from './types.js';
import { scalar } from './util.js';

/**
 * GRU (gates z, r, h in ONNX's order): z, r = σ(X·Wᵀ + H₋₁·Rᵀ + Wb + Rb), H = (1 − z)·n + z·H₋₁ with
 * n = tanh(X·Wₕᵀ + r·(H₋₁·Rₕᵀ + Rbₕ) + Wbₕ) for linear_before_reset=1 (PyTorch's export) or
 * tanh(X·Wₕᵀ + (r·H₋₁)·Rₕᵀ + Rbₕ + Wbₕ) for 0. Directions, layouts and initial state as LSTM.
 *
 * Gradient: per step backwards dH = dY + dHₙₑₓₜ; everything else is dH times coefficients computed
 * for all steps at once (linear_before_reset=1), or needs one extra MatMul per step through Rₕ (0).
 */
export const gru: OpDef = {
  op: 'GRU',
  inferShape: recurrentShape(3),
  gradient(ctx) {
    if (ctx.dy[0] === undefined && ctx.dy[1] === undefined) return [];
    const { b, node } = ctx;
    const p = recurrentPieces(ctx, 3, ['Sigmoid', 'Tanh']);
    const { T, hidden: H } = p;
    const one = scalar(b, p.dtype, 1, 'one');
    const i64 = (v: number[], hint: string): string => b.constant(Tensor.int64(v), hint);
    const steps = (cols: number): string => i64([T, -1, cols], 'gshape');
    const rows = (cols: number): string => i64([-1, cols], 'rows');
    const linearBeforeReset = getInt(node, 'linear_before_reset', 0) === 1;
    const grads = p.dirs.map((d): DirectionGrads => {
      const xw = b.op1('Reshape', [b.op1('Gemm', d.Wb !== undefined ? [d.X2d, d.W, d.Wb] : [d.X2d, d.W], { transB: attr.int(1) }), steps(3 * H)]);
      const [xz, xr, xh] = b.op('Split', [xw], { axis: attr.int(2) }, 3) as [string, string, string];
      const slice = (v: string, from: number, to: number): string => b.op1('Slice', [v, i64([from], 'start'), i64([to], 'end'), i64([0], 'axis0')]);
      const dPre: string[] = new Array(T);
      const dHs: string[] = new Array(T);
      let dHrec: string | undefined;
      const dHat = (k: number): string => {
        const t = d.order[k] as number;
        return sumOf(b, [d.dY[t], k === T - 1 ? d.dYh : undefined, dHrec]) ?? p.zeros();
      };

      if (linearBeforeReset) {
        const hr = b.op1('Reshape', [b.op1('Gemm', d.Rb !== undefined ? [d.Hprev2d, d.R, d.Rb] : [d.Hprev2d, d.R], { transB: attr.int(1) }), steps(3 * H)]);
        const [hz, hrr, hh] = b.op('Split', [hr], { axis: attr.int(2) }, 3) as [string, string, string];
        const z = b.op1('Sigmoid', [b.op1('Add', [xz, hz])]);
        const r = b.op1('Sigmoid', [b.op1('Add', [xr, hrr])]);
        const n = b.op1('Tanh', [b.op1('Add', [xh, b.op1('Mul', [r, hh])])]);
        const Kh = b.op1('Mul', [b.op1('Sub', [one, z]), tanhSlope(b, one, n)]);
        const Kz = b.op1('Mul', [b.op1('Sub', [d.Hprev, n]), sigmoidSlope(b, one, z)]);
        const Kr = b.op1('Mul', [b.op1('Mul', [Kh, hh]), sigmoidSlope(b, one, r)]);
        // Gradient into X·Wᵀ (for W, Wb, X) and into H₋₁·Rᵀ + Rb (for R, Rb, H₋₁), per unit of dH.
        const Kx = b.op1('Concat', [Kz, Kr, Kh], { axis: attr.int(2) });
        const Khr = splitSteps(b, b.op1('Concat', [Kz, Kr, b.op1('Mul', [Kh, r])], { axis: attr.int(2) }), T);
        const zs = splitSteps(b, z, T);
        for (let k = T - 1; k >= 0; k--) {
          const t = d.order[k] as number;
          const dH = dHat(k);
          dHs[t] = dH;
          dPre[t] = b.op1('Mul', [b.op1('Concat', [dH, dH, dH], { axis: attr.int(2) }), Khr[t] as string]);
          if (k > 0 || ctx.needs[5]) dHrec = b.op1('Add', [b.op1('MatMul', [dPre[t] as string, d.R]), b.op1('Mul', [dH, zs[t] as string])]);
        }
        const dHall = concat(b, dHs, 0);
        const dX3 = b.op1('Reshape', [b.op1('Mul', [b.op1('Concat', [dHall, dHall, dHall], { axis: attr.int(2) }), Kx]), rows(3 * H)]);
        const dHR = b.op1('Reshape', [concat(b, dPre, 0), rows(3 * H)]);
        const dW = b.op1('Gemm', [dX3, d.X2d], { transA: attr.int(1) });
        const dR = b.op1('Gemm', [dHR, d.Hprev2d], { transA: attr.int(1) });
        const axis0 = i64([0], 'axis0');
        const dB =
          d.Wb !== undefined
            ? b.op1('Concat', [b.op1('ReduceSum', [dX3, axis0], { keepdims: attr.int(0) }), b.op1('ReduceSum', [dHR, axis0], { keepdims: attr.int(0) })], {
                axis: attr.int(0),
              })
            : undefined;
        return { dX: ctx.needs[0] ? b.op1('Gemm', [dX3, d.W]) : undefined, dW, dR, dB, dh0: dHrec };
      }

      // linear_before_reset=0: the reset gate scales H₋₁ before Rₕ, so dr needs dn·Rₕ per step.
      const Rzr = slice(d.R, 0, 2 * H);
      const Rh = slice(d.R, 2 * H, 3 * H);
      const Rbzr = d.Rb !== undefined ? slice(d.Rb, 0, 2 * H) : undefined;
      const Rbh = d.Rb !== undefined ? slice(d.Rb, 2 * H, 3 * H) : undefined;
      const hzr = b.op1('Reshape', [b.op1('Gemm', Rbzr !== undefined ? [d.Hprev2d, Rzr, Rbzr] : [d.Hprev2d, Rzr], { transB: attr.int(1) }), steps(2 * H)]);
      const [hz, hrr] = b.op('Split', [hzr], { axis: attr.int(2) }, 2) as [string, string];
      const z = b.op1('Sigmoid', [b.op1('Add', [xz, hz])]);
      const r = b.op1('Sigmoid', [b.op1('Add', [xr, hrr])]);
      const rH2d = b.op1('Reshape', [b.op1('Mul', [r, d.Hprev]), rows(H)]);
      const hh = b.op1('Reshape', [b.op1('Gemm', Rbh !== undefined ? [rH2d, Rh, Rbh] : [rH2d, Rh], { transB: attr.int(1) }), steps(H)]);
      const n = b.op1('Tanh', [b.op1('Add', [xh, hh])]);
      const Kh = splitSteps(b, b.op1('Mul', [b.op1('Sub', [one, z]), tanhSlope(b, one, n)]), T);
      const Kz = splitSteps(b, b.op1('Mul', [b.op1('Sub', [d.Hprev, n]), sigmoidSlope(b, one, z)]), T);
      const Kr = splitSteps(b, b.op1('Mul', [d.Hprev, sigmoidSlope(b, one, r)]), T);
      const zs = splitSteps(b, z, T);
      const rs = splitSteps(b, r, T);
      for (let k = T - 1; k >= 0; k--) {
        const t = d.order[k] as number;
        const dH = dHat(k);
        const dph = b.op1('Mul', [dH, Kh[t] as string]);
        const dpz = b.op1('Mul', [dH, Kz[t] as string]);
        const u = b.op1('MatMul', [dph, Rh]);
        const dzr = b.op1('Concat', [dpz, b.op1('Mul', [u, Kr[t] as string])], { axis: attr.int(2) });
        dPre[t] = b.op1('Concat', [dzr, dph], { axis: attr.int(2) });
        if (k > 0 || ctx.needs[5]) {
          dHrec = b.op1('Sum', [b.op1('Mul', [dH, zs[t] as string]), b.op1('Mul', [u, rs[t] as string]), b.op1('MatMul', [dzr, Rzr])]);
        }
      }
      const dGates = b.op1('Reshape', [concat(b, dPre, 0), rows(3 * H)]);
      const { dW, dB } = weightGrads(b, dGates, d.X2d, undefined, d.Wb !== undefined);
      const dR = b.op1(
        'Concat',
        [
          b.op1('Gemm', [b.op1('Slice', [dGates, i64([0], 'start'), i64([2 * H], 'end'), i64([1], 'axis1')]), d.Hprev2d], { transA: attr.int(1) }),
          b.op1('Gemm', [b.op1('Slice', [dGates, i64([2 * H], 'start'), i64([3 * H], 'end'), i64([1], 'axis1')]), rH2d], { transA: attr.int(1) }),
        ],
        { axis: attr.int(0) },
      );
      return { dX: ctx.needs[0] ? b.op1('Gemm', [dGates, d.W]) : undefined, dW, dR, dB, dh0: dHrec };
    });
    return p.finish(grads);
  },
};
