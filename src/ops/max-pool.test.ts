import assert from 'node:assert/strict';
import { test } from 'node:test';
import { addGradients } from '../autodiff/gradients.js';
import { attr, type Graph, GraphBuilder, makeModel } from '../ir/graph.js';
import type { Attribute } from '../ir/graph.js';
import { Tensor } from '../ir/tensor.js';
import { Session } from '../runtime/session.js';
import { gradCheck, oneNodeGraph, randomTensor, seededUniform } from '../../test/gradcheck.js';

// Every input value distinct, on a 1/128 grid: each window has a unique max with a margin of 8
// finite-difference steps, and x ± eps stays exact in float32.
const EPS = 1 / 1024;
function distinctTensor(dims: number[], seed: number): Tensor {
  const n = dims.reduce((a, b) => a * b, 1);
  const r = seededUniform(seed);
  const order = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(r(0, 1) * (i + 1));
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  return Tensor.fromArray(
    'float32',
    dims,
    order.map((v) => (v - n / 2) / 128),
  );
}

/** Naive float64 2-D max pooling (1-D runs as H = 1); ties go to the first max in scan order. */
interface RefPool {
  n: number;
  c: number;
  inDims: [number, number];
  outDims: [number, number];
  kernel: [number, number];
  strides: [number, number];
  dilations: [number, number];
  padsBegin: [number, number];
}

/** For every output, the flat input position of its window's first maximum. */
function argmaxPositions(r: RefPool, x: Float64Array): Int32Array {
  return Int32Array.from(allMaxPositions(r, x), (ps) => ps[0] ?? -1);
}

function refMaxPool(r: RefPool, x: Float64Array): Float64Array {
  return Float64Array.from(argmaxPositions(r, x), (p) => x[p]!);
}

interface Case {
  name: string;
  spatial: number[];
  attributes: Record<string, Attribute>;
  out: number[];
  kernel: number[];
  strides?: number[];
  dilations?: number[];
  padsBegin?: number[];
  /** The forward node also outputs Indices (the gradient reuses them). */
  withIndices?: boolean;
}

const CASES: Case[] = [
  {
    name: 'kernel = stride = 2 (LeNet, tiling path)',
    spatial: [6, 6],
    kernel: [2, 2],
    strides: [2, 2],
    out: [3, 3],
    attributes: { kernel_shape: attr.ints([2, 2]), strides: attr.ints([2, 2]) },
  },
  {
    name: 'kernel = stride = [2, 3] with an uncovered tail (tiling path)',
    spatial: [7, 7],
    kernel: [2, 3],
    strides: [2, 3],
    out: [3, 2],
    attributes: { kernel_shape: attr.ints([2, 3]), strides: attr.ints([2, 3]) },
  },
  {
    name: 'overlapping 3x3 stride 2 pad 1 (scatter path)',
    spatial: [7, 6],
    kernel: [3, 3],
    strides: [2, 2],
    padsBegin: [1, 1],
    out: [4, 3],
    attributes: { kernel_shape: attr.ints([3, 3]), strides: attr.ints([2, 2]), pads: attr.ints([1, 1, 1, 0]) },
  },
  {
    name: 'stride > kernel, non-square (MaxUnpool path)',
    spatial: [7, 7],
    kernel: [2, 3],
    strides: [3, 3],
    out: [2, 2],
    attributes: { kernel_shape: attr.ints([2, 3]), strides: attr.ints([3, 3]) },
  },
  {
    name: 'kernel = stride = 2 with pads (MaxUnpool path)',
    spatial: [5, 5],
    kernel: [2, 2],
    strides: [2, 2],
    padsBegin: [1, 1],
    out: [3, 3],
    attributes: { kernel_shape: attr.ints([2, 2]), strides: attr.ints([2, 2]), pads: attr.ints([1, 1, 1, 1]) },
  },
  {
    name: 'dilation 2, stride 1 (scatter path)',
    spatial: [6, 6],
    kernel: [2, 2],
    dilations: [2, 2],
    out: [4, 4],
    attributes: { kernel_shape: attr.ints([2, 2]), dilations: attr.ints([2, 2]) },
  },
  {
    name: 'ceil_mode, 3x3 stride 2 (scatter path)',
    spatial: [6, 6],
    kernel: [3, 3],
    strides: [2, 2],
    out: [3, 3],
    attributes: { kernel_shape: attr.ints([3, 3]), strides: attr.ints([2, 2]), ceil_mode: attr.int(1) },
  },
  {
    name: 'ceil_mode, kernel = stride = 2 on 5 (MaxUnpool path)',
    spatial: [5, 5],
    kernel: [2, 2],
    strides: [2, 2],
    out: [3, 3],
    attributes: { kernel_shape: attr.ints([2, 2]), strides: attr.ints([2, 2]), ceil_mode: attr.int(1) },
  },
  {
    name: 'auto_pad SAME_UPPER, 3x3 stride 2',
    spatial: [6, 5],
    kernel: [3, 3],
    strides: [2, 2],
    padsBegin: [0, 1],
    out: [3, 3],
    attributes: { kernel_shape: attr.ints([3, 3]), strides: attr.ints([2, 2]), auto_pad: attr.string('SAME_UPPER') },
  },
  {
    name: 'forward with Indices output, overlapping',
    spatial: [6, 6],
    kernel: [3, 3],
    strides: [1, 1],
    out: [4, 4],
    withIndices: true,
    attributes: { kernel_shape: attr.ints([3, 3]) },
  },
  { name: '1-D kernel = stride = 2', spatial: [9], kernel: [2], strides: [2], out: [4], attributes: { kernel_shape: attr.ints([2]), strides: attr.ints([2]) } },
  {
    name: '1-D kernel 3 stride 2 pad 1',
    spatial: [8],
    kernel: [3],
    strides: [2],
    padsBegin: [1],
    out: [4],
    attributes: { kernel_shape: attr.ints([3]), strides: attr.ints([2]), pads: attr.ints([1, 1]) },
  },
];

