// fp16 export, two forms. 'weights' (default): every weight stored as float16 (half the file) and
// cast back to float32 where read; onnxruntime folds the casts at load and computes in float32.
// 'compute': the graph computes in float16 (values and weights); graph inputs and outputs keep
// float32 with a Cast at the boundary, and ops that overflow or lose precision in half (or need
// float32 operands) stay float32 behind Casts, as onnxruntime's float16 converter does: the form
// for GPU/WebGPU. Why 'weights' is the default, measured with onnxruntime-node 1.30 on its CPU:
// float16 graphs of CNNs load and run (onnxruntime casts around the kernels it lacks, so they run
// no faster), but the opset-13 Transformer encoder of the test corpus in float16 crashes the
// process (segmentation fault) at graphOptimizationLevel 'all' — a crash no error can report.
import type { Graph, Model, Node } from '../ir/graph.js';
import { attr, GraphBuilder } from '../ir/graph.js';
import { toHalfBits } from '../ir/half.js';
import type { DType } from '../ir/tensor.js';
import { Tensor } from '../ir/tensor.js';
import { valueTypes } from '../ir/value-types.js';

/** float32 ↔ IEEE binary16 bits (round to nearest even); the same conversion the container uses. */
export { fromHalfBits as fromFloat16Bits, toHalfBits as toFloat16Bits } from '../ir/half.js';

/**
 * Ops kept in float32 by default: onnxruntime's float16 converter's list for standard ops (index
 * and box arithmetic, sampling, Resize scales that must be float32), plus ops whose results
 * overflow half's ±65504 or lose its 11 bits quickly (Exp, Pow, sums of squares, products, logs).
 */
export const FP16_DEFAULT_BLOCK: readonly string[] = [
  'Range',
  'NonMaxSuppression',
  'TopK',
  'RoiAlign',
  'Resize',
  'Upsample',
  'CumSum',
  'Min',
  'Max',
  'RandomNormal',
  'RandomUniform',
  'RandomNormalLike',
  'RandomUniformLike',
  'Multinomial',
  'EyeLike',
  'Exp',
  'Log',
  'Pow',
  'ReduceSumSquare',
  'ReduceL2',
  'ReduceLogSum',
  'ReduceLogSumExp',
  'ReduceProd',
  // Their float operands are float32 before opset 19.
  'QuantizeLinear',
  'DequantizeLinear',
  'DynamicQuantizeLinear',
];

export interface Fp16Options {
  /** 'weights' (default): float16 storage, float32 compute; 'compute': float16 graph. */
  mode?: 'compute' | 'weights';
  /** Op types or node names kept in float32; default FP16_DEFAULT_BLOCK. */
  block?: readonly string[];
}

const HALF_MAX = 65504;

function toHalf(t: Tensor): Tensor {
  const h = new Uint16Array(t.size);
  // Values beyond half's range are clamped (not turned into infinities), as onnxruntime's converter does.
  for (let i = 0; i < t.size; i++) h[i] = toHalfBits(Math.max(-HALF_MAX, Math.min(HALF_MAX, t.data[i] as number)));
  return new Tensor('float16', t.dims, h);
}

/**
 * fp16 form of a model (see Fp16Options).
 *
 * ```ts
 * saveModel(exportFp16(model), 'model-fp16.onnx');
 * saveModel(exportFp16(model, { mode: 'compute', block: [...FP16_DEFAULT_BLOCK, 'Softmax'] }), 'model-fp16-gpu.onnx');
 * ```
 */
export function exportFp16(model: Model, o: Fp16Options = {}): Model {
  const block = new Set(o.block ?? FP16_DEFAULT_BLOCK);
  const compute = o.mode === 'compute';
  const g = compute ? halfCompute(model, block) : halfWeights(model.graph, block);
  return { ...model, graph: g, metadata: { ...model.metadata, 'whittle.quantization': compute ? 'fp16' : 'fp16-weights' } };
}

/**
 * Every float32 initializer not read only by blocked ops stored as float16, cast back where read;
 * the same inside If/Loop/Scan bodies, whose own weights (Silero VAD keeps both of its models
 * there) are cast at the top of the body that holds them.
 */
function halfWeights(graph: Graph, block: ReadonlySet<string>): Graph {
  const g = graph.clone();
  for (const n of g.nodes)
    for (const [key, a] of Object.entries(n.attributes)) if (a.type === 'graph') n.attributes[key] = attr.graph(halfWeights(a.value, block));
  const b = new GraphBuilder(g, 'fp16');
  const casts: Node[] = [];
  for (const [name, t] of [...g.initializers]) {
    const readers = readersOf(g, name);
    // Small tensors (biases of narrow layers, scalars) would save fewer bytes than their Cast costs.
    if (t.dtype !== 'float32' || t.size < 32 || (readers.length > 0 && readers.every((n) => block.has(n.opType) || block.has(n.name)))) continue;
    const half = `${name}.fp16`;
    g.initializers.delete(name);
    g.initializers.set(half, toHalf(t));
    casts.push({ name: b.fresh(`${name}.cast`), opType: 'Cast', domain: '', inputs: [half], outputs: [name], attributes: { to: attr.int(1) } });
  }
  g.nodes = [...casts, ...g.nodes];
  return g;
}

