// Layer builders: each call appends standard ONNX nodes (opset 17) and seeded parameters to a
// Graph. Naming is the contract later tools rely on: the node is named after the layer, its
// output value carries the same name, and parameters are `${layer}.weight` / `${layer}.bias`
// (BatchNorm adds `${layer}.running_mean` / `${layer}.running_var`), as PyTorch names them.
import { WhittleError } from '../ir/errors.js';
import type { Attribute, Dim, Model } from '../ir/graph.js';
import { attr, Graph, makeModel } from '../ir/graph.js';
import type { DType } from '../ir/tensor.js';
import { Tensor } from '../ir/tensor.js';
import { trainableInitializers } from '../ir/params.js';
import type { InitKind } from './init.js';
import { filled, initWeight, Rng } from './init.js';

export interface DenseOptions {
  name?: string;
  /** Default true. */
  bias?: boolean;
  /** 'he' when a ReLU follows, else 'glorot' (the default). */
  init?: InitKind;
}

export interface Conv2dOptions {
  name?: string;
  /** Default 1. A pair is [h, w]. */
  stride?: number | [number, number];
  /** Symmetric zero padding per side; default 0. */
  pad?: number | [number, number];
  /** Default 1. */
  dilation?: number | [number, number];
  /** Default 1; inC and outC must both be divisible by it. */
  groups?: number;
  /** Default true; pass false before a BatchNorm. */
  bias?: boolean;
  /** 'he' when a ReLU follows (possibly after a BatchNorm), else 'glorot' (the default). */
  init?: InitKind;
}

export interface BatchNormOptions {
  name?: string;
  /** Default 1e-5. */
  epsilon?: number;
  /** Running-statistics momentum in ONNX's convention (weight of the old value); default 0.9. */
  momentum?: number;
}

export interface Pool2dOptions {
  name?: string;
  /** Default: the kernel size. */
  stride?: number | [number, number];
  /** Default 0. */
  pad?: number | [number, number];
}

export interface BuilderOptions {
  /** Seed for every parameter this builder initializes; default 0. */
  seed?: number;
}

function pair(v: number | [number, number], what: string): [number, number] {
  const p: [number, number] = typeof v === 'number' ? [v, v] : v;
  if (!p.every((x) => Number.isInteger(x) && x >= 0))
    throw new WhittleError('BAD_ARGUMENT', `${what} must be a non-negative integer or a pair of them, got ${JSON.stringify(v)}`);
  return p;
}

/** Output size of a sliding window (floor mode, as ONNX computes with ceil_mode=0). */
function windowOut(size: Dim | undefined, kernel: number, stride: number, pad: number, dilation: number): Dim | undefined {
  if (typeof size !== 'number') return undefined;
  return Math.floor((size + 2 * pad - dilation * (kernel - 1) - 1) / stride) + 1;
}

const fmt = (s: readonly Dim[] | undefined): string => (s === undefined ? 'unknown' : `[${s.join(', ')}]`);

/**
 * Builds a model layer by layer; parameters are initialized from one seeded generator in call
 * order, so the same seed and the same calls give identical weights.
 *
 * ```ts
 * const b = new ModelBuilder('mlp', { seed: 1 });
 * let x = b.flatten(b.input('input', ['N', 1, 28, 28]));
 * x = b.relu(b.dense(x, 784, 100, { name: 'fc1', init: 'he' }));
 * b.output(b.dense(x, 100, 10, { name: 'fc2' }), 'logits');
 * const model = b.build({ 'whittle.zoo': 'my-mlp' });
 * ```
 */
export class ModelBuilder {
  readonly graph: Graph;
  readonly rng: Rng;
  #shapes = new Map<string, Dim[] | undefined>();
  #dtypes = new Map<string, DType>();
  #used = new Set<string>();
  #counters = new Map<string, number>();

  constructor(name = 'model', options: BuilderOptions = {}) {
    this.graph = new Graph(name);
    this.rng = new Rng(options.seed ?? 0);
  }

