import assert from 'node:assert/strict';
import { test } from 'node:test';
import { WhittleError } from '../ir/errors.js';
import type { Model } from '../ir/graph.js';
import { Tensor } from '../ir/tensor.js';
import { Session } from '../runtime/session.js';
import { Rng } from './init.js';
import { countParameters, ModelBuilder, parameterNames } from './layers.js';

type Arr = Float32Array;
const at = (a: ArrayLike<number>, i: number): number => a[i] as number;

function randomTensor(rng: Rng, dims: number[], scale = 1): Tensor {
  const t = new Tensor('float32', dims);
  const d = t.data as Arr;
  for (let i = 0; i < d.length; i++) d[i] = scale * rng.normal();
  return t;
}

/** Runs the model fetching every value whose shape the builder recorded, plus the outputs. */
async function runAll(model: Model, feeds: Record<string, Tensor>): Promise<Record<string, Tensor>> {
  const g = model.graph.clone();
  for (const v of g.valueInfo.values()) g.outputs.push(v);
  g.valueInfo.clear();
  const s = await Session.create({ ...model, graph: g }, { threads: 1 });
  try {
    return await s.run(feeds);
  } finally {
    await s.release();
  }
}

/** Reference NCHW convolution with stride, symmetric pad, dilation and groups. */
function convRef(x: Tensor, w: Tensor, b: Tensor, [sh, sw]: number[], [ph, pw]: number[], [dh, dw]: number[], groups: number, outDims: readonly number[]): Arr {
  const [n, c, h, wd] = x.dims as [number, number, number, number];
  const [oc, icg, kh, kw] = w.dims as [number, number, number, number];
  const [, , oh, ow] = outDims as [number, number, number, number];
  const out = new Float32Array(n * oc * oh * ow);
  const ocg = oc / groups;
  for (let ni = 0; ni < n; ni++)
    for (let o = 0; o < oc; o++)
      for (let y = 0; y < oh; y++)
        for (let z = 0; z < ow; z++) {
          let s = at(b.data as Arr, o);
          const g = Math.floor(o / ocg);
          for (let ci = 0; ci < icg; ci++)
            for (let i = 0; i < kh; i++)
              for (let j = 0; j < kw; j++) {
                const yy = y * (sh ?? 1) - (ph ?? 0) + i * (dh ?? 1);
                const zz = z * (sw ?? 1) - (pw ?? 0) + j * (dw ?? 1);
                if (yy < 0 || yy >= h || zz < 0 || zz >= wd) continue;
                const cin = g * icg + ci;
                s += at(x.data as Arr, ((ni * c + cin) * h + yy) * wd + zz) * at(w.data as Arr, ((o * icg + ci) * kh + i) * kw + j);
              }
          out[((ni * oc + o) * oh + y) * ow + z] = s;
        }
  return out;
}

/** Reference pooling; average excludes padding (ONNX count_include_pad=0). */
function poolRef(x: Tensor, kind: 'max' | 'avg', [kh, kw]: number[], [sh, sw]: number[], [ph, pw]: number[], outDims: readonly number[]): Arr {
  const [n, c, h, wd] = x.dims as [number, number, number, number];
  const [, , oh, ow] = outDims as [number, number, number, number];
  const out = new Float32Array(n * c * oh * ow);
  for (let p = 0; p < n * c; p++)
    for (let y = 0; y < oh; y++)
      for (let z = 0; z < ow; z++) {
        let acc = kind === 'max' ? -Infinity : 0;
        let count = 0;
        for (let i = 0; i < (kh ?? 1); i++)
          for (let j = 0; j < (kw ?? 1); j++) {
            const yy = y * (sh ?? 1) - (ph ?? 0) + i;
            const zz = z * (sw ?? 1) - (pw ?? 0) + j;
            if (yy < 0 || yy >= h || zz < 0 || zz >= wd) continue;
            const v = at(x.data as Arr, (p * h + yy) * wd + zz);
            acc = kind === 'max' ? Math.max(acc, v) : acc + v;
            count++;
          }
        out[(p * oh + y) * ow + z] = kind === 'max' ? acc : acc / count;
      }
  return out;
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(at(a, i) - at(b, i)));
  return m;
}

function buildEveryLayer(): Model {
  const b = new ModelBuilder('every-layer', { seed: 3 });
  let x = b.input('x', ['N', 4, 11, 11]);
  x = b.conv2d(x, 4, 6, [3, 2], { stride: [2, 1], pad: [1, 0], dilation: [1, 2], groups: 2, name: 'conv1' });
  x = b.batchNorm(x, 6, { name: 'bn1', epsilon: 1e-3 });
  x = b.leakyRelu(x, 0.1);
  x = b.maxPool2d(x, 2, { stride: 1 });
  const p = b.avgPool2d(x, 3, { stride: 2, pad: 1 });
  x = b.add(b.sigmoid(p), b.tanh(p));
  x = b.dropout(x, 0.3);
  x = b.flatten(b.globalAvgPool(x));
  x = b.relu(b.dense(x, 6, 3, { init: 'he' }));
  b.output(x, 'y');
  return b.build();
}

