// The model zoo: reference architectures from the compression literature, built with seeded
// weights. Each takes the image input `input` [N, C, S, S] and returns `logits` [N, classes].
import { WhittleError } from '../ir/errors.js';
import type { Model } from '../ir/graph.js';
import { attr } from '../ir/graph.js';
import { Tensor } from '../ir/tensor.js';
import { ModelBuilder } from './layers.js';
import { gelu, layerNorm, linear, selfAttention } from './transformer.js';

export interface ZooOptions {
  /** Seed for the weights; default 0. Same seed → identical weights. */
  seed?: number;
  /** Input channels; default 1 (3 for resnet-cifar). */
  inChannels?: number;
  /** Input height and width; default 28 (32 for resnet-cifar). */
  inputSize?: number;
  /** Number of output logits; default 10. */
  numClasses?: number;
  /** resnet-cifar: basic blocks per stage; default 1. */
  blocks?: number;
  /** vit-tiny: its shape (also given in the name, e.g. 'vit-tiny:patch=7,depth=2,heads=2,dim=32'). */
  vit?: VitOptions;
  /** mlp: hidden layer sizes when the name carries none (plain 'mlp'); default [100]. lstm: [hidden size]; default [64]. */
  hidden?: number[];
}

export interface VitOptions {
  /** Side of the square patches; must divide the input size. Default 4 (7×7 = 49 tokens on 28×28). */
  patch?: number;
  /** Transformer blocks; default 4. */
  depth?: number;
  /** Attention heads; must divide dim. Default 4. */
  heads?: number;
  /** Token width; default 64 (MLP hidden 2·dim). */
  dim?: number;
}

/**
 * Names `createModel` accepts; 'mlp' also takes its sizes inline, e.g. 'mlp:784-300-100-10', and
 * 'mobilenet-v2' its width multiplier, e.g. 'mobilenet-v2:0.35', and 'vit-tiny' its shape, e.g.
 * 'vit-tiny:patch=7,depth=2,heads=2,dim=32'. 'resnet-20' and 'resnet-56' are CIFAR ResNets of
 * that depth (6n + 2 layers: n basic blocks per stage); 'resnet-cifar' takes n as `blocks`.
 */
export const ZOO_NAMES = ['lenet-300-100', 'lenet-5', 'resnet-cifar', 'resnet-20', 'resnet-56', 'mlp', 'lstm', 'mobilenet-v2', 'vit-tiny'] as const;
export type ZooName = (typeof ZOO_NAMES)[number];

interface Resolved {
  seed: number;
  inChannels: number;
  inputSize: number;
  numClasses: number;
  blocks: number;
}

function positiveInt(value: number, what: string): number {
  if (!Number.isInteger(value) || value < 1) throw new WhittleError('BAD_ARGUMENT', `${what} must be a positive integer, got ${value}`);
  return value;
}

function start(name: string, o: Resolved): { b: ModelBuilder; x: string } {
  const b = new ModelBuilder(name, { seed: o.seed });
  return { b, x: b.input('input', ['N', o.inChannels, o.inputSize, o.inputSize]) };
}

/** Features of a flattened value (known because every zoo input has a fixed C×S×S). */
function featuresOf(b: ModelBuilder, x: string): number {
  const d = b.shapeOf(x)?.[1];
  if (typeof d !== 'number') throw new WhittleError('INVALID_GRAPH', `cannot tell the feature count of "${x}"`);
  return d;
}

/** Flatten → Gemm/ReLU stack → Gemm; hidden layers get He init, the last Glorot. */
function buildMlp(name: string, o: Resolved, hidden: readonly number[]): Model {
  const { b, x: input } = start(name, o);
  let x = b.flatten(input, 'flatten');
  let inF = featuresOf(b, x);
  hidden.forEach((h, i) => {
    x = b.relu(b.dense(x, inF, h, { name: `fc${i + 1}`, init: 'he' }), `relu${i + 1}`);
    inF = h;
  });
  b.output(b.dense(x, inF, o.numClasses, { name: `fc${hidden.length + 1}` }), 'logits');
  return b.build({ 'whittle.zoo': name });
}