  /** Declares a graph input and returns its value name. */
  input(name: string, shape: Dim[], dtype: DType = 'float32'): string {
    this.#claim(name);
    this.graph.inputs.push({ name, dtype, shape: [...shape] });
    this.#shapes.set(name, [...shape]);
    this.#dtypes.set(name, dtype);
    return name;
  }

  /** The shape recorded for a value, if known. */
  shapeOf(value: string): Dim[] | undefined {
    const s = this.#shapes.get(value);
    return s === undefined ? undefined : [...s];
  }

  /**
   * Marks `value` as a graph output, renaming it to `name` (e.g. 'logits'); the producing node
   * keeps its layer name.
   */
  output(value: string, name = value): string {
    const shape = this.#shapes.get(value);
    const dtype = this.#dtypes.get(value) ?? 'float32';
    let out = value;
    if (name !== value) {
      const producer = this.graph.producerOf(value);
      if (producer === undefined || this.graph.outputs.some((o) => o.name === value)) {
        out = this.#emit('Identity', this.#layerName(undefined, 'identity'), [value], {}, shape, name);
      } else {
        this.#claim(name);
        producer.outputs = producer.outputs.map((o) => (o === value ? name : o));
        for (const n of this.graph.nodes) n.inputs = n.inputs.map((i) => (i === value ? name : i));
        this.graph.valueInfo.delete(value);
        this.#shapes.delete(value);
        this.#shapes.set(name, shape);
        this.#dtypes.set(name, dtype);
        out = name;
      }
    }
    this.graph.valueInfo.delete(out);
    this.graph.outputs.push({ name: out, dtype, shape: shape ?? ['?'] });
    return out;
  }

  /** Wraps the graph as a Model (opset 17) with `metadata` as its metadata_props. */
  build(metadata: Record<string, string> = {}): Model {
    if (this.graph.outputs.length === 0)
      throw new WhittleError('BAD_ARGUMENT', `model "${this.graph.name}" has no outputs; call output(value, 'logits') before build()`);
    return makeModel(this.graph, metadata);
  }

