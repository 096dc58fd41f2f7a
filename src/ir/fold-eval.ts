// Small JS evaluators for the ops that make up exported shape computations (Shape, Gather,
// Unsqueeze, Concat, ...), on constant tensors. Only what constant folding needs: small
// tensors, the default domain, no float16/bfloat16.
import type { Node } from './graph.js';
import { getInt, getInts } from './graph.js';
import type { DType } from './tensor.js';
import { allocate, dtypeFromOnnx, sizeOf, Tensor } from './tensor.js';

/** Larger results stay in the graph: folding must not bloat the model. */
export const MAX_FOLDED_ELEMENTS = 1 << 16;

type Scalar = number | bigint;

/** Evaluates a node on constant inputs (undefined for an omitted optional input); undefined: cannot. */
export type Evaluator = (node: Node, inputs: (Tensor | undefined)[]) => Tensor[] | undefined;

/** A tensor's elements as plain JS values: bigint for int64, number otherwise. */
export function values(t: Tensor): Scalar[] {
  return Array.from(t.data as ArrayLike<Scalar>);
}

/**
 * Builds a tensor from JS values, truncating toward zero for int64 and mapping to 0/1 for bool.
 *
 * ```ts
 * makeTensor('int64', [2], [0n, -1n]);
 * ```
 */
export function makeTensor(dtype: DType, dims: readonly number[], vals: readonly Scalar[]): Tensor {
  const data = allocate(dtype, vals.length);
  vals.forEach((v, i) => {
    if (data instanceof BigInt64Array || data instanceof BigUint64Array) data[i] = typeof v === 'bigint' ? v : BigInt(Math.trunc(v));
    else if (dtype === 'bool') data[i] = Number(v) !== 0 ? 1 : 0;
    else data[i] = Number(v);
  });
  return new Tensor(dtype, dims, data);
}

/** Normalizes a possibly negative axis; throws (so the node is left unfolded) when out of range. */
export function axisOf(axis: number, rank: number): number {
  const a = axis < 0 ? axis + rank : axis;
  if (a < 0 || a >= rank) throw new RangeError(`axis ${axis} out of range for rank ${rank}`);
  return a;
}

/** Axes given as an attribute (older opsets) or as input `i` (newer ones). */
function axesOf(node: Node, inputs: (Tensor | undefined)[], i: number): number[] | undefined {
  return getInts(node, 'axes') ?? inputs[i]?.toNumbers();
}

/**
 * Indices along one axis that Slice(start, end, step) visits, with ONNX's clamping rules.
 *
 * ```ts
 * sliceIndices(3, -1, -100, -2); // [2, 0]
 * ```
 */
export function sliceIndices(dim: number, start: number, end: number, step: number): number[] {
  if (step === 0) throw new RangeError('Slice step 0');
  let s = start < 0 ? start + dim : start;
  let e = end < 0 ? end + dim : end;
  if (step > 0) {
    s = Math.min(Math.max(s, 0), dim);
    e = Math.min(Math.max(e, 0), dim);
  } else {
    s = Math.min(Math.max(s, 0), dim - 1);
    e = Math.min(Math.max(e, -1), dim - 1);
  }
  const out: number[] = [];
  for (let i = s; step > 0 ? i < e : i > e; i += step) out.push(i);
  return out;
}

/** Picks, for every output position, the input element given per-axis index lists. */
function pick(t: Tensor, perAxis: number[][]): Tensor {
  const src = values(t);
  const dims = perAxis.map((ix) => ix.length);
  const strides = t.dims.map((_, a) => sizeOf(t.dims.slice(a + 1)));
  const out: Scalar[] = [];
  const walk = (axis: number, offset: number): void => {
    if (axis === perAxis.length) {
      out.push(src[offset] as Scalar);
      return;
    }
    for (const i of perAxis[axis] as number[]) walk(axis + 1, offset + i * (strides[axis] as number));
  };
  if (sizeOf(dims) > 0) walk(0, 0);
  return makeTensor(t.dtype, dims, out);
}