function refOf(k: Case, n: number, c: number): RefPool {
  const one = (v: number[] | undefined, fill: number, pad: number): [number, number] => {
    const w = v ?? k.spatial.map(() => fill);
    return (w.length === 1 ? [pad, w[0]] : w) as [number, number];
  };
  return {
    n,
    c,
    inDims: one(k.spatial, 0, 1),
    outDims: one(k.out, 0, 1),
    kernel: one(k.kernel, 0, 1),
    strides: one(k.strides, 1, 1),
    dilations: one(k.dilations, 1, 1),
    padsBegin: one(k.padsBegin, 0, 0),
  };
}

function poolGraph(k: Case, xDims: number[], yDims: number[]): Graph {
  return oneNodeGraph('MaxPool', {
    name: 'pool',
    inputs: [{ name: 'x', dtype: 'float32', shape: xDims }],
    attributes: k.attributes,
    outputs: [{ name: 'y', dtype: 'float32', shape: yDims }],
    results: k.withIndices ? ['y', 'idx'] : ['y'],
  });
}

for (const k of CASES) {
  const [N, C] = [2, 3];
  const ref = refOf(k, N, C);
  const xDims = [N, C, ...k.spatial];
  const yDims = [N, C, ...k.out];
  const feeds = { x: distinctTensor(xDims, 7) };
  const reference = (f: Record<string, Float64Array>): Float64Array[] => [refMaxPool(ref, f['x']!)];

  test(`MaxPool ${k.name}: float64 reference matches ORT's forward`, async () => {
    const s = await Session.create(makeModel(poolGraph(k, xDims, yDims)), { threads: 1 });
    const y = (await s.run(feeds))['y']!;
    await s.release();
    assert.deepEqual([...y.dims], yDims);
    const expected = reference({ x: Float64Array.from(feeds.x.data as Float32Array) })[0]!;
    let worst = 0;
    expected.forEach((v, i) => (worst = Math.max(worst, Math.abs(v - (y.data[i] as number)))));
    assert.ok(worst < 1e-4, `max |reference − ORT| = ${worst}`);
  });

  test(`MaxPool ${k.name}: gradient matches finite differences`, async () => {
    const r = await gradCheck({ graph: poolGraph(k, xDims, yDims), feeds, wrt: ['x'], reference, eps: EPS });
    assert.equal(r.checked, feeds.x.size);
  });
}

/** dLoss/dx for loss = Σ y·r, by the graph Whittle builds. */
async function poolGradient(k: Case, x: Tensor, r: Tensor): Promise<Float32Array> {
  const g = poolGraph(k, [...x.dims], [...r.dims]);
  const b = new GraphBuilder(g, 'loss');
  const loss = b.op1('ReduceSum', [b.op1('Mul', ['y', b.constant(r, 'r')])], { keepdims: attr.int(0) });
  const grads = addGradients(g, loss, ['x']);
  const dx = grads.get('x')!;
  g.outputs = [{ name: dx, dtype: 'float32', shape: [...x.dims] }];
  const s = await Session.create(makeModel(g), { threads: 1 });
  const out = (await s.run({ x }))[dx]!;
  await s.release();
  return out.data as Float32Array;
}

