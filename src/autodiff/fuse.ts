// Rewrites of a training-step graph that onnxruntime runs faster without changing what is
// computed: fewer, larger kernels (the in-graph update is memory-bound), and Conv forms that it
// threads better. All but unfoldSingleChannelConvs (forward graph, before differentiation) take
// the finished step.
import type { Graph, Node } from '../ir/graph.js';
import { attr, GraphBuilder, getFloat, getInt, getInts, getString } from '../ir/graph.js';
import type { TypeShape } from '../ir/shape.js';
import { constantValues, inferShapes } from '../ir/shape.js';
import { Tensor } from '../ir/tensor.js';
import { SHAPE_RULES } from '../ops/index.js';

/** The value of a scalar float initializer, or undefined when `name` is not one. */
function scalarInitializer(g: Graph, name: string): number | undefined {
  const t = g.initializers.get(name);
  if (t === undefined || t.size !== 1 || (t.dtype !== 'float32' && t.dtype !== 'float64')) return undefined;
  return t.data[0] as number;
}

/** Weight elements from which a 2+-thread step keeps momentum out of the Gemm (see fuseMomentumIntoGemm). */
const LARGE_FUSED_STATE = 2 ** 18;

/**
 * Momentum folded into the weight gradient's Gemm: `v' = Add(Mul(v, μ), Gemm(A, B))` becomes
 * `v' = Gemm(A, B, C = v, beta = μ)` when the Gemm has no C and feeds only that Add, and `v` has
 * the Gemm output's shape (the state of a fully-connected weight). Gemm computes αAB + βC in one
 * pass: two full passes over the weight-sized tensors (Mul, Add) disappear from every step.
 * For a step run on 2+ `threads`, weights of LARGE_FUSED_STATE elements or more stay unfused:
 * the Gemm's βC pass barely gains from the second thread where Mul and Add split (LeNet-5's
 * fc1, 400k: 0.43–0.45 ms fused, 0.48 at 1 thread, against 0.32–0.34 for Gemm + Mul + Add at 2
 * threads; LeNet-300-100's fc1, 235k: even). Returns how many updates were fused.
 *
 * ```ts
 * fuseMomentumIntoGemm(step.model.graph); // 3 for lenet-300-100 with SGD momentum
 * ```
 */
export function fuseMomentumIntoGemm(g: Graph, threads = 1): number {
  const consumers = new Map<string, Node[]>();
  for (const n of g.nodes) for (const i of n.inputs) if (i !== '') consumers.set(i, [...(consumers.get(i) ?? []), n]);
  const producer = new Map<string, Node>();
  for (const n of g.nodes) for (const o of n.outputs) producer.set(o, n);
  const graphOutputs = new Set(g.outputs.map((o) => o.name));
  const inputs = new Map(g.inputs.map((v) => [v.name, v]));
  const only = (value: string, n: Node): boolean => !graphOutputs.has(value) && (consumers.get(value) ?? []).every((c) => c === n);
  const removed = new Set<Node>();
  let fused = 0;
  for (const add of g.nodes) {
    if (add.opType !== 'Add' || add.domain !== '' || add.inputs.length !== 2) continue;
    for (const [mulSide, gemmSide] of [
      [0, 1],
      [1, 0],
    ] as const) {
      const mul = producer.get(add.inputs[mulSide] as string);
      const gemm = producer.get(add.inputs[gemmSide] as string);
      if (mul?.opType !== 'Mul' || gemm?.opType !== 'Gemm' || gemm.domain !== '' || mul.domain !== '') continue;
      if (gemm.inputs.length > 2 && gemm.inputs[2] !== '') continue;
      if (!only(mul.outputs[0] as string, add) || !only(gemm.outputs[0] as string, add)) continue;
      // Mul(v, μ) with v a graph input (the momentum state) and μ a scalar constant.
      const [m0, m1] = mul.inputs as [string, string];
      const [state, mu] = inputs.has(m0) && scalarInitializer(g, m1) !== undefined ? [m0, m1] : [m1, m0];
      const v = inputs.get(state);
      const muValue = scalarInitializer(g, mu);
      const out = g.valueInfo.get(add.outputs[0] as string);
      if (v === undefined || muValue === undefined || v.shape.length !== 2 || v.shape.some((d) => typeof d !== 'number')) continue;
      if (threads > 1 && (v.shape[0] as number) * (v.shape[1] as number) >= LARGE_FUSED_STATE) continue;
      if (out !== undefined && out.shape.join() !== v.shape.join()) continue;
      if (getFloat(gemm, 'beta', 1) !== 1 && gemm.inputs.length > 2) continue;
      gemm.inputs = [gemm.inputs[0] as string, gemm.inputs[1] as string, state];
      gemm.attributes['beta'] = attr.float(muValue);
      gemm.outputs = [add.outputs[0] as string];
      removed.add(add);
      removed.add(mul);
      fused++;
      break;
    }
  }
  if (fused > 0) g.nodes = g.nodes.filter((n) => !removed.has(n));
  // Constants only the removed Muls read are dropped (onnxruntime warns about unused initializers).
  const read = new Set(g.nodes.flatMap((n) => n.inputs));
  for (const n of removed) for (const i of n.inputs) if (g.initializers.has(i) && !read.has(i)) g.initializers.delete(i);
  return fused;
}