/** The nodes reading `name`: the graph's own and those inside its bodies, which see it too. */
function readersOf(g: Graph, name: string): Node[] {
  const out: Node[] = [];
  for (const n of g.nodes) {
    if (n.inputs.includes(name)) out.push(n);
    for (const a of Object.values(n.attributes)) if (a.type === 'graph') out.push(...readersOf(a.value, name));
  }
  return out;
}

function hasSubgraph(n: Node): boolean {
  return Object.values(n.attributes).some((a) => a.type === 'graph');
}

/** The float16-compute graph: float32 values become float16 except around blocked nodes. */
function halfCompute(model: Model, block: ReadonlySet<string>): Graph {
  const g = model.graph.clone();
  const types = valueTypes(model);
  const isF32 = (v: string): boolean => types.get(v) === 'float32';
  const unknown = (v: string): boolean => v !== '' && types.get(v) === undefined;
  // A node computes in half unless blocked, in another domain, holding subgraphs, or reading a value of unknown type.
  const half = new Set(g.nodes.filter((n) => n.domain === '' && !block.has(n.opType) && !block.has(n.name) && !hasSubgraph(n) && !n.inputs.some(unknown)));
  const outputs = new Set(g.outputs.map((v) => v.name));
  const b = new GraphBuilder(g, 'fp16');
  // Where each float32 value lives natively: in half (made by a half node, or a weight half nodes read) or in float32.
  const producer = new Map<string, Node>();
  for (const n of g.nodes) for (const out of n.outputs) producer.set(out, n);
  const homeHalf = (v: string): boolean => {
    const p = producer.get(v);
    return p !== undefined ? half.has(p) : g.initializers.has(v);
  };
  const front: Node[] = [];
  const casts = new Map<string, string>();
  const cast = (v: string, to: 'float16' | 'float32', after: Node | undefined): string => {
    const key = `${v}|${to}`;
    const known = casts.get(key);
    if (known !== undefined) return known;
    const out = b.fresh(`${v}.${to === 'float16' ? 'fp16' : 'fp32'}`);
    const node: Node = {
      name: b.fresh(`${v}.cast`),
      opType: 'Cast',
      domain: '',
      inputs: [v],
      outputs: [out],
      attributes: { to: attr.int(to === 'float16' ? 10 : 1) },
    };
    if (after === undefined) front.push(node);
    else g.nodes.splice(g.nodes.indexOf(after) + 1, 0, node);
    casts.set(key, out);
    return out;
  };
  // Graph outputs made in half: the producer writes a half value, a Cast restores the float32 name.
  const renamed = new Map<string, string>();
  for (const n of [...g.nodes]) {
    if (!half.has(n)) continue;
    n.outputs = n.outputs.map((out) => {
      if (!outputs.has(out) || !isF32(out)) return out;
      const h = b.fresh(`${out}.fp16`);
      renamed.set(out, h);
      g.nodes.splice(g.nodes.indexOf(n) + 1, 0, {
        name: b.fresh(`${out}.cast`),
        opType: 'Cast',
        domain: '',
        inputs: [h],
        outputs: [out],
        attributes: { to: attr.int(1) },
      });
      return out === h ? out : h;
    });
  }
  // Weights read by half nodes become half tensors (a float32 copy stays if a float32 node reads them too).
  for (const [name, t] of [...g.initializers]) {
    if (t.dtype !== 'float32') continue;
    const readers = g.nodes.filter((n) => n.inputs.includes(name));
    if (!readers.some((n) => half.has(n))) continue;
    if (readers.every((n) => half.has(n))) g.initializers.set(name, toHalf(t));
    else {
      const h = b.fresh(`${name}.fp16`);
      g.initializers.set(h, toHalf(t));
      casts.set(`${name}|float16`, h);
    }
  }
  const halfName = (v: string): string => renamed.get(v) ?? v;
  for (const n of [...g.nodes]) {
    if (n.opType === 'Cast' && n.name.startsWith('fp16/')) continue;
    const inHalf = half.has(n);
    n.inputs = n.inputs.map((v) => {
      if (v === '' || !isF32(v)) return v;
      const native = homeHalf(v) && !(g.initializers.has(v) && g.initializers.get(v)?.dtype === 'float32');
      if (inHalf) return native ? halfName(v) : cast(v, 'float16', producer.get(v));
      return native ? (outputs.has(v) ? v : cast(halfName(v), 'float32', producer.get(v))) : v;
    });
    if (inHalf) retypeAttributes(n);
  }
  g.nodes = [...front, ...g.nodes];
  return g;
}

/** Attributes that name float32 inside a node now computing in half. */
function retypeAttributes(n: Node): void {
  const to = n.attributes['to'];
  if (n.opType === 'Cast' && to?.type === 'int' && to.value === 1) n.attributes['to'] = attr.int(10);
  for (const key of ['value']) {
    const a = n.attributes[key];
    if (a?.type === 'tensor' && a.value.dtype === ('float32' satisfies DType)) n.attributes[key] = attr.tensor(toHalf(a.value));
  }
  if (n.opType === 'Constant') {
    const f = n.attributes['value_float'];
    const fs = n.attributes['value_floats'];
    if (f?.type === 'float') n.attributes = { value: attr.tensor(toHalf(Tensor.scalar('float32', f.value))) };
    if (fs?.type === 'floats') n.attributes = { value: attr.tensor(toHalf(Tensor.fromArray('float32', [fs.value.length], fs.value))) };
  }
}