  /** Fully connected layer: Gemm(x, W, b) with transB=1, W stored [out, in] like PyTorch. */
  dense(x: string, inFeatures: number, outFeatures: number, options: DenseOptions = {}): string {
    const name = this.#layerName(options.name, 'fc');
    const s = this.#shapes.get(x);
    if (s !== undefined && (s.length !== 2 || (typeof s[1] === 'number' && s[1] !== inFeatures))) {
      throw new WhittleError(
        'SHAPE_MISMATCH',
        `Gemm "${name}" expects input [N, ${inFeatures}], got ${fmt(s)}${s.length > 2 ? '; did you forget a flatten()?' : ''}`,
      );
    }
    const inputs = [x, this.#param(name, 'weight', initWeight(this.rng, [outFeatures, inFeatures], options.init ?? 'glorot'))];
    if (options.bias ?? true) inputs.push(this.#param(name, 'bias', filled([outFeatures], 0)));
    return this.#emit('Gemm', name, inputs, { transB: attr.int(1) }, [s?.[0] ?? 'N', outFeatures]);
  }

  /** 2-D convolution: Conv(x, W, b), W stored [outC, inC/groups, kh, kw]. */
  conv2d(x: string, inChannels: number, outChannels: number, kernel: number | [number, number], options: Conv2dOptions = {}): string {
    const name = this.#layerName(options.name, 'conv');
    const [kh, kw] = pair(kernel, `Conv "${name}" kernel`);
    const [sh, sw] = pair(options.stride ?? 1, `Conv "${name}" stride`);
    const [ph, pw] = pair(options.pad ?? 0, `Conv "${name}" pad`);
    const [dh, dw] = pair(options.dilation ?? 1, `Conv "${name}" dilation`);
    const groups = options.groups ?? 1;
    if (!Number.isInteger(groups) || groups < 1 || inChannels % groups !== 0 || outChannels % groups !== 0) {
      throw new WhittleError('BAD_ARGUMENT', `Conv "${name}": groups=${groups} must divide both inChannels (${inChannels}) and outChannels (${outChannels})`);
    }
    const s = this.#expect4d(x, 'Conv', name, inChannels);
    const w = initWeight(this.rng, [outChannels, inChannels / groups, kh, kw], options.init ?? 'glorot');
    const inputs = [x, this.#param(name, 'weight', w)];
    if (options.bias ?? true) inputs.push(this.#param(name, 'bias', filled([outChannels], 0)));
    const attributes = {
      kernel_shape: attr.ints([kh, kw]),
      strides: attr.ints([sh, sw]),
      pads: attr.ints([ph, pw, ph, pw]),
      dilations: attr.ints([dh, dw]),
      group: attr.int(groups),
    };
    const shape = s && [s[0] ?? 'N', outChannels, windowOut(s[2], kh, sh, ph, dh), windowOut(s[3], kw, sw, pw, dw)];
    return this.#emit('Conv', name, inputs, attributes, shape);
  }

  /** BatchNormalization in inference form: weight (scale) 1, bias 0, running mean 0, running var 1. */
  batchNorm(x: string, channels: number, options: BatchNormOptions = {}): string {
    const name = this.#layerName(options.name, 'bn');
    const s = this.#shapes.get(x);
    if (s !== undefined && (s.length < 2 || (typeof s[1] === 'number' && s[1] !== channels))) {
      throw new WhittleError('SHAPE_MISMATCH', `BatchNormalization "${name}" expects ${channels} channels on axis 1, got ${fmt(s)}`);
    }
    const inputs = [
      x,
      this.#param(name, 'weight', filled([channels], 1)),
      this.#param(name, 'bias', filled([channels], 0)),
      this.#param(name, 'running_mean', filled([channels], 0)),
      this.#param(name, 'running_var', filled([channels], 1)),
    ];
    const attributes = { epsilon: attr.float(options.epsilon ?? 1e-5), momentum: attr.float(options.momentum ?? 0.9) };
    return this.#emit('BatchNormalization', name, inputs, attributes, s);
  }

  relu(x: string, name?: string): string {
    return this.#unary('Relu', x, this.#layerName(name, 'relu'));
  }

  /** LeakyRelu with slope `alpha` (default 0.01) for negative inputs. */
  leakyRelu(x: string, alpha = 0.01, name?: string): string {
    return this.#unary('LeakyRelu', x, this.#layerName(name, 'leaky_relu'), { alpha: attr.float(alpha) });
  }

  /** ReLU6 = Clip(x, 0, 6), with the bounds as scalar initializers `${name}.min` / `${name}.max`. */
  relu6(x: string, name?: string): string {
    const n = this.#layerName(name, 'relu6');
    const lo = this.#param(n, 'min', Tensor.scalar('float32', 0));
    const hi = this.#param(n, 'max', Tensor.scalar('float32', 6));
    return this.#emit('Clip', n, [x, lo, hi], {}, this.#shapes.get(x));
  }

  sigmoid(x: string, name?: string): string {
    return this.#unary('Sigmoid', x, this.#layerName(name, 'sigmoid'));
  }

  tanh(x: string, name?: string): string {
    return this.#unary('Tanh', x, this.#layerName(name, 'tanh'));
  }

  /** MaxPool over 2-D windows; stride defaults to the kernel size. */
  maxPool2d(x: string, kernel: number | [number, number], options: Pool2dOptions = {}): string {
    return this.#pool('MaxPool', x, kernel, this.#layerName(options.name, 'pool'), options);
  }

  /** AveragePool over 2-D windows (padding excluded from the average); stride defaults to the kernel size. */
  avgPool2d(x: string, kernel: number | [number, number], options: Pool2dOptions = {}): string {
    return this.#pool('AveragePool', x, kernel, this.#layerName(options.name, 'avgpool'), options);
  }

  /** GlobalAveragePool: [N, C, H, W] → [N, C, 1, 1]. */
  globalAvgPool(x: string, name?: string): string {
    const n = this.#layerName(name, 'gap');
    const s = this.#expect4d(x, 'GlobalAveragePool', n);
    return this.#emit('GlobalAveragePool', n, [x], {}, s && [s[0] ?? 'N', s[1] ?? '?', 1, 1]);
  }

  /** Dropout with `ratio` stored as the initializer `${name}.ratio`; identity at inference. */
  dropout(x: string, ratio = 0.5, name?: string): string {
    const n = this.#layerName(name, 'dropout');
    if (!(ratio >= 0 && ratio < 1)) throw new WhittleError('BAD_ARGUMENT', `Dropout "${n}": ratio must be in [0, 1), got ${ratio}`);
    const r = this.#param(n, 'ratio', Tensor.scalar('float32', ratio));
    return this.#emit('Dropout', n, [x, r], {}, this.#shapes.get(x));
  }

  /** Flatten with axis=1: [N, d1, d2, ...] → [N, d1·d2·…]. */
  flatten(x: string, name?: string): string {
    const n = this.#layerName(name, 'flatten');
    const s = this.#shapes.get(x);
    let shape: Dim[] | undefined;
    if (s !== undefined) {
      const rest = s.slice(1);
      shape = rest.every((d) => typeof d === 'number') ? [s[0] ?? 'N', rest.reduce<number>((a, d) => a * (d as number), 1)] : undefined;
    }
    return this.#emit('Flatten', n, [x], { axis: attr.int(1) }, shape);
  }

  /** Transpose by `perm` (e.g. [2, 0, 1, 3] turns image rows into a sequence axis). */
  transpose(x: string, perm: number[], name?: string): string {
    const n = this.#layerName(name, 'transpose');
    const s = this.#shapes.get(x);
    if (s !== undefined && (perm.length !== s.length || [...perm].sort((p, q) => p - q).some((p, i) => p !== i))) {
      throw new WhittleError('BAD_ARGUMENT', `Transpose "${n}": perm [${perm.join(', ')}] is not a permutation of the axes of ${fmt(s)}`);
    }
    return this.#emit('Transpose', n, [x], { perm: attr.ints(perm) }, s && perm.map((p) => s[p]));
  }

  /**
   * Reshape to `shape` (ONNX semantics: 0 copies the input's dim, one −1 is inferred), stored as
   * the int64 initializer `${name}.shape`.
   */
  reshape(x: string, shape: number[], name?: string): string {
    const n = this.#layerName(name, 'reshape');
    const s = this.#shapes.get(x);
    let out: Dim[] | undefined;
    if (s !== undefined) {
      const dims: Dim[] = shape.map((d, i) => (d === 0 ? (s[i] ?? '?') : d));
      const known = dims.filter((d): d is number => typeof d === 'number' && d !== -1).reduce((a, d) => a * d, 1);
      const numeric = s.filter((d): d is number => typeof d === 'number').reduce((a, d) => a * d, 1);
      const symbols = s.filter((d) => typeof d === 'string');
      // One symbolic input dim (the batch) whose numeric rest divides evenly: −1 takes the symbol.
      if (dims.includes(-1) && symbols.length === 1 && known === numeric) out = dims.map((d) => (d === -1 ? (symbols[0] as string) : d));
      else if (dims.includes(-1) && symbols.length === 0 && numeric % known === 0) out = dims.map((d) => (d === -1 ? numeric / known : d));
      else if (!dims.includes(-1)) out = dims;
    }
    const target = this.#param(n, 'shape', Tensor.int64(shape));
    return this.#emit('Reshape', n, [x, target], {}, out);
  }

  /**
   * A one-layer LSTM over a time-major sequence x [T, N, inputSize] (ONNX layout 0, gates i, o,
   * f, c); returns the last hidden state [N, hidden]. Parameters as PyTorch initializes them,
   * U(−1/√hidden, 1/√hidden): `${name}.ih.weight` [1, 4·hidden, in], `${name}.hh.weight`
   * [1, 4·hidden, hidden], `${name}.bias` [1, 8·hidden] (input then recurrence biases).
   */
  lstm(x: string, inputSize: number, hidden: number, options: { name?: string } = {}): string {
    const name = this.#layerName(options.name, 'lstm');
    const s = this.#shapes.get(x);
    if (s !== undefined && (s.length !== 3 || (typeof s[2] === 'number' && s[2] !== inputSize))) {
      throw new WhittleError('SHAPE_MISMATCH', `LSTM "${name}" expects a sequence [T, N, ${inputSize}], got ${fmt(s)}; Transpose/Reshape the input first`);
    }
    const a = 1 / Math.sqrt(hidden);
    const uniform = (dims: number[]): Tensor => {
      const t = new Tensor('float32', dims);
      const d = t.data as Float32Array;
      for (let i = 0; i < d.length; i++) d[i] = this.rng.uniformIn(-a, a);
      return t;
    };
    const inputs = [
      x,
      this.#param(name, 'ih.weight', uniform([1, 4 * hidden, inputSize])),
      this.#param(name, 'hh.weight', uniform([1, 4 * hidden, hidden])),
      this.#param(name, 'bias', uniform([1, 8 * hidden])),
    ];
    // Only Y_h (the last hidden state) is an output; the training graph names Y when it needs it.
    const state = `${name}.h`;
    this.#claim(state);
    this.graph.nodes.push({ name, opType: 'LSTM', domain: '', inputs, outputs: ['', state], attributes: { hidden_size: attr.int(hidden) } });
    this.#shapes.set(state, s && [1, s[1] ?? 'N', hidden]);
    this.#dtypes.set(state, 'float32');
    return this.reshape(state, [-1, hidden], `${name}.last`);
  }

  /** Elementwise sum of two same-shaped values (a residual connection). */
  add(a: string, b: string, name?: string): string {
    const n = this.#layerName(name, 'add');
    const sa = this.#shapes.get(a);
    const sb = this.#shapes.get(b);
    if (
      sa !== undefined &&
      sb !== undefined &&
      (sa.length !== sb.length || sa.some((d, i) => typeof d === 'number' && typeof sb[i] === 'number' && d !== sb[i]))
    ) {
      throw new WhittleError('SHAPE_MISMATCH', `Add "${n}" needs equal shapes, got ${fmt(sa)} and ${fmt(sb)}; does the shortcut need a projection?`);
    }
    return this.#emit('Add', n, [a, b], {}, sa ?? sb);
  }

  /**
   * One node of any op with a single output, for layer kinds built outside this class
   * (transformer.ts): `shape` is the output's shape where known, `kind` names the layer when
   * `name` is not given.
   */
  node(
    opType: string,
    inputs: string[],
    shape: Dim[] | undefined,
    options: { name?: string; kind?: string; attributes?: Record<string, Attribute> } = {},
  ): string {
    return this.#emit(opType, this.#layerName(options.name, options.kind ?? opType.toLowerCase()), inputs, options.attributes ?? {}, shape);
  }

  /** An initializer named `${layer}.${role}` (trainable when role ends in 'weight' or 'bias'). */
  parameter(layer: string, role: string, t: Tensor): string {
    return this.#param(layer, role, t);
  }

  #unary(opType: string, x: string, name: string, attributes: Record<string, Attribute> = {}): string {
    return this.#emit(opType, name, [x], attributes, this.#shapes.get(x));
  }

  #pool(opType: string, x: string, kernel: number | [number, number], name: string, options: Pool2dOptions): string {
    const [kh, kw] = pair(kernel, `${opType} "${name}" kernel`);
    const [sh, sw] = pair(options.stride ?? [kh, kw], `${opType} "${name}" stride`);
    const [ph, pw] = pair(options.pad ?? 0, `${opType} "${name}" pad`);
    const s = this.#expect4d(x, opType, name);
    const attributes = { kernel_shape: attr.ints([kh, kw]), strides: attr.ints([sh, sw]), pads: attr.ints([ph, pw, ph, pw]) };
    const shape = s && [s[0] ?? 'N', s[1] ?? '?', windowOut(s[2], kh, sh, ph, 1), windowOut(s[3], kw, sw, pw, 1)];
    return this.#emit(opType, name, [x], attributes, shape);
  }

  #expect4d(x: string, opType: string, name: string, channels?: number): Dim[] | undefined {
    const s = this.#shapes.get(x);
    if (s === undefined) return undefined;
    if (s.length !== 4)
      throw new WhittleError('SHAPE_MISMATCH', `${opType} "${name}" expects 4-D input [N, C, H, W], got ${fmt(s)}; did you forget a Reshape?`);
    if (channels !== undefined && typeof s[1] === 'number' && s[1] !== channels) {
      throw new WhittleError('SHAPE_MISMATCH', `${opType} "${name}" expects ${channels} input channels, got ${fmt(s)}`);
    }
    return s;
  }

  /** Appends one node named `name` whose single output value is `out` (default: the layer name). */
  #emit(opType: string, name: string, inputs: string[], attributes: Record<string, Attribute>, shape: (Dim | undefined)[] | undefined, out = name): string {
    if (out !== name) this.#claim(out);
    for (const i of inputs) {
      if (!this.#shapes.has(i) && !this.graph.initializers.has(i)) {
        throw new WhittleError('BAD_ARGUMENT', `${opType} "${name}" reads "${i}", which is not a value of model "${this.graph.name}"`);
      }
    }
    if (shape?.some((d) => typeof d === 'number' && d < 1)) {
      throw new WhittleError(
        'SHAPE_MISMATCH',
        `${opType} "${name}" would output [${shape.join(', ')}] from ${fmt(this.#shapes.get(inputs[0] ?? ''))}; the input is too small for this kernel/stride`,
      );
    }
    this.graph.nodes.push({ name, opType, domain: '', inputs, outputs: [out], attributes });
    const dtype = this.#dtypes.get(inputs[0] ?? '') ?? 'float32';
    const known = shape !== undefined && shape.every((d) => d !== undefined) ? (shape as Dim[]) : undefined;
    this.#shapes.set(out, known);
    this.#dtypes.set(out, dtype);
    if (known !== undefined) this.graph.valueInfo.set(out, { name: out, dtype, shape: [...known] });
    return out;
  }