/**
 * LeNet-5 as Caffe defines it: no ReLU after the convolutions, ReLU after fc1 only.
 * 431,080 parameters on 28×28×1 inputs.
 */
function buildLenet5(name: string, o: Resolved): Model {
  const { b, x: input } = start(name, o);
  let x = b.conv2d(input, o.inChannels, 20, 5, { name: 'conv1' });
  x = b.maxPool2d(x, 2, { stride: 2, name: 'pool1' });
  x = b.conv2d(x, 20, 50, 5, { name: 'conv2' });
  x = b.maxPool2d(x, 2, { stride: 2, name: 'pool2' });
  x = b.flatten(x, 'flatten');
  x = b.relu(b.dense(x, featuresOf(b, x), 500, { name: 'fc1', init: 'he' }), 'relu1');
  b.output(b.dense(x, 500, o.numClasses, { name: 'fc2' }), 'logits');
  return b.build({ 'whittle.zoo': name });
}

/** conv3×3 → BN → ReLU → conv3×3 → BN, plus the (projected) shortcut, → ReLU. torchvision names. */
function basicBlock(b: ModelBuilder, x: string, inC: number, outC: number, stride: number, prefix: string): string {
  let y = b.conv2d(x, inC, outC, 3, { stride, pad: 1, bias: false, init: 'he', name: `${prefix}.conv1` });
  y = b.relu(b.batchNorm(y, outC, { name: `${prefix}.bn1` }), `${prefix}.relu1`);
  y = b.conv2d(y, outC, outC, 3, { pad: 1, bias: false, init: 'he', name: `${prefix}.conv2` });
  y = b.batchNorm(y, outC, { name: `${prefix}.bn2` });
  let shortcut = x;
  if (stride !== 1 || inC !== outC) {
    shortcut = b.conv2d(x, inC, outC, 1, { stride, bias: false, init: 'he', name: `${prefix}.downsample.0` });
    shortcut = b.batchNorm(shortcut, outC, { name: `${prefix}.downsample.1` });
  }
  return b.relu(b.add(y, shortcut, `${prefix}.add`), `${prefix}.relu2`);
}

/** CIFAR-style ResNet: stem 16 → stages of 16, 32, 64 channels (stride 1, 2, 2) → GAP → fc. */
function buildResnetCifar(name: string, o: Resolved): Model {
  const { b, x: input } = start(name, o);
  let x = b.conv2d(input, o.inChannels, 16, 3, { pad: 1, bias: false, init: 'he', name: 'conv1' });
  x = b.relu(b.batchNorm(x, 16, { name: 'bn1' }), 'relu');
  let inC = 16;
  [16, 32, 64].forEach((outC, stage) => {
    for (let i = 0; i < o.blocks; i++) {
      x = basicBlock(b, x, inC, outC, i === 0 && stage > 0 ? 2 : 1, `layer${stage + 1}.${i}`);
      inC = outC;
    }
  });
  x = b.flatten(b.globalAvgPool(x, 'avgpool'), 'flatten');
  b.output(b.dense(x, inC, o.numClasses, { name: 'fc' }), 'logits');
  return b.build({ 'whittle.zoo': name });
}

/**
 * A row-by-row sequence classifier: the image's S rows are S time steps of C·S features
 * ([N, C, S, S] → Transpose → [S, N, C·S]), one LSTM, and a Linear on the last hidden state.
 * 24,714 parameters at hidden 64 on MNIST, like PyTorch's nn.LSTM(28, 64) + nn.Linear(64, 10).
 */
