// Size and cost of a model: parameter counts, bytes, FLOPs and op counts, as `whittle info`
// reports them.
import type { Graph, Model, Node, ValueInfo } from './graph.js';
import { getInt, getInts } from './graph.js';
import type { ShapeRule, TypeShape } from './shape.js';
import { constantValues, inferShapes } from './shape.js';
import { bytesPerElement } from './tensor.js';

export interface ModelStats {
  /**
   * Weights: elements of float initializers, plus the integer codes of quantized weights (read by
   * DequantizeLinear, MatMulInteger or ConvInteger; K·N for a 4-bit MatMulNBits weight; the
   * weights of packed 1-/2-bit codes).
   */
  params: number;
  nonzeroParams: number;
  /** Bytes of all initializers as stored dense. */
  parameterBytes: number;
  /** Floating-point operations of one forward pass on one sample (2 per multiply-add). */
  flops: number;
  macs: number;
  ops: Record<string, number>;
  /** Signatures; `type` is set (e.g. `seq(tensor(float))`) for values that are not plain tensors, whose dtype/shape then mean nothing. */
  inputs: Signature[];
  outputs: Signature[];
  /** Nodes whose output shapes were unknown, so their FLOPs are not counted (0 when the count is complete). */
  unknownShapeNodes: number;
}

export interface Signature {
  name: string;
  dtype: string;
  shape: (number | string)[];
  type?: string;
}

function signature(v: ValueInfo): Signature {
  if (v.type !== undefined) return { name: v.name, dtype: v.dtype, shape: [], type: v.type };
  return { name: v.name, dtype: v.dtype, shape: v.unranked ? [] : [...v.shape], ...(v.unranked ? { type: `tensor(${v.dtype}) of unknown rank` } : {}) };
}

const prod = (xs: readonly (number | string)[]): number => xs.reduce<number>((a, d) => a * (typeof d === 'number' ? d : 1), 1);

/**
 * Packed 1- or 2-bit weights (Whittle's binary/ternary export): uint8 codes → BitShift → Mod →
 * Reshape → Slice(0, count) → Gather(table). Counts the `count` weights, nonzero where the
 * code's table value is.
 */
function countPacked(g: Graph, shift: Node, counted: Set<string>, add: (params: number, nonzero: number) => void): void {
  const packed = g.initializers.get(shift.inputs[0] ?? '');
  const shifts = g.initializers.get(shift.inputs[1] ?? '');
  if (packed === undefined || packed.dtype !== 'uint8' || shifts === undefined || counted.has(shift.inputs[0] as string)) return;
  const next = (v: string | undefined, op: string): Node | undefined => g.consumersOf(v ?? '').find((c) => c.opType === op);
  const slice = next(next(next(shift.outputs[0], 'Mod')?.outputs[0], 'Reshape')?.outputs[0], 'Slice');
  const count = slice === undefined ? undefined : g.initializers.get(slice.inputs[2] ?? '')?.toNumbers()[0];
  const cast = next(slice?.outputs[0], 'Cast');
  const gather = next(cast?.outputs[0], 'Gather');
  const table = gather === undefined ? undefined : g.initializers.get(gather.inputs[0] ?? '');
  if (count === undefined || table === undefined) return;
  counted.add(shift.inputs[0] as string);
  const per = shifts.size;
  const bits = 8 / per;
  let nz = 0;
  for (let i = 0; i < count; i++) {
    const code = ((packed.data[Math.floor(i / per)] as number) >> ((i % per) * bits)) & ((1 << bits) - 1);
    if (Number(table.data[code]) !== 0) nz++;
  }
  add(count, nz);
}

/**
 * Counts parameters, nonzeros, bytes and per-sample FLOPs (symbolic dims such as the batch count
 * as 1). Works on any model: shapes come from `rules`, else from `known` (onnxruntime's probe)
 * or the file; nodes whose shapes stay unknown add no FLOPs and are counted in `unknownShapeNodes`.
 *
 * ```ts
 * const s = modelStats(model, SHAPE_RULES);
 * console.log(s.params, s.flops);
 * ```
 */
