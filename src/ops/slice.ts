import { attr, getInts } from '../ir/graph.js';
import type { Dim, GraphBuilder, Node } from '../ir/graph.js';
import { Tensor } from '../ir/tensor.js';
import { constantInts, shapeError, unknownDim } from './dims.js';
import type { OpDef } from './types.js';
import { input, normAxis } from './util.js';
import { sliceChannels } from './channels.js';

interface SliceParams {
  starts: number[];
  ends: number[];
  /** Normalized to 0..rank−1. */
  axes: number[];
  steps: number[];
}

// ONNX writes "to the end" as INT64_MAX (or INT32_MAX from older exporters).
const TO_END = 2 ** 31 - 1;

/** The constant starts/ends/axes/steps (inputs in opset 10+, attributes before); undefined when computed. */
function sliceParams(node: Node, constant: (i: number) => Tensor | undefined, rank: number): SliceParams | undefined {
  const legacy = getInts(node, 'starts') !== undefined;
  const starts = legacy ? getInts(node, 'starts') : constantInts(node, constant, 1);
  const ends = legacy ? getInts(node, 'ends') : constantInts(node, constant, 2);
  const rawAxes = legacy ? getInts(node, 'axes') : constantInts(node, constant, 3);
  const rawSteps = legacy ? undefined : constantInts(node, constant, 4);
  if (starts === undefined || ends === undefined) return undefined;
  if (!legacy && ((node.inputs[3] && rawAxes === undefined) || (node.inputs[4] && rawSteps === undefined))) return undefined;
  const axes = (rawAxes ?? starts.map((_, i) => i)).map((a) => normAxis(node, a, rank));
  const steps = rawSteps ?? starts.map(() => 1);
  if (ends.length !== starts.length || axes.length !== starts.length || steps.length !== starts.length) {
    throw shapeError(
      node,
      `starts [${starts.join(', ')}], ends [${ends.join(', ')}], axes [${axes.join(', ')}] and steps [${steps.join(', ')}] must have the same length`,
    );
  }
  if (steps.includes(0)) throw shapeError(node, 'a step of 0 is not allowed');
  return { starts, ends, axes, steps };
}

/** ONNX's clamping of one axis's range: the effective start and the number of elements taken. */
function sliceRange(d: number, start: number, end: number, step: number): { start: number; size: number } {
  let s = start < 0 ? start + d : start;
  let e = end < 0 ? end + d : end;
  if (step > 0) {
    s = Math.min(Math.max(s, 0), d);
    e = Math.min(Math.max(e, 0), d);
  } else {
    s = Math.min(Math.max(s, 0), d - 1);
    e = Math.min(Math.max(e, -1), d - 1);
  }
  return { start: s, size: Math.max(0, Math.ceil((e - s) / step)) };
}

/**
 * Slice (opset 13). Gradient: with step 1 and known dims, Pad dY back with zeros; otherwise
 * (other steps, symbolic dims, computed starts) scatter dY into zeros at the flat indices that
 * the same Slice picks out of Range(0, Size(X)).
 */
export const slice: OpDef = {
  op: 'Slice',
  channels: sliceChannels,
  inferShape({ node, inputs, constant }) {
    const x = input(node, inputs, 0);
    const rank = x.shape.length;
    const p = sliceParams(node, constant, rank);
    const shape: Dim[] = [...x.shape];
    if (p === undefined) {
      const axes = constantInts(node, constant, 3)?.map((a) => normAxis(node, a, rank));
      return [{ dtype: x.dtype, shape: shape.map((d, i) => (axes === undefined || axes.includes(i) ? unknownDim(node, i) : d)) }];
    }
    p.axes.forEach((axis, j) => {
      const d = x.shape[axis] as Dim;
      const [start, end, step] = [p.starts[j] as number, p.ends[j] as number, p.steps[j] as number];
      if (typeof d === 'number') shape[axis] = sliceRange(d, start, end, step).size;
      else shape[axis] = start === 0 && end >= TO_END && step === 1 ? d : unknownDim(node, axis);
    });
    return [{ dtype: x.dtype, shape }];
  },
  gradient({ node, b, dy, inputs, needs, constant }) {
    const g = dy[0];
    const x = inputs[0];
    if (g === undefined || x === undefined || !needs[0]) return [];
    const X = node.inputs[0] as string;
    const rank = x.shape.length;
    const p = sliceParams(node, constant, rank);
    if (p !== undefined && p.steps.every((s) => s === 1) && p.axes.every((a) => typeof x.shape[a] === 'number')) {
      const pads = new Array<number>(2 * rank).fill(0);
      p.axes.forEach((axis, j) => {
        const d = x.shape[axis] as number;
        const r = sliceRange(d, p.starts[j] as number, p.ends[j] as number, 1);
        pads[axis] = r.start;
        pads[rank + axis] = d - r.start - r.size;
      });
      return [b.op1('Pad', [g, b.constant(Tensor.int64(pads), 'pads')], { mode: attr.string('constant') })];
    }
    return [scatterBack(b, node, p, X, g, x.dtype)];
  },
};

function scatterBack(b: GraphBuilder, node: Node, p: SliceParams | undefined, X: string, g: string, dtype: Tensor['dtype']): string {
  const int64 = (v: number): string => b.constant(Tensor.fromArray('int64', [], [v]), 'c');
  // INT64_MAX read as a JS number would round up past int64, so keep ends within ±2^53.
  const safe = (v: number[]): number[] => v.map((n) => Math.max(-(2 ** 53), Math.min(2 ** 53, n)));
  const params = p === undefined ? node.inputs.slice(1) : [p.starts, p.ends, p.axes, p.steps].map((v) => b.constant(Tensor.int64(safe(v)), 'slice'));
  const size = b.op1('Size', [X]);
  const shapeX = b.op1('Shape', [X]);
  const flatIndex = b.op1('Reshape', [b.op1('Range', [int64(0), size, int64(1)]), shapeX]);
  const picked = b.op1('Reshape', [b.op1('Slice', [flatIndex, ...params]), b.constant(Tensor.int64([-1]), 'flat')]);
  const zeros = b.op1('ConstantOfShape', [b.op1('Reshape', [size, b.constant(Tensor.int64([1]), 'one_dim')])], {
    value: attr.tensor(Tensor.fromArray(dtype, [1], [0])),
  });
  const flatG = b.op1('Reshape', [g, b.constant(Tensor.int64([-1]), 'flat')]);
  return b.op1('Reshape', [b.op1('ScatterElements', [zeros, picked, flatG], { axis: attr.int(0) }), shapeX]);
}