function buildLstm(name: string, o: Resolved, hidden: number): Model {
  const { b, x: input } = start(name, o);
  const features = o.inChannels * o.inputSize;
  const rows = b.transpose(input, [2, 0, 1, 3], 'rows');
  const seq = b.reshape(rows, [o.inputSize, -1, features], 'sequence');
  const h = b.lstm(seq, features, hidden, { name: 'lstm' });
  b.output(b.dense(h, hidden, o.numClasses, { name: 'fc' }), 'logits');
  return b.build({ 'whittle.zoo': name });
}

/** torchvision's _make_divisible: channels rounded to a multiple of 8, never below 90% of the target. */
function divisible(v: number, divisor = 8): number {
  const n = Math.max(divisor, Math.floor(v + divisor / 2) - (Math.floor(v + divisor / 2) % divisor));
  return n < 0.9 * v ? n + divisor : n;
}

/**
 * MobileNetV2 as torchvision builds it (inverted residuals: 1×1 expand, 3×3 depthwise, 1×1 linear
 * projection; ReLU6; residual adds where shape allows), channels scaled by `width` and rounded
 * to multiples of 8. On 28×28 inputs the stem's stride 2 gives 14×14, then the usual strides.
 */
function buildMobilenetV2(name: string, o: Resolved, width: number): Model {
  const { b, x: input } = start(name, o);
  const convBn = (x: string, inC: number, outC: number, k: number, stride: number, groups: number, prefix: string, relu: boolean): string => {
    const y = b.batchNorm(b.conv2d(x, inC, outC, k, { stride, pad: (k - 1) / 2, groups, bias: false, init: 'he', name: `${prefix}.conv` }), outC, {
      name: `${prefix}.bn`,
    });
    return relu ? b.relu6(y, `${prefix}.relu6`) : y;
  };
  let inC = divisible(32 * width);
  const last = divisible(1280 * Math.max(1, width));
  let x = convBn(input, o.inChannels, inC, 3, 2, 1, 'features.0', true);
  const settings: [number, number, number, number][] = [
    [1, 16, 1, 1],
    [6, 24, 2, 2],
    [6, 32, 3, 2],
    [6, 64, 4, 2],
    [6, 96, 3, 1],
    [6, 160, 3, 2],
    [6, 320, 1, 1],
  ];
  let block = 1;
  for (const [t, c, n, s] of settings) {
    const outC = divisible(c * width);
    for (let i = 0; i < n; i++) {
      const stride = i === 0 ? s : 1;
      const hidden = Math.round(inC * t);
      const p = `features.${block++}`;
      let y = x;
      if (t !== 1) y = convBn(y, inC, hidden, 1, 1, 1, `${p}.expand`, true);
      y = convBn(y, hidden, hidden, 3, stride, hidden, `${p}.dw`, true);
      y = convBn(y, hidden, outC, 1, 1, 1, `${p}.project`, false);
      x = stride === 1 && inC === outC ? b.add(x, y, `${p}.add`) : y;
      inC = outC;
    }
  }
  x = convBn(x, inC, last, 1, 1, 1, `features.${block}`, true);
  x = b.flatten(b.globalAvgPool(x, 'avgpool'), 'flatten');
  b.output(b.dense(x, last, o.numClasses, { name: 'classifier' }), 'logits');
  return b.build({ 'whittle.zoo': name });
}

/**
 * A small Vision Transformer (ViT-Tiny's layout, sized for small images): patch embedding by a
 * strided Conv, learned position embeddings, pre-norm blocks (LayerNorm → multi-head attention →
 * residual; LayerNorm → Linear → GELU → Linear → residual), a final LayerNorm, the tokens'
 * mean (no class token) and a Linear head. Attention is laid out as PyTorch exports it, so
 * `whittle prune --granularity head` finds every block's heads.
 */