test('each builder emits one standard node named after the layer, with PyTorch-style parameter names', () => {
  const m = buildEveryLayer();
  const g = m.graph;
  assert.deepEqual(
    g.nodes.map((n) => `${n.name}:${n.opType}`),
    [
      'conv1:Conv',
      'bn1:BatchNormalization',
      'leaky_relu1:LeakyRelu',
      'pool1:MaxPool',
      'avgpool1:AveragePool',
      'sigmoid1:Sigmoid',
      'tanh1:Tanh',
      'add1:Add',
      'dropout1:Dropout',
      'gap1:GlobalAveragePool',
      'flatten1:Flatten',
      'fc1:Gemm',
      'relu1:Relu',
    ],
  );
  assert.deepEqual(
    [...g.initializers.keys()],
    ['conv1.weight', 'conv1.bias', 'bn1.weight', 'bn1.bias', 'bn1.running_mean', 'bn1.running_var', 'dropout1.ratio', 'fc1.weight', 'fc1.bias'],
  );
  assert.deepEqual(g.initializers.get('conv1.weight')?.dims, [6, 2, 3, 2]);
  assert.deepEqual(g.initializers.get('fc1.weight')?.dims, [3, 6]);
  assert.deepEqual(parameterNames(g), ['conv1.weight', 'conv1.bias', 'bn1.weight', 'bn1.bias', 'fc1.weight', 'fc1.bias']);
  assert.equal(countParameters(g), 72 + 6 + 6 + 6 + 18 + 3);
  const fc = g.nodes.find((n) => n.name === 'fc1');
  assert.deepEqual(fc?.attributes['transB'], { type: 'int', value: 1 });
  assert.deepEqual(g.outputs, [{ name: 'y', dtype: 'float32', shape: ['N', 3] }]);
  assert.equal(g.nodes.at(-1)?.outputs[0], 'y');
  assert.equal(g.valueInfo.get('conv1')?.shape.join(','), 'N,6,6,9');
  assert.ok(!g.valueInfo.has('y'), 'graph outputs are not repeated in value_info');
});

test("recorded shapes and every layer's values match onnxruntime and reference computations", async () => {
  const m = buildEveryLayer();
  const g = m.graph;
  const rng = new Rng(100);
  // Non-trivial BatchNorm statistics and conv bias, so the reference checks mean something.
  g.initializers.set('conv1.bias', randomTensor(rng, [6]));
  g.initializers.set('bn1.weight', randomTensor(rng, [6]));
  g.initializers.set('bn1.bias', randomTensor(rng, [6]));
  g.initializers.set('bn1.running_mean', randomTensor(rng, [6]));
  const rv = randomTensor(rng, [6]);
  (rv.data as Arr).forEach((v, i, a) => (a[i] = 0.5 + Math.abs(v)));
  g.initializers.set('bn1.running_var', rv);
  const x = randomTensor(rng, [2, 4, 11, 11]);
  const out = await runAll(m, { x });
  for (const v of g.valueInfo.values()) {
    assert.deepEqual(
      out[v.name]?.dims,
      v.shape.map((d) => (d === 'N' ? 2 : d)),
      `shape of ${v.name}`,
    );
  }
  assert.deepEqual(out['y']?.dims, [2, 3]);
  const t = (k: string): Tensor => out[k] ?? assert.fail(`missing ${k}`);
  const init = (k: string): Tensor => g.initializers.get(k) ?? assert.fail(`missing ${k}`);

  const conv = convRef(x, init('conv1.weight'), init('conv1.bias'), [2, 1], [1, 0], [1, 2], 2, t('conv1').dims);
  assert.ok(maxAbsDiff(t('conv1').data as Arr, conv) < 1e-4, 'conv1');

  const bnRef = new Float32Array(t('conv1').size);
  const hw = 6 * 9;
  (t('conv1').data as Arr).forEach((v, i) => {
    const c = Math.floor(i / hw) % 6;
    const [s, bb, mu, va] = ['weight', 'bias', 'running_mean', 'running_var'].map((r) => at(init(`bn1.${r}`).data as Arr, c)) as [
      number,
      number,
      number,
      number,
    ];
    bnRef[i] = s * ((v - mu) / Math.sqrt(va + 1e-3)) + bb;
  });
  assert.ok(maxAbsDiff(t('bn1').data as Arr, bnRef) < 1e-4, 'bn1');

  const leaky = Array.from(t('bn1').data as Arr, (v) => (v > 0 ? v : 0.1 * v));
  assert.ok(maxAbsDiff(t('leaky_relu1').data as Arr, leaky) < 1e-6, 'leaky_relu1');
  assert.ok(maxAbsDiff(t('pool1').data as Arr, poolRef(t('leaky_relu1'), 'max', [2, 2], [1, 1], [0, 0], t('pool1').dims)) < 1e-6, 'pool1');
  assert.ok(maxAbsDiff(t('avgpool1').data as Arr, poolRef(t('pool1'), 'avg', [3, 3], [2, 2], [1, 1], t('avgpool1').dims)) < 1e-5, 'avgpool1');
  const sum = Array.from(t('avgpool1').data as Arr, (v) => 1 / (1 + Math.exp(-v)) + Math.tanh(v));
  assert.ok(maxAbsDiff(t('add1').data as Arr, sum) < 1e-5, 'add1');
  assert.deepEqual([...(t('dropout1').data as Arr)], [...(t('add1').data as Arr)], 'dropout is the identity at inference');
  const gap = poolRef(t('dropout1'), 'avg', [3, 4], [1, 1], [0, 0], [2, 6, 1, 1]);
  assert.ok(maxAbsDiff(t('flatten1').data as Arr, gap) < 1e-5, 'gap1 + flatten1');
});

