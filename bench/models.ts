// The models `npm run bench` trains, by the names BENCH_MODELS takes, built the same way for
// Whittle as bench/peers/torch_train.py builds them for PyTorch (same layers, MNIST 1×28×28 input):
// zoo names as the zoo builds them, plus the modern networks at the corpus's sizes.
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Model } from '../src/ir/graph.js';
import { loadModel } from '../src/load.js';
import { createModel } from '../src/nn/index.js';

const corpus = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'test', 'fixtures', 'corpus');

/**
 * 'resnet-20': the zoo's resnet-cifar with 3 blocks per stage (16/32/64 channels) on 1×28×28;
 * 'mobilenet-v2[:width]': the zoo's, on 1×28×28; 'vit': the corpus's 4-block ViT (7×7 patches,
 * d 32, 4 heads, MLP 64: test/fixtures/corpus/mnist_vit.opset17.onnx, PyTorch's TinyVit);
 * any other name goes to the zoo as it is.
 */
export function benchModel(name: string): Model {
  if (name === 'resnet-20') return createModel('resnet-cifar', { seed: 0, inChannels: 1, inputSize: 28, blocks: 3 });
  if (name === 'vit') return loadModel(join(corpus, 'mnist_vit.opset17.onnx'));
  return createModel(name, { seed: 0 });
}
