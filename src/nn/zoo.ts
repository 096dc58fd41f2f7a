// The model zoo: reference architectures from the compression literature, built with seeded
// weights. Each takes the image input `input` [N, C, S, S] and returns `logits` [N, classes].
import { WhittleError } from '../ir/errors.js';
import type { Model } from '../ir/graph.js';
import { ModelBuilder } from './layers.js';

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
  /** mlp: hidden layer sizes when the name carries none (plain 'mlp'); default [100]. lstm: [hidden size]; default [64]. */
  hidden?: number[];
}

/** Names `createModel` accepts; 'mlp' also takes its sizes inline, e.g. 'mlp:784-300-100-10'. */
export const ZOO_NAMES = ['lenet-300-100', 'lenet-5', 'resnet-cifar', 'mlp', 'lstm'] as const;
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
  if (!(ZOO_NAMES as readonly string[]).includes(base) || (spec !== undefined && base !== 'mlp')) {
    throw new WhittleError('BAD_ARGUMENT', `unknown model "${name}"; valid names: ${ZOO_NAMES.join(', ')} (mlp also as "mlp:784-100-10")`);
  }
  const isResnet = base === 'resnet-cifar';
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
    case 'lstm':
      return buildLstm(name, o, positiveInt(options.hidden?.[0] ?? 64, 'hidden size'));
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
