// Gradient checks of the recurrent ops (LSTM, GRU): one node with the chosen options. ORT runs
// these ops only in float32, so the analytic gradient runs in ORT in float32 and the finite
// differences come from the float64 reference forward below (an independent oracle).
import assert from 'node:assert/strict';
import { attr } from '../src/ir/graph.js';
import type { Attribute, ValueInfo } from '../src/ir/graph.js';
import type { Tensor } from '../src/ir/tensor.js';
import { gradCheck, inputsOf, oneNodeGraph, randomTensor } from './gradcheck.js';

export interface RecurrentCase {
  op: 'LSTM' | 'GRU';
  T: number;
  batch: number;
  inputSize: number;
  hidden: number;
  direction?: 'forward' | 'reverse' | 'bidirectional';
  bias?: boolean;
  /** Initial states fed (and differentiated). */
  initial?: boolean;
  /** Which of Y, Y_h (, Y_c) are graph outputs; the others are '' on the node. */
  outputs: boolean[];
  linearBeforeReset?: boolean;
  attributes?: Record<string, Attribute>;
}

const sigmoid = (v: number): number => 1 / (1 + Math.exp(-v));

/** Float64 LSTM/GRU forward as the ONNX spec defines it (layout 0); the graph's outputs in order. */
export function referenceRecurrent(c: RecurrentCase, f: Record<string, Float64Array>): Float64Array[] {
  const G = c.op === 'LSTM' ? 4 : 3;
  const D = c.direction === 'bidirectional' ? 2 : 1;
  const { T, batch: N, inputSize: I, hidden: H } = c;
  const x = f['x'] as Float64Array;
  const w = f['w'] as Float64Array;
  const r = f['r'] as Float64Array;
  const y = new Float64Array(T * D * N * H);
  const yh = new Float64Array(D * N * H);
  const yc = new Float64Array(D * N * H);
  for (let d = 0; d < D; d++) {
    const reverse = c.direction === 'reverse' || d === 1;
    const h = new Float64Array(N * H);
    const cell = new Float64Array(N * H);
    if (f['h0']) h.set(f['h0'].subarray(d * N * H, (d + 1) * N * H));
    if (f['c0']) cell.set(f['c0'].subarray(d * N * H, (d + 1) * N * H));
    // x·W[d, row]ᵀ + Wb, and v·R[d, row]ᵀ + Rb.
    const xw = (t: number, n: number, row: number): number => {
      let acc = f['b'] ? (f['b'][d * 2 * G * H + row] as number) : 0;
      for (let k = 0; k < I; k++) acc += (x[(t * N + n) * I + k] as number) * (w[(d * G * H + row) * I + k] as number);
      return acc;
    };
    const hr = (v: Float64Array, row: number): number => {
      let acc = f['b'] ? (f['b'][d * 2 * G * H + G * H + row] as number) : 0;
      for (let k = 0; k < H; k++) acc += (v[k] as number) * (r[(d * G * H + row) * H + k] as number);
      return acc;
    };
    for (let s = 0; s < T; s++) {
      const t = reverse ? T - 1 - s : s;
      const next = new Float64Array(N * H);
      for (let n = 0; n < N; n++) {
        const hp = h.subarray(n * H, (n + 1) * H);
        if (c.op === 'LSTM') {
          for (let j = 0; j < H; j++) {
            const pre = (g: number): number => xw(t, n, g * H + j) + hr(hp, g * H + j);
            const i = sigmoid(pre(0));
            const o = sigmoid(pre(1));
            const fg = sigmoid(pre(2));
            const g = Math.tanh(pre(3));
            const cv = fg * (cell[n * H + j] as number) + i * g;
            cell[n * H + j] = cv;
            next[n * H + j] = o * Math.tanh(cv);
          }
        } else {
          const rGate = Float64Array.from({ length: H }, (_, j) => sigmoid(xw(t, n, H + j) + hr(hp, H + j)));
          const rh = Float64Array.from({ length: H }, (_, k) => (rGate[k] as number) * (hp[k] as number));
          for (let j = 0; j < H; j++) {
            const z = sigmoid(xw(t, n, j) + hr(hp, j));
            const cand = c.linearBeforeReset ? (rGate[j] as number) * hr(hp, 2 * H + j) : hr(rh, 2 * H + j);
            const nv = Math.tanh(xw(t, n, 2 * H + j) + cand);
            next[n * H + j] = (1 - z) * nv + z * (hp[j] as number);
          }
        }
      }
      h.set(next);
      y.set(next, (t * D + d) * N * H);
    }
    yh.set(h, d * N * H);
    yc.set(cell, d * N * H);
  }
  return [y, yh, yc].filter((_, i) => c.outputs[i]);
}

/** Inputs on a 1/256 grid with a power-of-two step keep x ± eps exact in float32. */
const EPS = 1 / 1024;
function gridTensor(dims: number[], seed: number, scale: number): Tensor {
  const t = randomTensor('float32', dims, seed, -scale, scale);
  const d = t.data as Float32Array;
  for (let i = 0; i < d.length; i++) d[i] = Math.round((d[i] as number) * 256) / 256;
  return t;
}

/** Builds the one-node graph of `c` and checks every float input; returns the worst relative error. */
export async function checkRecurrent(c: RecurrentCase): Promise<number> {
  const gates = c.op === 'LSTM' ? 4 : 3;
  const D = c.direction === 'bidirectional' ? 2 : 1;
  const { T, batch: N, inputSize: I, hidden: H } = c;
  let seed = 1;
  const feeds: Record<string, Tensor> = {
    x: gridTensor([T, N, I], seed++, 1),
    w: gridTensor([D, gates * H, I], seed++, 0.8),
    r: gridTensor([D, gates * H, H], seed++, 0.8),
  };
  if (c.bias) feeds['b'] = gridTensor([D, 2 * gates * H], seed++, 0.5);
  const state = [D, N, H];
  if (c.initial) {
    feeds['h0'] = gridTensor(state, seed++, 1);
    if (c.op === 'LSTM') feeds['c0'] = gridTensor(state, seed++, 1);
  }
  const operands = ['x', 'w', 'r', c.bias ? 'b' : '', '', c.initial ? 'h0' : ''];
  if (c.op === 'LSTM') operands.push(c.initial ? 'c0' : '');
  const names = c.op === 'LSTM' ? ['y', 'y_h', 'y_c'] : ['y', 'y_h'];
  const results = names.map((n, i) => (c.outputs[i] ? n : ''));
  const outputs: ValueInfo[] = names
    .map((name, i) => ({ name, dtype: 'float32' as const, shape: i === 0 ? [T, D, N, H] : state }))
    .filter((_, i) => c.outputs[i]);
  const attributes: Record<string, Attribute> = { hidden_size: attr.int(H), ...(c.attributes ?? {}) };
  if (c.direction !== undefined) attributes['direction'] = attr.string(c.direction);
  if (c.linearBeforeReset) attributes['linear_before_reset'] = attr.int(1);
  const graph = oneNodeGraph(c.op, { inputs: inputsOf(feeds), operands, attributes, outputs, results });
  const r = await gradCheck({ graph, feeds, wrt: Object.keys(feeds), reference: (f) => referenceRecurrent(c, f), eps: EPS });
  assert.equal(
    r.checked,
    Object.values(feeds).reduce((n, t) => n + t.size, 0),
  );
  return r.maxError;
}