/**
 * How many filter groups Conv `n` runs fastest as: onnxruntime's CPU Conv (MLAS) runs a group-1
 * Conv with more filters than output positions image by image — im2col on one thread, then a
 * small matrix product — which measured no faster at 2 threads than at 1 (ResNet-20's 64-filter
 * convs on 7×7 maps, forward and input gradient: 2.27 ms at 1 thread, 2.55–2.63 at 2); with no
 * more filters than positions it splits the batch across threads (its 16-filter 28×28 convs:
 * 1.5× at 2 threads). 1 where the Conv is fine as it is or its shapes are unknown.
 */
function convFilterGroups(n: Node, shapes: ReadonlyMap<string, TypeShape>): number {
  if (n.opType !== 'Conv' || n.domain !== '' || getInt(n, 'group', 1) !== 1) return 1;
  const w = shapes.get(n.inputs[1] ?? '')?.shape;
  const y = shapes.get(n.outputs[0] ?? '')?.shape;
  const batch = shapes.get(n.inputs[0] ?? '')?.shape[0];
  if (w === undefined || y === undefined || batch === 1) return 1;
  const filters = w[0];
  const positions = y.slice(2).reduce<number | undefined>((p, d) => (p === undefined || typeof d !== 'number' ? undefined : p * d), 1);
  if (typeof filters !== 'number' || positions === undefined || positions < 1 || filters <= positions) return 1;
  // A pointwise stride-1 unpadded Conv is one matrix product per image, threaded over the batch already.
  const pointwise = w.slice(2).every((k) => k === 1) && (getInts(n, 'strides') ?? []).every((v) => v === 1) && (getInts(n, 'pads') ?? []).every((v) => v === 0);
  // Below ~2¹⁸ multiply-adds per image the extra im2col per group costs more than the threads
  // win (the ViT's 7×7-patch Conv, 25k: 0.129 → 0.149–0.172 ms per step at 2 threads).
  const perImage = w.reduce<number>((p, d) => p * (typeof d === 'number' ? d : 0), 1) * positions;
  return pointwise || perImage < 2 ** 18 ? 1 : Math.ceil(filters / positions);
}

/** Every value's shape by Whittle's rules; inference records shapes in valueInfo, so the graph keeps only what it had. */
function shapesOf(g: Graph): Map<string, TypeShape> {
  const recorded = new Map(g.valueInfo);
  const shapes = inferShapes(g, SHAPE_RULES, constantValues(g), { unknown: 'skip' });
  g.valueInfo = recorded;
  return shapes;
}

/**
 * Rebuilds g's node list in order: a node whose plan is undefined stays, every other is replaced by
 * what `rewrite` emits through one GraphBuilder (names from `hint`). Returns how many were replaced.
 */
function rewriteNodes<P>(g: Graph, plans: readonly (P | undefined)[], hint: string, rewrite: (b: GraphBuilder, n: Node, plan: P) => void): number {
  if (plans.every((p) => p === undefined)) return 0;
  const b = new GraphBuilder(g, hint);
  const original = g.nodes;
  g.nodes = [];
  let rewritten = 0;
  original.forEach((n, at) => {
    const p = plans[at];
    if (p === undefined) g.nodes.push(n);
    else {
      rewritten++;
      rewrite(b, n, p);
    }
  });
  return rewritten;
}