/** For every output, the flat input positions of all its window's maxima. */
function allMaxPositions(r: RefPool, x: Float64Array): number[][] {
  const [H, W] = r.inDims;
  const [OH, OW] = r.outDims;
  const out: number[][] = [];
  for (let nc = 0; nc < r.n * r.c; nc++)
    for (let i = 0; i < OH; i++)
      for (let j = 0; j < OW; j++) {
        let best = -Infinity;
        let at: number[] = [];
        for (let p = 0; p < r.kernel[0]; p++)
          for (let q = 0; q < r.kernel[1]; q++) {
            const hi = i * r.strides[0] + p * r.dilations[0] - r.padsBegin[0];
            const wi = j * r.strides[1] + q * r.dilations[1] - r.padsBegin[1];
            if (hi < 0 || hi >= H || wi < 0 || wi >= W) continue;
            const v = x[(nc * H + hi) * W + wi]!;
            if (v > best) [best, at] = [v, []];
            if (v === best) at.push((nc * H + hi) * W + wi);
          }
        out.push(at);
      }
  return out;
}

// Ties: windows of equal values (all zeros, as after a ReLU, and pairs) must pass dY on once in
// total, never to each maximum in full: tiling windows share it equally among their maxima, other
// geometries give it to the first maximum in scan order (MaxPool's Indices). Both are subgradients.
for (const k of [CASES[0]!, CASES[1]!, CASES[2]!, CASES[3]!, CASES[6]!]) {
  const tiling = k.name.includes('tiling path');
  test(`MaxPool ${k.name}: tied maxima get the gradient once (${tiling ? 'shared equally' : 'at the first maximum'})`, async () => {
    const [N, C] = [2, 2];
    const ref = refOf(k, N, C);
    const xDims = [N, C, ...k.spatial];
    const size = xDims.reduce((a, b) => a * b, 1);
    // Values from {0, 0.5, 1}: most windows hold several equal maxima.
    const r3 = seededUniform(5);
    const x = Tensor.fromArray(
      'float32',
      xDims,
      Array.from({ length: size }, (_, i) => (i % 5 === 0 ? 1 : Math.floor(r3(0, 2)) * 0.5)),
    );
    const dyT = randomTensor('float32', [N, C, ...k.out], 6);
    const dx = await poolGradient(k, x, dyT);
    const expected = new Float64Array(size);
    const x64 = Float64Array.from(x.data as Float32Array);
    let tied = 0;
    if (tiling) {
      allMaxPositions(ref, x64).forEach((ps, o) => {
        if (ps.length > 1) tied++;
        for (const p of ps) expected[p]! += (dyT.data[o] as number) / ps.length;
      });
      assert.ok(tied > 0, 'the data has tied windows');
    } else argmaxPositions(ref, x64).forEach((p, o) => (expected[p]! += dyT.data[o] as number));
    for (let i = 0; i < size; i++) assert.ok(Math.abs((dx[i] as number) - expected[i]!) < 1e-6, `dx[${i}] = ${dx[i]}, expected ${expected[i]}`);
    // Conservation: the gradient that reaches X sums to the gradient that left Y.
    const sum = (a: ArrayLike<number>): number => Array.from(a).reduce((p, q) => p + q, 0);
    assert.ok(Math.abs(sum(dx) - sum(dyT.data as Float32Array)) < 1e-4);
  });
}

test('MaxPool shape rule: auto_pad SAME with dilations is refused with a fix (onnxruntime runs it inconsistently)', async () => {
  const { maxPool } = await import('./max-pool.js');
  const node = {
    name: 'p',
    opType: 'MaxPool',
    domain: '',
    inputs: ['x'],
    outputs: ['y'],
    attributes: { kernel_shape: attr.ints([3, 3]), dilations: attr.ints([2, 2]), auto_pad: attr.string('SAME_UPPER') },
  };
  assert.throws(() => maxPool.inferShape({ node, inputs: [{ dtype: 'float32', shape: [1, 1, 6, 6] }], constant: () => undefined }), /give explicit pads/);
});

test('MaxPool shape rule: Indices are int64 of the output shape; symbolic batch survives', async () => {
  const { maxPool } = await import('./max-pool.js');
  const node = {
    name: 'p',
    opType: 'MaxPool',
    domain: '',
    inputs: ['x'],
    outputs: ['y', 'i'],
    attributes: { kernel_shape: attr.ints([3, 3]), strides: attr.ints([2, 2]), ceil_mode: attr.int(1) },
  };
  const [y, i] = maxPool.inferShape({ node, inputs: [{ dtype: 'float32', shape: ['N', 6, 6, 7] }], constant: () => undefined });
  assert.deepEqual(y, { dtype: 'float32', shape: ['N', 6, 3, 3] });
  assert.deepEqual(i, { dtype: 'int64', shape: ['N', 6, 3, 3] });
});