function buildVitTiny(name: string, o: Resolved, v: Required<VitOptions>): Model {
  const { patch, depth, heads, dim } = v;
  if (o.inputSize % patch !== 0)
    throw new WhittleError(
      'BAD_ARGUMENT',
      `model "${name}": patch ${patch} does not divide the input size ${o.inputSize}; pick a divisor, e.g. patch=${o.inputSize % 4 === 0 ? 4 : 1}`,
    );
  if (dim % heads !== 0) throw new WhittleError('BAD_ARGUMENT', `model "${name}": ${heads} heads do not divide dim ${dim}; make dim a multiple of heads`);
  const { b, x: input } = start(name, o);
  const tokens = (o.inputSize / patch) ** 2;
  let x = b.conv2d(input, o.inChannels, dim, patch, { stride: patch, name: 'patch_embed' });
  x = b.node('Reshape', [x, b.parameter('tokens', 'shape', Tensor.int64([0, dim, tokens]))], ['N', dim, tokens], { name: 'tokens' });
  x = b.node('Transpose', [x], ['N', tokens, dim], { name: 'tokens_t', attributes: { perm: attr.ints([0, 2, 1]) } });
  const pos = new Tensor('float32', [1, tokens, dim]);
  for (let i = 0; i < pos.size; i++) (pos.data as Float32Array)[i] = 0.02 * b.rng.normal();
  x = b.node('Add', [x, b.parameter('pos_embed', 'weight', pos)], ['N', tokens, dim], { name: 'pos_embed' });
  for (let i = 0; i < depth; i++) {
    const p = `blocks.${i}`;
    x = b.add(x, selfAttention(b, layerNorm(b, x, dim, `${p}.norm1`), dim, heads, `${p}.attn`), `${p}.add1`);
    const h = gelu(b, linear(b, layerNorm(b, x, dim, `${p}.norm2`), dim, 2 * dim, `${p}.mlp.fc1`), `${p}.mlp.gelu`);
    x = b.add(x, linear(b, h, 2 * dim, dim, `${p}.mlp.fc2`), `${p}.add2`);
  }
  x = layerNorm(b, x, dim, 'norm');
  x = b.node('ReduceMean', [x], ['N', dim], { name: 'pool', attributes: { axes: attr.ints([1]), keepdims: attr.int(0) } });
  b.output(b.dense(x, dim, o.numClasses, { name: 'head' }), 'logits');
  return b.build({ 'whittle.zoo': name });
}

/** Parses 'patch=7,depth=2' (the part of 'vit-tiny:…' after the colon). */
function parseVitSpec(spec: string, full: string): VitOptions {
  const out: Record<string, number> = {};
  for (const part of spec.split(',')) {
    const [k = '', v = ''] = part.split('=');
    if (!['patch', 'depth', 'heads', 'dim'].includes(k.trim()) || !Number.isInteger(Number(v)) || Number(v) < 1)
      throw new WhittleError(
        'BAD_ARGUMENT',
        `model "${full}": write the ViT's shape as key=value pairs of patch, depth, heads, dim (positive integers), e.g. "vit-tiny:patch=7,depth=2"`,
      );
    out[k.trim()] = Number(v);
  }
  return out;
}

/** Parses 'mlp:784-300-100-10' into [784, 300, 100, 10]. */
function parseMlpSizes(spec: string, full: string): number[] {
  const sizes = spec.split('-').map(Number);
  if (sizes.length < 2 || !sizes.every((n) => Number.isInteger(n) && n > 0)) {
    throw new WhittleError(
      'BAD_ARGUMENT',
      `model "${full}": write the layer sizes as positive integers joined by '-', input first and classes last, e.g. "mlp:784-100-10"`,
    );
  }
  return sizes;
}

/**
 * Builds a zoo model with seeded weights. Input `input` [N, C, S, S] float32, output
 * `logits` [N, classes]; `model.metadata['whittle.zoo']` records the name.
 *
 * ```ts
 * const lenet = createModel('lenet-5', { seed: 1 });
 * const student = createModel('mlp:784-100-10');
 * const resnet = createModel('resnet-cifar', { inChannels: 1, inputSize: 28, blocks: 2 });
 * const rows = createModel('lstm', { hidden: [64] });
 * ```
 */