function arithmetic(op: (a: Scalar, b: Scalar) => Scalar): Evaluator {
  return (_node, [a, b]) => {
    if (a === undefined || b === undefined || a.dtype !== b.dtype || isBits(a.dtype) || a.dtype === 'bool') return undefined;
    const rank = Math.max(a.dims.length, b.dims.length);
    const pad = (d: readonly number[]): number[] => [...Array<number>(rank - d.length).fill(1), ...d];
    const da = pad(a.dims);
    const db = pad(b.dims);
    const dims = da.map((x, i) => {
      const y = db[i] as number;
      if (x !== y && x !== 1 && y !== 1) throw new RangeError('shapes do not broadcast');
      return x === 1 ? y : x;
    });
    // Broadcasting is a pick with index 0 on the size-1 axes.
    const stretch = (t: Tensor, d: number[]): Scalar[] =>
      values(
        pick(
          makeTensor(t.dtype, d, values(t)),
          dims.map((n, i) => Array.from({ length: n }, (_, j) => ((d[i] as number) === 1 ? 0 : j))),
        ),
      );
    const va = stretch(a, da);
    const vb = stretch(b, db);
    return [
      makeTensor(
        a.dtype,
        dims,
        va.map((x, i) => op(x, vb[i] as Scalar)),
      ),
    ];
  };
}

/** float16/bfloat16 hold bit patterns, not values: not folded. */
const isBits = (d: DType): boolean => d === 'float16' || d === 'bfloat16';

const isInt = (v: Scalar): v is bigint => typeof v === 'bigint';

function constantValue(node: Node): Tensor | undefined {
  const a = Object.entries(node.attributes)[0];
  if (a === undefined) return undefined;
  const [key, v] = a;
  if (key === 'value' && v.type === 'tensor') return v.value;
  if (key === 'value_float' && v.type === 'float') return Tensor.scalar('float32', v.value);
  if (key === 'value_floats' && v.type === 'floats') return Tensor.fromArray('float32', [v.value.length], v.value);
  if (key === 'value_int' && v.type === 'int') return Tensor.scalar('int64', v.value);
  if (key === 'value_ints' && v.type === 'ints') return Tensor.int64(v.value);
  return undefined;
}

/** Output dims of Shape(x) for x of the given dims, honouring opset 15's start/end. */
export function shapeRange(node: Node, rank: number): [number, number] {
  const clamp = (v: number): number => Math.min(Math.max(v < 0 ? v + rank : v, 0), rank);
  return [clamp(getInt(node, 'start', 0)), clamp(getInt(node, 'end', rank))];
}

/**
 * Evaluators by op type, for the ops of exported shape computations.
 *
 * ```ts
 * const [s] = EVALUATORS.get('Shape')?.(node, [Tensor.int64([1, 2])]) ?? [];
 * ```
 */
