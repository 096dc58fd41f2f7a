import assert from 'node:assert/strict';
import { test } from 'node:test';
import { pruneChannels } from '../compress/prune/index.js';
import { loadIdxDataset, subset } from '../data/index.js';
import { createModel } from '../nn/index.js';
import { evaluate } from '../train/evaluate.js';
import { train } from '../train/trainer.js';
import { measurePrior } from './prior.js';
import { searchSpace } from './space.js';

test('measurePrior: each width point is the accuracy of that layer thinned alone, and progress comes once per layer', async () => {
  const mnist = loadIdxDataset();
  // Trained a little, so that thinning moves the accuracy (an untrained net guesses one class whatever its width).
  const trained = await train(createModel('lenet-5', { seed: 1 }), subset(mnist.train, 0, 2048), {
    epochs: 1,
    batchSize: 64,
    lr: 0.05,
    optimizer: { kind: 'sgd', momentum: 0.9 },
    normalization: 'x/255',
    seed: 0,
    threads: 1,
  });
  const model = trained.model;
  const validation = subset(mnist.test, 0, 200);
  const space = searchSpace(model, 'flops');
  const calls: [number, number, string][] = [];
  const prior = await measurePrior(model, space, validation, 'x/255', { roundTo: 'auto', onLayer: (done, total, name) => calls.push([done, total, name]) });
  assert.deepEqual(
    calls,
    space.layers.map((l, i) => [i + 1, space.layers.length, l.name]),
  );
  // The oracle: conv2 at half width, thinned by pruneChannels with the same rounding (25 → 32 of 50 filters), then evaluated.
  const half = (await pruneChannels(model, { perLayer: { conv2: 0.5 }, roundTo: 'auto' })).model;
  assert.equal(half.graph.initializers.get('conv2.weight')?.dims[0], 32);
  const expected = (await evaluate(half, validation, { normalization: 'x/255', threads: 1 })).accuracy;
  assert.equal(prior.layers.find((l) => l.name === 'conv2')?.width['0.5'], expected);
  // Unrounded (25 filters) is another model: the prior measured the rounded one the trials will build.
  const unrounded = (await pruneChannels(model, { perLayer: { conv2: 0.5 } })).model;
  assert.equal(unrounded.graph.initializers.get('conv2.weight')?.dims[0], 25);
  assert.notEqual((await evaluate(unrounded, validation, { normalization: 'x/255', threads: 1 })).accuracy, expected);
  assert.equal(prior.baseline, (await evaluate(model, validation, { normalization: 'x/255', threads: 1 })).accuracy);
});