export function createModel(name: string, options: ZooOptions = {}): Model {
  const [base = '', spec] = name.split(/:(.*)/s);
  if (!(ZOO_NAMES as readonly string[]).includes(base) || (spec !== undefined && !['mlp', 'mobilenet-v2', 'vit-tiny'].includes(base))) {
    throw new WhittleError(
      'BAD_ARGUMENT',
      `unknown model "${name}"; valid names: ${ZOO_NAMES.join(', ')} (mlp also as "mlp:784-100-10", mobilenet-v2 with a width as "mobilenet-v2:0.5", vit-tiny with its shape as "vit-tiny:patch=7,depth=2,heads=2")`,
    );
  }
  const isResnet = base.startsWith('resnet-');
  const o: Resolved = {
    seed: options.seed ?? 0,
    inChannels: positiveInt(options.inChannels ?? (isResnet ? 3 : 1), 'inChannels'),
    inputSize: positiveInt(options.inputSize ?? (isResnet ? 32 : 28), 'inputSize'),
    numClasses: positiveInt(options.numClasses ?? 10, 'numClasses'),
    blocks: positiveInt(options.blocks ?? 1, 'blocks'),
  };
  switch (base as ZooName) {
    case 'lenet-300-100':
      return buildMlp(name, o, [300, 100]);
    case 'lenet-5':
      return buildLenet5(name, o);
    case 'resnet-cifar':
      return buildResnetCifar(name, o);
    case 'resnet-20':
    case 'resnet-56':
      // 6n + 2 layers: the stem, n two-conv blocks in each of three stages, the classifier.
      return buildResnetCifar(name, { ...o, blocks: (Number(base.slice('resnet-'.length)) - 2) / 6 });
    case 'vit-tiny': {
      const v = { ...(spec === undefined ? {} : parseVitSpec(spec, name)), ...options.vit };
      return buildVitTiny(name, o, {
        patch: positiveInt(v.patch ?? 4, 'patch'),
        depth: positiveInt(v.depth ?? 4, 'depth'),
        heads: positiveInt(v.heads ?? 4, 'heads'),
        dim: positiveInt(v.dim ?? 64, 'dim'),
      });
    }
    case 'lstm':
      return buildLstm(name, o, positiveInt(options.hidden?.[0] ?? 64, 'hidden size'));
    case 'mobilenet-v2': {
      const width = spec === undefined ? 1 : Number(spec);
      if (!(width > 0 && width <= 4))
        throw new WhittleError('BAD_ARGUMENT', `model "${name}": the width multiplier must be a number in (0, 4], e.g. "mobilenet-v2:0.5"`);
      return buildMobilenetV2(name, o, width);
    }
    case 'mlp': {
      if (spec === undefined)
        return buildMlp(
          name,
          o,
          (options.hidden ?? [100]).map((h) => positiveInt(h, 'hidden size')),
        );
      const sizes = parseMlpSizes(spec, name);
      const inF = o.inChannels * o.inputSize * o.inputSize;
      const first = sizes[0] as number;
      const last = sizes[sizes.length - 1] as number;
      if (first !== inF) {
        throw new WhittleError(
          'BAD_ARGUMENT',
          `model "${name}" starts with ${first} features but the input [N, ${o.inChannels}, ${o.inputSize}, ${o.inputSize}] flattens to ${inF}; fix the first size or set inChannels/inputSize`,
        );
      }
      if (options.numClasses !== undefined && options.numClasses !== last) {
        throw new WhittleError('BAD_ARGUMENT', `model "${name}" ends with ${last} classes but numClasses is ${options.numClasses}; make them agree`);
      }
      return buildMlp(name, { ...o, numClasses: last }, sizes.slice(1, -1));
    }
  }
}