test('builders reject wrong shapes, bad arguments and duplicate names with WhittleError', () => {
  const code = (c: string) => (e: unknown) => e instanceof WhittleError && e.code === c;
  const b = new ModelBuilder('bad');
  const x = b.input('x', ['N', 1, 28, 28]);
  assert.throws(
    () => b.dense(x, 784, 10, { name: 'fc' }),
    (e: unknown) => code('SHAPE_MISMATCH')(e) && (e as Error).message.includes('flatten()'),
  );
  assert.throws(() => b.conv2d(x, 3, 8, 3, { name: 'c1' }), code('SHAPE_MISMATCH'));
  assert.throws(() => b.conv2d(x, 1, 8, 3, { groups: 3, name: 'c2' }), code('BAD_ARGUMENT'));
  assert.throws(() => b.conv2d(x, 1, 8, 29, { name: 'c3' }), code('SHAPE_MISMATCH'));
  assert.throws(() => b.dropout(x, 1.5), code('BAD_ARGUMENT'));
  const f = b.flatten(x);
  assert.throws(() => b.dense(f, 100, 10), code('SHAPE_MISMATCH'));
  b.dense(f, 784, 10, { name: 'head' });
  assert.throws(() => b.relu(f, 'head'), code('BAD_ARGUMENT'));
  assert.throws(() => b.relu('nope'), code('BAD_ARGUMENT'));
  assert.throws(() => new ModelBuilder('empty').build(), code('BAD_ARGUMENT'));
  const c = b.conv2d(x, 1, 4, 3, { name: 'c4' });
  assert.throws(
    () => b.add(c, x),
    (e: unknown) => code('SHAPE_MISMATCH')(e) && (e as Error).message.includes('projection'),
  );
});

test('marking a graph input as an output goes through an Identity node', async () => {
  const b = new ModelBuilder('id');
  const x = b.input('x', ['N', 2]);
  b.output(x, 'y');
  const m = b.build();
  assert.equal(m.graph.nodes[0]?.opType, 'Identity');
  const s = await Session.create(m, { threads: 1 });
  const { y } = await s.run({ x: Tensor.fromArray('float32', [1, 2], [3, 4]) });
  assert.deepEqual([...(y?.data ?? [])], [3, 4]);
  await s.release();
});

test('countParameters counts weights by role, not by name: imported models count in full', async () => {
  const { readFileSync } = await import('node:fs');
  const { decodeModel } = await import('../ir/onnx.js');
  const corpus = (f: string) => decodeModel(readFileSync(new URL(`../../../test/fixtures/corpus/${f}`, import.meta.url)));
  // PyTorch's nn.LSTM(28, 64) + nn.Linear(64, 10), exported: the LSTM weights are `onnx::LSTM_*`.
  assert.equal(countParameters(corpus('mnist_lstm.opset17.onnx').graph), 4 * 64 * (28 + 64) + 2 * 4 * 64 + 64 * 10 + 10);
  // A ResNet-20 with BatchNorm: every float initializer but the running statistics.
  const bn = corpus('mnist_resnet20_bn.opset17.onnx').graph;
  let all = 0;
  let stats = 0;
  for (const [k, t] of bn.initializers) {
    if (t.dtype !== 'float32') continue;
    all += t.size;
    if (k.endsWith('running_mean') || k.endsWith('running_var')) stats += t.size;
  }
  assert.ok(stats > 0);
  assert.equal(countParameters(bn), all - stats);
  // BatchNorm folded into the convolutions, weights renamed `onnx::Conv_*`: the by-name count saw 330;
  // 68,250 is manifest.json's `params` (corpus_common.py sums its initializers; none is a statistic).
  const folded = corpus('mnist_resnet20.opset17.onnx').graph;
  assert.ok(parameterNames(folded).length < 5);
  assert.equal(countParameters(folded), 68_250);
});