  #param(layer: string, role: string, t: Tensor): string {
    const name = `${layer}.${role}`;
    this.#claim(name);
    this.graph.initializers.set(name, t);
    return name;
  }

  /** An explicit layer name (must be new), or `${kind}${k}` with the next free k from 1. */
  #layerName(explicit: string | undefined, kind: string): string {
    if (explicit !== undefined) {
      this.#claim(explicit);
      return explicit;
    }
    let k = this.#counters.get(kind) ?? 0;
    let name: string;
    do name = `${kind}${++k}`;
    while (this.#used.has(name));
    this.#counters.set(kind, k);
    this.#used.add(name);
    return name;
  }

  #claim(name: string): void {
    if (name === '' || this.#used.has(name)) {
      throw new WhittleError(
        'BAD_ARGUMENT',
        `name "${name}" is ${name === '' ? 'empty' : 'already used'} in model "${this.graph.name}"; give each layer a unique name`,
      );
    }
    this.#used.add(name);
  }
}

/**
 * Names of the trainable parameters: float initializers named `*.weight` or `*.bias`
 * (BatchNorm running statistics and Dropout ratios are buffers, not parameters).
 *
 * ```ts
 * parameterNames(createModel('lenet-300-100').graph); // ['fc1.weight', 'fc1.bias', ...]
 * ```
 */
export function parameterNames(graph: Graph): string[] {
  return [...graph.initializers]
    .filter(([k, t]) => (k.endsWith('.weight') || k.endsWith('.bias')) && (t.dtype === 'float32' || t.dtype === 'float64' || t.dtype === 'float16'))
    .map(([k]) => k);
}

/**
 * Total number of trainable parameter elements (what PyTorch's `sum(p.numel())` reports): the
 * float initializers training would update, whatever their names, so an imported model (weights
 * named `onnx::Conv_12`, `fc.0.weight`, ...) counts in full; float16 weights count too.
 *
 * ```ts
 * countParameters(createModel('lenet-5').graph); // 431080
 * ```
 */
export function countParameters(graph: Graph): number {
  let n = 0;
  for (const k of trainableInitializers(graph, [], COUNTED_DTYPES)) n += graph.initializers.get(k)?.size ?? 0;
  return n;
}

const COUNTED_DTYPES: ReadonlySet<DType> = new Set<DType>(['float32', 'float64', 'float16']);