/**
 * Every group-1 Conv with more filters than output positions becomes that many Convs over
 * slices of its filters (Split of W and B), their outputs concatenated on the channel axis, so
 * onnxruntime threads it over the batch (see convFilterGroups). Each output value is the same
 * dot product as before, so results are unchanged. Returns how many Convs were split.
 *
 * ```ts
 * splitWideConvs(step.model.graph); // resnet-20 on 28×28: its 7×7 stage's Convs, forward and input gradient
 * ```
 */
export function splitWideConvs(g: Graph): number {
  const shapes = shapesOf(g);
  const groups = g.nodes.map((n) => {
    const k = convFilterGroups(n, shapes);
    return k > 1 ? k : undefined;
  });
  return rewriteNodes(g, groups, 'split_conv', (b, n, parts) => {
    const filters = shapes.get(n.inputs[1] as string)?.shape[0] as number;
    const sizes = Array.from({ length: parts }, (_, i) => Math.floor(filters / parts) + (i < filters % parts ? 1 : 0));
    const sizeInput = b.constant(Tensor.int64(sizes), 'filters');
    const ws = b.op('Split', [n.inputs[1] as string, sizeInput], { axis: attr.int(0) }, parts);
    const bias = n.inputs[2];
    const bs = bias ? b.op('Split', [bias, sizeInput], { axis: attr.int(0) }, parts) : undefined;
    const ys = ws.map((w, i) => b.op1('Conv', [n.inputs[0] as string, w, ...(bs === undefined ? [] : [bs[i] as string])], { ...n.attributes }));
    b.op('Concat', ys, { axis: attr.int(1) }, [n.outputs[0] as string]);
  });
}

/** The Col2Im form of ConvTranspose `n` (group 1, explicit pads), or undefined where it does not apply. */
interface Col2ImPlan {
  inChannels: number;
  outChannels: number;
  kernel: number[];
  outDims: number[];
  strides: number[];
  dilations: number[];
  pads: number[];
}

function col2ImPlan(n: Node, shapes: ReadonlyMap<string, TypeShape>): Col2ImPlan | undefined {
  if (n.opType !== 'ConvTranspose' || n.domain !== '' || getInt(n, 'group', 1) !== 1) return undefined;
  // auto_pad and output_shape derive the pads from the output size: left to ConvTranspose.
  if ((n.attributes['auto_pad'] !== undefined && getString(n, 'auto_pad', 'NOTSET') !== 'NOTSET') || n.attributes['output_shape'] !== undefined)
    return undefined;
  const x = shapes.get(n.inputs[0] ?? '')?.shape;
  const w = shapes.get(n.inputs[1] ?? '')?.shape;
  const y = shapes.get(n.outputs[0] ?? '')?.shape;
  if (x === undefined || w === undefined || y === undefined || x.length < 3 || w.length !== x.length || y.length !== x.length) return undefined;
  const spatial = x.length - 2;
  const numbers = (dims: readonly (number | string)[]): dims is number[] => dims.every((d) => typeof d === 'number');
  const [inChannels, outChannels, ...kernel] = w;
  const outDims = y.slice(2);
  if (!numbers(w) || !numbers(outDims) || typeof inChannels !== 'number' || typeof outChannels !== 'number' || !numbers(x.slice(1))) return undefined;
  const ones = Array.from({ length: spatial }, () => 1);
  const strides = getInts(n, 'strides') ?? ones;
  const dilations = getInts(n, 'dilations') ?? ones;
  const pads = getInts(n, 'pads') ?? [...ones, ...ones].map(() => 0);
  const outputPadding = getInts(n, 'output_padding') ?? ones.map(() => 0);
  // Col2Im finds the input's positions from the output size: exact while output_padding < stride.
  if (outputPadding.some((p, i) => p >= (strides[i] as number))) return undefined;
  return { inChannels, outChannels, kernel: kernel as number[], outDims, strides, dilations, pads };
}

/**
 * Every group-1 ConvTranspose with explicit pads becomes one batched matrix product and a
 * Col2Im: cols[N, Cout·k, L] = Wᵀ[Cout·k, Cin] · X[N, Cin, L], then Col2Im sums the columns into
 * the output image, and the bias is added. The same sums as ConvTranspose, which onnxruntime runs
 * image by image (a small threaded product and a scatter per image, each a thread-pool round trip)
 * and which therefore did not run faster at 2 threads than at 1 (LeNet-5's conv2 input gradient:
 * ~1.6 ms per step either way); the batched product is one threaded kernel
 * (0.87 + 0.37 ms of Col2Im at 2 threads, in a loaded machine's fastest runs), while at 1 thread
 * the pair is ~10% slower than ConvTranspose. Col2Im is an opset-18 op: the caller raises the
 * graph's opset (upgradeOpset to 18). Returns how many were rewritten.
 *
 * ```ts
 * convTransposeAsMatMul(step.model.graph); // lenet-5: conv2's input gradient
 * ```
 */
