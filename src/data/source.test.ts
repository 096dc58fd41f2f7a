import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { PNG } from 'pngjs';
import type { Dim } from '../ir/graph.js';
import { Graph, makeModel } from '../ir/graph.js';
import type { DType } from '../ir/tensor.js';
import { Tensor } from '../ir/tensor.js';
import { bindArrays, fixedBatchSize, randomTensorDataset } from './bind.js';
import type { NpyArray } from './npy.js';
import { encodeNpy } from './npy.js';
import { detectDataSource, loadDataForModel } from './source.js';
import { tensorBatch } from './tensor-dataset.js';

const dir = mkdtempSync(join(tmpdir(), 'whittle-source-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** A model with the given inputs (all summed into nothing useful: only the signature matters here). */
function modelWith(inputs: { name: string; dtype: DType; shape: Dim[] }[]) {
  const g = new Graph('sig');
  g.inputs.push(...inputs);
  g.initializers.set('w', Tensor.fromArray('float32', [1], [1]));
  g.nodes.push({ name: 'id', opType: 'Identity', domain: '', inputs: [inputs[0]!.name], outputs: ['y'], attributes: {} });
  g.outputs.push({ name: 'y', dtype: inputs[0]!.dtype, shape: inputs[0]!.shape });
  return makeModel(g);
}

const twoInputs = modelWith([
  { name: 'input_ids', dtype: 'int64', shape: ['batch', 'seq'] },
  { name: 'attention_mask', dtype: 'int64', shape: ['batch', 'seq'] },
]);
const image = modelWith([{ name: 'pixels', dtype: 'float32', shape: ['N', 3, 4, 4] }]);

test('arrays bind to inputs by name; dynamic dims come from the data; dtypes are cast to the inputs', () => {
  const ids = { dtype: 'int32' as const, dims: [2, 3], data: Int32Array.of(1, 2, 3, 4, 5, 6) };
  const mask = { dtype: 'bool' as const, dims: [2, 3], data: Uint8Array.of(1, 1, 1, 1, 1, 0) };
  const ds = bindArrays(
    twoInputs,
    new Map<string, NpyArray>([
      ['attention_mask', mask],
      ['input_ids', ids],
    ]),
    { source: 't' },
  );
  assert.equal(ds.count, 2);
  assert.deepEqual(
    ds.inputs.map((i) => [i.name, i.dtype, i.shape]),
    [
      ['input_ids', 'int64', [3]],
      ['attention_mask', 'int64', [3]],
    ],
  );
  const { feeds } = tensorBatch(ds, 1, 1);
  assert.deepEqual(feeds['input_ids']!.dims, [1, 3]);
  assert.deepEqual([...feeds['input_ids']!.data], [4n, 5n, 6n]);
  assert.deepEqual([...feeds['attention_mask']!.data], [1n, 1n, 0n]);
});

test('inputs sharing a named dimension must agree; shapes and names that do not fit name the input', () => {
  const a = (dims: number[]) => ({ dtype: 'int64' as const, dims, data: new BigInt64Array(dims.reduce((x, y) => x * y, 1)) });
  assert.throws(
    () =>
      bindArrays(
        twoInputs,
        new Map<string, NpyArray>([
          ['input_ids', a([2, 3])],
          ['attention_mask', a([2, 4])],
        ]),
        { source: 'd.npz' },
      ),
    /d\.npz: dimension "seq" is 3 in input "input_ids" but 4 in input "attention_mask"/,
  );
  assert.throws(
    () => bindArrays(twoInputs, new Map<string, NpyArray>([['input_ids', a([2, 3])]]), { source: 'd.npz' }),
    /d\.npz has no data for model input "attention_mask"/,
  );
  assert.throws(
    () =>
      bindArrays(
        twoInputs,
        new Map<string, NpyArray>([
          ['ids', a([2, 3])],
          ['mask', a([2, 3])],
        ]),
        { source: 'd.npz' },
      ),
    /arrays "ids", "mask" match no model input; the model's inputs are "input_ids", "attention_mask"/,
  );
  const f = (dims: number[]) => ({ dtype: 'float32' as const, dims, data: new Float32Array(dims.reduce((x, y) => x * y, 1)) });
  assert.throws(
    () => bindArrays(image, new Map<string, NpyArray>([['x', f([2, 3, 5, 4])]]), { source: 'x.npy' }),
    /x\.npy: input "pixels" expects \[N, 3, 4, 4\] \(per sample \[3, 4, 4\]\), found \[2, 3, 5, 4\]; axis 2 should be 4/,
  );
  assert.throws(
    () => bindArrays(image, new Map<string, NpyArray>([['x', f([2, 48])]]), { source: 'x.npy' }),
    /x\.npy: input "pixels" expects \[N, 3, 4, 4\], found \[2, 48\]/,
  );
  // Floats with fractions cannot feed an integer input.
  assert.throws(
    () =>
      bindArrays(
        twoInputs,
        new Map<string, NpyArray>([
          ['input_ids', { dtype: 'float32' as const, dims: [1, 1], data: Float32Array.of(0.5) }],
          ['attention_mask', a([1, 1])],
        ]),
        { source: 'j' },
      ),
    /j: input "input_ids" has float32 values \(e\.g\. 0\.5\) but the model takes int64/,
  );
});

test('one sample without its batch axis, a fixed batch, and positional savez names', () => {
  const one = bindArrays(image, new Map<string, NpyArray>([['pixels', { dtype: 'float32' as const, dims: [3, 4, 4], data: new Float32Array(48) }]]), {
    source: 's',
  });
  assert.equal(one.count, 1);
  const fixed = modelWith([
    { name: 'x', dtype: 'float32', shape: [2, 3] },
    { name: 'y', dtype: 'float32', shape: [2, 3] },
  ]);
  assert.equal(fixedBatchSize(fixed), 2);
  const arr = (n: number) => ({ dtype: 'float32' as const, dims: [n, 3], data: new Float32Array(n * 3) });
  assert.equal(
    bindArrays(
      fixed,
      new Map<string, NpyArray>([
        ['arr_0', arr(4)],
        ['arr_1', arr(4)],
      ]),
      { source: 's' },
    ).count,
    4,
  );
  assert.throws(
    () =>
      bindArrays(
        fixed,
        new Map<string, NpyArray>([
          ['x', arr(3)],
          ['y', arr(3)],
        ]),
        { source: 's' },
      ),
    /fix the batch at 2 .* the data has 3 samples; give a multiple of 2/,
  );
});

test('random inputs: seeded, shaped like the inputs (dynamic dims 16, 32 in images), floats in [0, 1), integers 0 or 1', () => {
  const a = randomTensorDataset(twoInputs, { count: 5, seed: 3 });
  const b = randomTensorDataset(twoInputs, { count: 5, seed: 3 });
  assert.equal(a.source, 'random');
  assert.deepEqual(
    a.inputs.map((i) => i.shape),
    [[16], [16]],
  );
  assert.deepEqual([...a.inputs[0]!.data], [...b.inputs[0]!.data]);
  assert.ok([...a.inputs[0]!.data].every((v) => v === 0n || v === 1n));
  const img = randomTensorDataset(image, { count: 2, seed: 1 });
  assert.deepEqual(img.inputs[0]!.shape, [3, 4, 4]);
  assert.ok([...img.inputs[0]!.data].every((v) => (v as number) >= 0 && (v as number) < 1));
  assert.notDeepEqual([...img.inputs[0]!.data], [...randomTensorDataset(image, { count: 2, seed: 2 }).inputs[0]!.data]);
  // Dynamic image sizes are 32, a multiple of the total stride of a five-stage CNN.
  const anySize = modelWith([{ name: 'x', dtype: 'float32', shape: ['N', 3, 'H', 'W'] }]);
  assert.deepEqual(randomTensorDataset(anySize, { count: 1 }).inputs[0]!.shape, [3, 32, 32]);
  assert.deepEqual(randomTensorDataset(anySize, { count: 1, dynamicSize: 8 }).inputs[0]!.shape, [3, 8, 8]);
});

test('loadDataForModel picks the source by the path: .npy with labels.npy beside, .npz, JSONL, image folders', () => {
  const npyDir = join(dir, 'npy');
  mkdirSync(npyDir);
  const x = new Float32Array(2 * 48).map((_, i) => i / 100);
  writeFileSync(join(npyDir, 'pixels.npy'), encodeNpy({ dtype: 'float32', dims: [2, 3, 4, 4], data: x }));
  writeFileSync(join(npyDir, 'labels.npy'), encodeNpy({ dtype: 'int64', dims: [2], data: BigInt64Array.of(1n, 0n) }));
  assert.equal(detectDataSource(join(npyDir, 'pixels.npy')), 'npy');
  assert.equal(detectDataSource(npyDir), 'npy-dir');
  for (const path of [join(npyDir, 'pixels.npy'), npyDir]) {
    const ds = loadDataForModel(image, path);
    assert.deepEqual([...ds.labels!], [1, 0], path);
    assert.deepEqual([...ds.inputs[0]!.data], [...x], path);
  }
  const jsonl = join(dir, 'd.jsonl');
  writeFileSync(jsonl, '{"input_ids": [1, 2], "attention_mask": [1, 1], "label": 3}\n{"input_ids": [3, 4], "attention_mask": [1, 0], "label": 1}\n');
  const j = loadDataForModel(twoInputs, jsonl);
  assert.deepEqual([...j.labels!], [3, 1]);
  assert.deepEqual([...j.inputs[1]!.data], [1n, 1n, 1n, 0n]);
  // An image folder feeding an NHWC gray input at its static size: 2×2 PNGs resized to 4×4.
  const imgDir = join(dir, 'img', 'only');
  mkdirSync(imgDir, { recursive: true });
  const png = new PNG({ width: 2, height: 2 });
  png.data = Buffer.from(new Uint8Array(16).fill(255));
  writeFileSync(join(imgDir, 'a.png'), PNG.sync.write(png));
  const nhwc = modelWith([{ name: 'img', dtype: 'float32', shape: ['N', 4, 4, 1] }]);
  assert.equal(detectDataSource(join(dir, 'img')), 'images');
  const ds = loadDataForModel(nhwc, join(dir, 'img'));
  assert.deepEqual(ds.inputs[0]!.shape, [4, 4, 1]);
  assert.ok([...ds.inputs[0]!.data].every((v) => Math.abs((v as number) - 1) < 1e-6));
  assert.deepEqual(ds.classes, ['only']);
  assert.throws(
    () => loadDataForModel(image, join(dir, 'img'), { channels: 'gray' }),
    /input "pixels" expects \[N, 3, 4, 4\] \(3 channels, NCHW\), but options.channels 'gray' gives 1; pass options.channels 'rgb'/,
  );
  assert.throws(() => loadDataForModel(twoInputs, join(dir, 'img')), /an image folder feeds a model with one input/);
  assert.throws(() => detectDataSource(join(dir, 'nope.npy')), /no such file or directory/);
  writeFileSync(join(dir, 'data.csv'), '1,2');
  assert.throws(() => detectDataSource(join(dir, 'data.csv')), /a file must end in \.npy, \.npz or \.jsonl/);
});

// Silero VAD's signature: a scalar sample rate compared with 16000, an LSTM state with its batch on axis 1.
const vadLike = (() => {
  const m = modelWith([
    { name: 'input', dtype: 'float32', shape: ['batch', 'sequence'] },
    { name: 'sr', dtype: 'int64', shape: [] },
    { name: 'h', dtype: 'float32', shape: [2, 'batch', 3] },
  ]);
  m.graph.initializers.set('rate', Tensor.fromArray('int64', [], [16000n]));
  m.graph.nodes.push({ name: 'is16k', opType: 'Equal', domain: '', inputs: ['sr', 'rate'], outputs: ['flag'], attributes: {} });
  return m;
})();

test('a scalar input is one value shared by every batch; a state input gets its samples on its own batch axis', () => {
  assert.equal(fixedBatchSize(vadLike), undefined, 'the batch is the dynamic "batch", not the state\'s leading 2');
  // h as the model lays it out: [2, 2 samples, 3], sample s, layer l, unit u = 100 l + 10 s + u.
  const h = Float32Array.from({ length: 12 }, (_, i) => 100 * Math.floor(i / 6) + 10 * Math.floor((i % 6) / 3) + (i % 3));
  const ds = bindArrays(
    vadLike,
    new Map<string, NpyArray>([
      ['input', { dtype: 'float32', dims: [2, 4], data: Float32Array.from({ length: 8 }, (_, i) => i) }],
      ['sr', { dtype: 'int64', dims: [], data: BigInt64Array.of(8000n) }],
      ['h', { dtype: 'float32', dims: [2, 2, 3], data: h }],
    ]),
    { source: 't' },
  );
  assert.equal(ds.count, 2);
  const { feeds } = tensorBatch(ds, 1, 1);
  assert.deepEqual(feeds['sr']!.dims, []);
  assert.deepEqual([...feeds['sr']!.data], [8000n]);
  assert.deepEqual(feeds['h']!.dims, [2, 1, 3]);
  assert.deepEqual([...feeds['h']!.data], [10, 11, 12, 110, 111, 112]);
  // Both samples, as the model takes them: the layout the data came in.
  const both = tensorBatch(ds, 0, 2).feeds['h']!;
  assert.deepEqual(both.dims, [2, 2, 3]);
  assert.deepEqual([...both.data], [...h]);
  assert.throws(
    () =>
      bindArrays(
        vadLike,
        new Map<string, NpyArray>([
          ['input', { dtype: 'float32', dims: [1, 4], data: new Float32Array(4) }],
          ['sr', { dtype: 'int64', dims: [2], data: BigInt64Array.of(1n, 2n) }],
          ['h', { dtype: 'float32', dims: [2, 1, 3], data: new Float32Array(6) }],
        ]),
        { source: 't' },
      ),
    /input "sr" expects \[\] \(a scalar, the same for every sample\), found \[2\]/,
  );
  const random = randomTensorDataset(vadLike, { count: 4, seed: 1 });
  const r = tensorBatch(random, 0, 4).feeds;
  assert.deepEqual([...r['sr']!.data], [16000n], 'the constant the graph compares sr with');
  assert.deepEqual(r['h']!.dims, [2, 4, 3]);
  assert.deepEqual(r['input']!.dims, [4, 16]);
});