export const EVALUATORS: ReadonlyMap<string, Evaluator> = new Map<string, Evaluator>([
  [
    'Constant',
    (node) => {
      const t = constantValue(node);
      return t === undefined ? undefined : [t];
    },
  ],
  ['Identity', (_node, [x]) => (x === undefined ? undefined : [x])],
  [
    'Shape',
    (node, [x]) => {
      if (x === undefined) return undefined;
      const [s, e] = shapeRange(node, x.dims.length);
      return [Tensor.int64(x.dims.slice(s, e))];
    },
  ],
  [
    'Gather',
    (node, [data, indices]) => {
      if (data === undefined || indices === undefined) return undefined;
      const axis = axisOf(getInt(node, 'axis', 0), data.dims.length);
      const n = data.dims[axis] as number;
      const ix = indices.toNumbers().map((i) => {
        if (i < -n || i >= n) throw new RangeError(`Gather index ${i} out of range`);
        return i < 0 ? i + n : i;
      });
      // Gather = pick each index along `axis`, then reshape that axis into the indices' dims.
      const picked = pick(
        data,
        data.dims.map((d, a) => (a === axis ? ix : Array.from({ length: d }, (_, j) => j))),
      );
      const dims = [...data.dims.slice(0, axis), ...indices.dims, ...data.dims.slice(axis + 1)];
      return [makeTensor(data.dtype, dims, values(picked))];
    },
  ],
  [
    'Unsqueeze',
    (node, inputs) => {
      const x = inputs[0];
      const axes = axesOf(node, inputs, 1);
      if (x === undefined || axes === undefined) return undefined;
      const rank = x.dims.length + axes.length;
      const at = new Set(axes.map((a) => axisOf(a, rank)));
      const dims: number[] = [];
      let k = 0;
      for (let i = 0; i < rank; i++) dims.push(at.has(i) ? 1 : (x.dims[k++] as number));
      return [new Tensor(x.dtype, dims, x.data)];
    },
  ],
  [
    'Squeeze',
    (node, inputs) => {
      const x = inputs[0];
      if (x === undefined) return undefined;
      const axes = axesOf(node, inputs, 1)?.map((a) => axisOf(a, x.dims.length));
      if (axes?.some((a) => x.dims[a] !== 1)) throw new RangeError('Squeeze of a dimension that is not 1');
      const dims = x.dims.filter((d, i) => (axes === undefined ? d !== 1 : !axes.includes(i)));
      return [new Tensor(x.dtype, dims, x.data)];
    },
  ],
  [
    'Concat',
    (node, inputs) => {
      const parts = inputs.filter((t): t is Tensor => t !== undefined);
      const first = parts[0];
      if (first === undefined || parts.length !== inputs.length || parts.some((p) => p.dtype !== first.dtype || p.dims.length !== first.dims.length))
        return undefined;
      const axis = axisOf(getInt(node, 'axis', 0), first.dims.length);
      const outer = sizeOf(first.dims.slice(0, axis));
      const out: Scalar[] = [];
      for (let o = 0; o < outer; o++) {
        for (const p of parts) {
          const block = sizeOf(p.dims.slice(axis));
          out.push(...values(p).slice(o * block, (o + 1) * block));
        }
      }
      const dims = [...first.dims];
      dims[axis] = parts.reduce((s, p) => s + (p.dims[axis] as number), 0);
      return [makeTensor(first.dtype, dims, out)];
    },
  ],
  [
    'Cast',
    (node, [x]) => {
      const to = dtypeFromOnnx(getInt(node, 'to', 0));
      if (x === undefined || isBits(to) || isBits(x.dtype)) return undefined;
      // Cast to an integer type truncates toward zero; makeTensor does that for int64.
      const vals = values(x).map((v) => (to === 'float32' || to === 'float64' || to === 'bool' || isInt(v) ? v : Math.trunc(v)));
      return [makeTensor(to, x.dims, vals)];
    },
  ],
  [
    'Slice',
    (node, inputs) => {
      const x = inputs[0];
      if (x === undefined) return undefined;
      const old = getInts(node, 'starts') !== undefined;
      const starts = old ? getInts(node, 'starts') : inputs[1]?.toNumbers();
      const ends = old ? getInts(node, 'ends') : inputs[2]?.toNumbers();
      const axes = (old ? getInts(node, 'axes') : inputs[3]?.toNumbers()) ?? starts?.map((_, i) => i);
      const steps = (old ? undefined : inputs[4]?.toNumbers()) ?? starts?.map(() => 1);
      if (starts === undefined || ends === undefined || axes === undefined || steps === undefined) return undefined;
      const perAxis = x.dims.map((d) => Array.from({ length: d }, (_, j) => j));
      axes.forEach((a, i) => {
        const axis = axisOf(a, x.dims.length);
        perAxis[axis] = sliceIndices(x.dims[axis] as number, starts[i] as number, ends[i] as number, steps[i] as number);
      });
      return [pick(x, perAxis)];
    },
  ],
  ['Add', arithmetic((a, b) => (isInt(a) && isInt(b) ? a + b : Number(a) + Number(b)))],
  ['Sub', arithmetic((a, b) => (isInt(a) && isInt(b) ? a - b : Number(a) - Number(b)))],
  ['Mul', arithmetic((a, b) => (isInt(a) && isInt(b) ? a * b : Number(a) * Number(b)))],
  // int64 Div truncates toward zero like C, which is what BigInt division does.
  ['Div', arithmetic((a, b) => (isInt(a) && isInt(b) ? a / b : Number(a) / Number(b)))],
  [
    'ConstantOfShape',
    (node, [shape]) => {
      if (shape === undefined) return undefined;
      const dims = shape.toNumbers();
      if (sizeOf(dims) > MAX_FOLDED_ELEMENTS) return undefined;
      const a = node.attributes['value'];
      const fill = a?.type === 'tensor' ? a.value : Tensor.scalar('float32', 0);
      if (isBits(fill.dtype)) return undefined;
      return [makeTensor(fill.dtype, dims, Array<Scalar>(sizeOf(dims)).fill(values(fill)[0] ?? 0))];
    },
  ],
]);