export function convTransposeAsMatMul(g: Graph): number {
  const shapes = shapesOf(g);
  return rewriteNodes(
    g,
    g.nodes.map((n) => col2ImPlan(n, shapes)),
    'col2im',
    (b, n, p) => {
      const block = p.kernel.reduce((a, k) => a * k, 1);
      // W [Cin, Cout, k…] → [Cin, Cout·k] → its transpose (onnxruntime folds it into the product).
      const wt = b.op1('Transpose', [b.op1('Reshape', [n.inputs[1] as string, b.constant(Tensor.int64([p.inChannels, p.outChannels * block]), 'shape')])], {
        perm: attr.ints([1, 0]),
      });
      const x = b.op1('Reshape', [n.inputs[0] as string, b.constant(Tensor.int64([0, p.inChannels, -1]), 'shape')]);
      const cols = b.op1('MatMul', [wt, x]);
      const bias = n.inputs[2];
      const image = b.op(
        'Col2Im',
        [cols, b.constant(Tensor.int64(p.outDims), 'image_shape'), b.constant(Tensor.int64(p.kernel), 'block_shape')],
        {
          strides: attr.ints(p.strides),
          dilations: attr.ints(p.dilations),
          pads: attr.ints(p.pads),
        },
        bias ? 1 : [n.outputs[0] as string],
      )[0] as string;
      if (bias) {
        const perChannel = b.op1('Reshape', [bias, b.constant(Tensor.int64([p.outChannels, ...p.outDims.map(() => 1)]), 'shape')]);
        b.op('Add', [image, perChannel], {}, [n.outputs[0] as string]);
      }
    },
  );
}

/** How Conv `n` reads the model's single-channel input, or undefined when unfoldSingleChannelConvs leaves it. */
interface UnfoldPlan {
  filters: number;
  kernel: number[];
  outDims: number[];
}

/** Unfolded values per image above which the rewrite is skipped: cols is materialized for the whole batch and kept for the backward pass. */
const MAX_UNFOLD_PER_IMAGE = 2 ** 16;

function unfoldPlan(n: Node, input: string, shapes: ReadonlyMap<string, TypeShape>): UnfoldPlan | undefined {
  if (n.opType !== 'Conv' || n.domain !== '' || n.inputs[0] !== input || getInt(n, 'group', 1) !== 1) return undefined;
  const x = shapes.get(input);
  const w = shapes.get(n.inputs[1] ?? '')?.shape;
  const y = shapes.get(n.outputs[0] ?? '')?.shape;
  if (x?.dtype !== 'float32' || w === undefined || y === undefined || x.shape.length < 3 || x.shape[1] !== 1 || w.length !== x.shape.length) return undefined;
  const [filters, , ...kernel] = w;
  const outDims = y.slice(2);
  const numbers = (dims: readonly (number | string | undefined)[]): dims is number[] => dims.every((d) => typeof d === 'number');
  if (typeof filters !== 'number' || !numbers(kernel) || !numbers(outDims)) return undefined;
  const product = (dims: readonly number[]): number => dims.reduce((a, d) => a * d, 1);
  if ((product(kernel) + 1) * product(outDims) > MAX_UNFOLD_PER_IMAGE) return undefined;
  return { filters, kernel, outDims };
}

/**
 * Every group-1 float32 Conv that reads `input` (the model's input) with one channel becomes a
 * matrix product over the input's unfold: cols[N, K, L] = Conv(X, identity filters), filter k
 * copying kernel offset k (K offsets, L output positions), plus, when the Conv has a bias, one
 * more filter, all zero with bias 1: a row of ones. Then Y = [W | B][M, K + 1] · cols, reshaped
 * to [N, M, out…]. Applied to the forward graph before differentiation: the weight and bias
 * gradients then come out of one batched product dY · colsᵀ summed over the batch, where the
 * Conv form needs a batch-as-channels Conv (a long, narrow product that a second thread barely
 * speeds up) and a ReduceSum over dY; the input needs no gradient. The same sums in another
 * order. LeNet-5's conv1 at 2 threads: 1.09 → 0.99 ms per step of kernel time (each node at its
 * fastest, loaded machine); at 1 thread 1.35 → 1.52. buildTrainStep applies it on request
 * (`unfoldInputConvs`).
 * Returns how many Convs were rewritten.
 *
 * ```ts
 * unfoldSingleChannelConvs(g, 'input'); // lenet-5: conv1
 * ```
 */