export function modelStats(model: Model, rules: ReadonlyMap<string, ShapeRule>, options: { known?: ReadonlyMap<string, TypeShape> } = {}): ModelStats {
  const g = model.graph.clone();
  let params = 0;
  let nonzero = 0;
  let bytes = 0;
  for (const t of g.initializers.values()) {
    bytes += t.size * bytesPerElement(t.dtype);
    if (t.dtype !== 'float32' && t.dtype !== 'float64' && t.dtype !== 'float16') continue;
    params += t.size;
    for (let i = 0; i < t.size; i++) if (t.data[i] !== 0) nonzero++;
  }
  const counted = new Set<string>();
  for (const n of g.nodes) {
    const codes =
      n.domain !== '' ? undefined : n.opType === 'DequantizeLinear' ? [0] : n.opType === 'MatMulInteger' || n.opType === 'ConvInteger' ? [0, 1] : undefined;
    for (const i of codes ?? []) {
      const name = n.inputs[i] ?? '';
      const t = g.initializers.get(name);
      if (t === undefined || counted.has(name) || (t.dtype !== 'int8' && t.dtype !== 'uint8')) continue;
      counted.add(name);
      params += t.size;
      // A weight is zero where its code equals its zero point (per tensor, or per channel along `axis`).
      const zpName = n.opType === 'DequantizeLinear' ? n.inputs[2] : n.inputs[i + 2];
      const zp = zpName ? g.initializers.get(zpName) : undefined;
      const axis = getInt(n, 'axis', 1);
      const inner = prod(t.dims.slice(axis + 1));
      for (let j = 0; j < t.size; j++) {
        const z = zp === undefined ? 0 : zp.size === 1 ? Number(zp.data[0]) : Number(zp.data[Math.floor(j / inner) % zp.size]);
        if (Number(t.data[j]) !== z) nonzero++;
      }
    }
    if (n.opType === 'BitShift' && n.domain === '') countPacked(g, n, counted, (p, nz) => ((params += p), (nonzero += nz)));
    if (n.domain === 'com.microsoft' && n.opType === 'MatMulNBits' && n.inputs[1] && g.initializers.has(n.inputs[1]) && !counted.has(n.inputs[1])) {
      counted.add(n.inputs[1]);
      const kn = getInt(n, 'K', 0) * getInt(n, 'N', 0);
      params += kn;
      nonzero += kn;
    }
  }
  const shapes = inferShapes(g, rules, constantValues(g), { known: options.known, unknown: 'skip' });
  const shape = (name: string | undefined): TypeShape['shape'] => (name ? (shapes.get(name)?.shape ?? []) : []);
  let macs = 0;
  let other = 0;
  const ops: Record<string, number> = {};
  let unknownShapeNodes = 0;
  // Sequences, optionals and maps have no shape to know.
  const nonTensor = new Set(
    [...g.outputs, ...g.valueInfo.values()].filter((v) => v.type !== undefined && v.type !== 'unknown' && !v.type.startsWith('tensor(')).map((v) => v.name),
  );
  for (const n of g.nodes) {
    const key = n.domain === '' || n.domain === 'ai.onnx' ? n.opType : `${n.domain}:${n.opType}`;
    ops[key] = (ops[key] ?? 0) + 1;
    if (n.outputs.some((o) => o !== '' && !shapes.has(o) && !nonTensor.has(o))) unknownShapeNodes++;
    const out = shape(n.outputs[0]);
    switch (n.opType) {
      case 'Conv': {
        const w = shape(n.inputs[1]);
        // Each output element: (Cin/groups)·kh·kw multiply-adds.
        macs += prod(out) * prod(w.slice(1));
        if (n.inputs[2]) other += prod(out);
        break;
      }
      case 'Gemm': {
        const a = shape(n.inputs[0]);
        const k = getInt(n, 'transA', 0) ? a[0] : a[1];
        macs += prod(out) * (typeof k === 'number' ? k : 1);
        if (n.inputs[2]) other += prod(out);
        break;
      }
      case 'MatMulNBits':
        macs += prod(out) * getInt(n, 'K', 1);
        if (n.inputs[5]) other += prod(out);
        break;
      case 'MatMul': {
        const a = shape(n.inputs[0]);
        const k = a[a.length - 1];
        macs += prod(out) * (typeof k === 'number' ? k : 1);
        break;
      }
      case 'MaxPool':
      case 'AveragePool': {
        const k = getInts(n, 'kernel_shape') ?? [1];
        other += prod(out) * prod(k);
        break;
      }
      case 'Relu':
      case 'Add':
      case 'Sub':
      case 'Mul':
      case 'Div':
      case 'Sigmoid':
      case 'Tanh':
      case 'LeakyRelu':
      case 'Clip':
      case 'GlobalAveragePool':
        other += prod(n.opType === 'GlobalAveragePool' ? shape(n.inputs[0]) : out);
        break;
      case 'BatchNormalization':
        other += 2 * prod(out);
        break;
      case 'LSTM':
      case 'GRU':
      case 'RNN': {
        // Per time step and direction: gates × hidden × (input + hidden) multiply-adds.
        const x = shape(n.inputs[0]);
        const w = shape(n.inputs[1]);
        const r = shape(n.inputs[2]);
        const steps = getInt(n, 'layout', 0) === 0 ? x[0] : x[1];
        const [dirs, gh, inputSize] = w;
        const hidden = r[2];
        if ([steps, dirs, gh, inputSize, hidden].every((d) => typeof d === 'number')) {
          macs += (steps as number) * (dirs as number) * (gh as number) * ((inputSize as number) + (hidden as number));
        }
        break;
      }
      case 'Softmax':
      case 'LogSoftmax':
        other += 3 * prod(out);
        break;
      default:
        break;
    }
  }
  // Ops inside If/Loop/Scan bodies count too (their FLOPs do not yet: bodies have no shapes here).
  const countBodies = (nodes: readonly Node[]): void => {
    for (const n of nodes) {
      for (const a of Object.values(n.attributes)) {
        if (a.type !== 'graph') continue;
        for (const m of a.value.nodes) {
          const key = m.domain === '' || m.domain === 'ai.onnx' ? m.opType : `${m.domain}:${m.opType}`;
          ops[key] = (ops[key] ?? 0) + 1;
        }
        countBodies(a.value.nodes);
      }
    }
  };
  countBodies(g.nodes);
  return {
    params,
    nonzeroParams: nonzero,
    parameterBytes: bytes,
    flops: 2 * macs + other,
    macs,
    ops,
    inputs: g.inputs.map(signature),
    outputs: g.outputs.map(signature),
    unknownShapeNodes,
  };
}