export function unfoldSingleChannelConvs(g: Graph, input: string): number {
  const shapes = shapesOf(g);
  return rewriteNodes(
    g,
    g.nodes.map((n) => unfoldPlan(n, input, shapes)),
    'unfold',
    (b, n, p) => {
      const offsets = p.kernel.reduce((a, k) => a * k, 1);
      const bias = n.inputs[2] || undefined;
      const rows = offsets + (bias ? 1 : 0);
      const identity = new Float32Array(rows * offsets);
      for (let k = 0; k < offsets; k++) identity[k * offsets + k] = 1;
      const onesRow = new Float32Array(rows);
      if (bias) onesRow[offsets] = 1;
      const { kernel_shape: _kernel, ...rest } = n.attributes;
      const filters = b.constant(Tensor.fromArray('float32', [rows, 1, ...p.kernel], identity), 'unfold_filters');
      const cols = b.op1('Conv', [input, filters, ...(bias ? [b.constant(Tensor.fromArray('float32', [rows], onesRow), 'unfold_bias')] : [])], {
        ...rest,
        kernel_shape: attr.ints(p.kernel),
      });
      const flat = b.op1('Reshape', [cols, b.constant(Tensor.int64([0, rows, -1]), 'shape')]);
      const matrix = b.op1('Reshape', [n.inputs[1] as string, b.constant(Tensor.int64([p.filters, offsets]), 'shape')]);
      const weights = bias
        ? b.op1('Concat', [matrix, b.op1('Reshape', [bias, b.constant(Tensor.int64([p.filters, 1]), 'shape')])], { axis: attr.int(1) })
        : matrix;
      const y = b.op1('MatMul', [weights, flat]);
      b.op('Reshape', [y, b.constant(Tensor.int64([0, p.filters, ...p.outDims]), 'shape')], {}, [n.outputs[0] as string]);
    },
  );
}

const ASSUMED_BATCH = 64;

/**
 * Conv `n` as two half-kernel Convs in one group-2 Conv, or undefined: a group-1 Conv over a
 * single image (static batch 1) whose output is small (filters × positions under 2¹²) but whose
 * reduction is long (2¹⁸ multiply-adds or more), e.g. the weight gradient of a Conv on a
 * single-channel input (the batch-as-channels form: the batch is the reduction). onnxruntime
 * threads such a Conv inside one narrow matrix product and barely gains from a second thread;
 * with two groups it runs one per thread.
 */
function halfKernelPlan(n: Node, shapes: ReadonlyMap<string, TypeShape>): { kernel: number[]; dilation: number; stride: number } | undefined {
  if (n.opType !== 'Conv' || n.domain !== '' || getInt(n, 'group', 1) !== 1) return undefined;
  if (n.attributes['auto_pad'] !== undefined && getString(n, 'auto_pad', 'NOTSET') !== 'NOTSET') return undefined;
  const x = shapes.get(n.inputs[0] ?? '')?.shape;
  const w = shapes.get(n.inputs[1] ?? '')?.shape;
  const y = shapes.get(n.outputs[0] ?? '')?.shape;
  if (x === undefined || w === undefined || y === undefined || x.length !== 4 || x[0] !== 1 || w.length !== 4) return undefined;
  const [filters, , kh, kw] = w;
  const [, , oh, ow] = y;
  if (typeof filters !== 'number' || typeof kh !== 'number' || typeof kw !== 'number' || typeof oh !== 'number' || typeof ow !== 'number') return undefined;
  if (kh % 2 !== 0 || (getInts(n, 'pads') ?? []).some((p) => p !== 0)) return undefined;
  // A symbolic channel count is the batch (a weight gradient's reduction): sized as a batch of 64.
  const channels = typeof x[1] === 'number' ? x[1] : ASSUMED_BATCH;
  if (filters * oh * ow >= 2 ** 12 || filters * oh * ow * channels * kh * kw < 2 ** 18) return undefined;
  return { kernel: [kh, kw], dilation: getInts(n, 'dilations')?.[0] ?? 1, stride: getInts(n, 'strides')?.[0] ?? 1 };
}

/**
 * Every Conv that halfKernelPlan picks becomes one Conv with group 2 over [top rows; bottom rows]
 * of the input (concatenated on the channel axis) and the kernel's top and bottom halves (as the
 * two groups' filters), then the two groups' outputs are summed: the same sums in a different
 * order. Where the kernel is a Transpose(T, [1, 0, 2, 3]) read only there (the batch-as-channels
 * weight gradient), the halves come from T with one Transpose. Returns how many were rewritten.
 *
 * ```ts
 * splitLongConvs(step.model.graph); // lenet-5: conv1's weight gradient
 * ```
 */
export function splitLongConvs(g: Graph): number {
  const shapes = shapesOf(g);
  const plans = g.nodes.map((n) => halfKernelPlan(n, shapes));
  if (plans.every((p) => p === undefined)) return 0;
  const producer = new Map<string, Node>();
  for (const n of g.nodes) for (const o of n.outputs) producer.set(o, n);
  const reads = new Map<string, number>();
  for (const n of g.nodes) for (const i of n.inputs) reads.set(i, (reads.get(i) ?? 0) + 1);
  const graphOutputs = new Set(g.outputs.map((o) => o.name));
  return rewriteNodes(g, plans, 'half_kernel', (b, n, p) => {
    const i64 = (v: number[], hint: string): string => b.constant(Tensor.int64(v), hint);
    const [kh, kw] = p.kernel as [number, number];
    const half = kh / 2;
    const [x, w] = n.inputs as [string, string];
    const xDims = shapes.get(x)?.shape as (number | string)[];
    const rows = xDims[2] as number;
    const oh = shapes.get(n.outputs[0] as string)?.shape[2] as number;
    // Input rows the top half reads, and where the bottom half's start.
    const span = (oh - 1) * p.stride + (half - 1) * p.dilation + 1;
    const top = b.op1('Slice', [x, i64([0], 'starts'), i64([span], 'ends'), i64([2], 'axes')]);
    const bottom = b.op1('Slice', [x, i64([half * p.dilation], 'starts'), i64([Math.min(rows, half * p.dilation + span)], 'ends'), i64([2], 'axes')]);
    const stacked = b.op1('Concat', [top, bottom], { axis: attr.int(1) });
    // [M, C, 2, kh/2, kw] → [2, M, C, kh/2, kw], or from T [C, M, …] when W = Transpose(T).
    const t = producer.get(w);
    const fromT =
      t?.opType === 'Transpose' && t.domain === '' && getInts(t, 'perm')?.join() === '1,0,2,3' && reads.get(w) === 1 && !graphOutputs.has(w) ? t : undefined;
    const halves = fromT
      ? b.op1('Transpose', [b.op1('Reshape', [fromT.inputs[0] as string, i64([0, 0, 2, half, kw], 'shape')])], { perm: attr.ints([2, 1, 0, 3, 4]) })
      : b.op1('Transpose', [b.op1('Reshape', [w, i64([0, 0, 2, half, kw], 'shape')])], { perm: attr.ints([2, 0, 1, 3, 4]) });
    const filters = shapes.get(w)?.shape[0] as number;
    const weights = b.op1('Reshape', [halves, i64([2 * filters, -1, half, kw], 'shape')]);
    const { kernel_shape: _kernel, group: _group, ...rest } = n.attributes;
    const both = b.op1('Conv', [stacked, weights], { ...rest, kernel_shape: attr.ints([half, kw]), group: attr.int(2) });
    const bias = n.inputs[2];
    const y = n.outputs[0] as string;
    const [sum] = b.op(
      'ReduceSum',
      [b.op1('Reshape', [both, i64([2, 1, filters, oh, -1], 'shape')]), i64([0], 'axes')],
      { keepdims: attr.int(0) },
      bias ? 1 : [y],
    );
    if (bias) b.op('Add', [sum as string, b.op1('Reshape', [bias, i64([filters, 1, 1], 'shape')])], {}, [y]);
    if (fromT) g.nodes = g.nodes.filter((m) => m !== fromT);
  });
}
