import assert from 'node:assert/strict';
import { test } from 'node:test';
import { attr, type Graph } from '../ir/graph.js';
import type { Attribute } from '../ir/graph.js';
import type { Tensor } from '../ir/tensor.js';
import { Session } from '../runtime/session.js';
import { makeModel } from '../ir/graph.js';
import { gradCheck, oneNodeGraph, randomTensor } from '../../test/gradcheck.js';

// Inputs on a 1/256 grid and a power-of-two step keep x ± eps exact in float32, so the
// float64 reference sees exactly the perturbation it is asked about.
const EPS = 1 / 1024;
function gridTensor(dims: number[], seed: number): Tensor {
  const t = randomTensor('float32', dims, seed);
  const d = t.data as Float32Array;
  for (let i = 0; i < d.length; i++) d[i] = Math.round((d[i] as number) * 256) / 256;
  return t;
}

/** Naive float64 2-D cross-correlation (1-D runs as H = 1). */
interface RefConv {
  n: number;
  c: number;
  m: number;
  group: number;
  inDims: [number, number];
  kernel: [number, number];
  strides: [number, number];
  dilations: [number, number];
  padsBegin: [number, number];
  padsEnd: [number, number];
}

function outDims(r: RefConv): [number, number] {
  return [0, 1].map((i) => Math.floor((r.inDims[i]! + r.padsBegin[i]! + r.padsEnd[i]! - (r.kernel[i]! - 1) * r.dilations[i]! - 1) / r.strides[i]!) + 1) as [
    number,
    number,
  ];
}

function refConv(r: RefConv, x: Float64Array, w: Float64Array, bias: Float64Array | undefined): Float64Array {
  const [H, W] = r.inDims;
  const [kh, kw] = r.kernel;
  const [oh, ow] = outDims(r);
  const cg = r.c / r.group;
  const mg = r.m / r.group;
  const y = new Float64Array(r.n * r.m * oh * ow);
  for (let n = 0; n < r.n; n++)
    for (let m = 0; m < r.m; m++) {
      const g = Math.floor(m / mg);
      for (let i = 0; i < oh; i++)
        for (let j = 0; j < ow; j++) {
          let acc = bias ? bias[m]! : 0;
          for (let c = 0; c < cg; c++)
            for (let p = 0; p < kh; p++)
              for (let q = 0; q < kw; q++) {
                const hi = i * r.strides[0] + p * r.dilations[0] - r.padsBegin[0];
                const wi = j * r.strides[1] + q * r.dilations[1] - r.padsBegin[1];
                if (hi < 0 || hi >= H || wi < 0 || wi >= W) continue;
                acc += x[((n * r.c + g * cg + c) * H + hi) * W + wi]! * w[((m * cg + c) * kh + p) * kw + q]!;
              }
          y[((n * r.m + m) * oh + i) * ow + j] = acc;
        }
    }
  return y;
}

interface Case {
  name: string;
  /** Spatial dims of X: one (1-D conv) or two. */
  spatial: number[];
  n: number;
  c: number;
  m: number;
  kernel: number[];
  attributes: Record<string, Attribute>;
  group?: number;
  bias: boolean;
  /** The pads the reference should use (what auto_pad resolves to, worked out by hand). */
  padsBegin: number[];
  padsEnd: number[];
  strides?: number[];
  dilations?: number[];
}

const CASES: Case[] = [
  {
    name: '3x3 pad 1 with bias',
    spatial: [6, 6],
    n: 2,
    c: 3,
    m: 4,
    kernel: [3, 3],
    attributes: { pads: attr.ints([1, 1, 1, 1]) },
    bias: true,
    padsBegin: [1, 1],
    padsEnd: [1, 1],
  },
  {
    name: 'non-square kernel, strides [2,3], asymmetric pads, unused input tail',
    spatial: [7, 6],
    n: 2,
    c: 2,
    m: 3,
    kernel: [3, 2],
    bias: true,
    attributes: { strides: attr.ints([2, 3]), pads: attr.ints([1, 0, 0, 1]) },
    strides: [2, 3],
    padsBegin: [1, 0],
    padsEnd: [0, 1],
  },
  {
    name: 'dilations [2,1], strides [1,2], no bias',
    spatial: [7, 7],
    n: 2,
    c: 2,
    m: 3,
    kernel: [3, 3],
    bias: false,
    attributes: { dilations: attr.ints([2, 1]), strides: attr.ints([1, 2]), pads: attr.ints([2, 1, 1, 0]) },
    strides: [1, 2],
    dilations: [2, 1],
    padsBegin: [2, 1],
    padsEnd: [1, 0],
  },
  {
    name: 'group=2, stride 2, pad 1',
    spatial: [6, 5],
    n: 2,
    c: 4,
    m: 6,
    kernel: [3, 3],
    group: 2,
    bias: true,
    attributes: { group: attr.int(2), strides: attr.ints([2, 2]), pads: attr.ints([1, 1, 1, 1]) },
    strides: [2, 2],
    padsBegin: [1, 1],
    padsEnd: [1, 1],
  },
  {
    name: 'depthwise (group=C, multiplier 2), auto_pad SAME_UPPER',
    spatial: [5, 5],
    n: 2,
    c: 3,
    m: 6,
    kernel: [3, 3],
    group: 3,
    bias: true,
    attributes: { group: attr.int(3), auto_pad: attr.string('SAME_UPPER') },
    padsBegin: [1, 1],
    padsEnd: [1, 1],
  },
  {
    // SAME_UPPER with stride 2 on 6: out 3, total pad (3-1)·2 + 4 − 6 = 2 along H (k=4), 1 along W (k=3).
    name: 'auto_pad SAME_UPPER, stride 2, even kernel',
    spatial: [6, 6],
    n: 2,
    c: 2,
    m: 2,
    kernel: [4, 3],
    bias: false,
    attributes: { auto_pad: attr.string('SAME_UPPER'), strides: attr.ints([2, 2]) },
    strides: [2, 2],
    padsBegin: [1, 0],
    padsEnd: [1, 1],
  },
  {
    name: 'auto_pad SAME_LOWER, stride 2, depthwise multiplier 1',
    spatial: [6, 6],
    n: 2,
    c: 2,
    m: 2,
    kernel: [3, 3],
    group: 2,
    bias: false,
    attributes: { auto_pad: attr.string('SAME_LOWER'), strides: attr.ints([2, 2]), group: attr.int(2) },
    strides: [2, 2],
    padsBegin: [1, 1],
    padsEnd: [0, 0],
  },
  {
    name: 'auto_pad VALID, stride 2 with unused tail',
    spatial: [6, 7],
    n: 2,
    c: 2,
    m: 3,
    kernel: [2, 3],
    bias: true,
    attributes: { auto_pad: attr.string('VALID'), strides: attr.ints([2, 2]) },
    strides: [2, 2],
    padsBegin: [0, 0],
    padsEnd: [0, 0],
  },
  {
    // 8 input channels: the weight gradient takes the unfolded matrix product (convWeightGradUnfold).
    name: '8 channels, strides [2,1], dilations [1,2], asymmetric pads, unused input tail',
    spatial: [8, 7],
    n: 2,
    c: 8,
    m: 3,
    kernel: [3, 2],
    bias: true,
    attributes: { strides: attr.ints([2, 1]), dilations: attr.ints([1, 2]), pads: attr.ints([1, 0, 0, 1]) },
    strides: [2, 1],
    dilations: [1, 2],
    padsBegin: [1, 0],
    padsEnd: [0, 1],
  },
  {
    // Same-size output at stride 1: the input gradient is a Conv with the flipped kernel, and the
    // weight gradient the unfolded product.
    name: '8 channels, 3x3 pad 1, the ResNet layer',
    spatial: [5, 5],
    n: 2,
    c: 8,
    m: 8,
    kernel: [3, 3],
    bias: false,
    attributes: { pads: attr.ints([1, 1, 1, 1]) },
    padsBegin: [1, 1],
    padsEnd: [1, 1],
  },
  {
    // Unfolded weight gradient with padding on one side of each axis (channels-last Pad).
    name: '8 channels, 2x2 kernel on a larger map, asymmetric pads',
    spatial: [10, 9],
    n: 2,
    c: 8,
    m: 3,
    kernel: [2, 2],
    bias: true,
    attributes: { pads: attr.ints([1, 0, 0, 1]) },
    padsBegin: [1, 0],
    padsEnd: [0, 1],
  },
  {
    name: '1-D, 8 channels: kernel 3, stride 2, pads [0, 2]',
    spatial: [9],
    n: 2,
    c: 8,
    m: 2,
    kernel: [3],
    bias: false,
    attributes: { strides: attr.ints([2]), pads: attr.ints([0, 2]) },
    strides: [2],
    padsBegin: [0],
    padsEnd: [2],
  },
  {
    name: '1-D: kernel 4, stride 2, dilation 2, pads [1, 2]',
    spatial: [11],
    n: 2,
    c: 3,
    m: 2,
    kernel: [4],
    bias: true,
    attributes: { strides: attr.ints([2]), dilations: attr.ints([2]), pads: attr.ints([1, 2]) },
    strides: [2],
    dilations: [2],
    padsBegin: [1],
    padsEnd: [2],
  },
];

function as2d(values: number[] | undefined, fill: number, one: number): [number, number] {
  const v = values ?? [fill, fill];
  return (v.length === 1 ? [one, v[0]] : v) as [number, number];
}

for (const k of CASES) {
  const group = k.group ?? 1;
  const ref: RefConv = {
    n: k.n,
    c: k.c,
    m: k.m,
    group,
    inDims: as2d(k.spatial, 0, 1),
    kernel: as2d(k.kernel, 0, 1),
    strides: as2d(k.strides, 1, 1),
    dilations: as2d(k.dilations, 1, 1),
    padsBegin: as2d(k.padsBegin, 0, 0),
    padsEnd: as2d(k.padsEnd, 0, 0),
  };
  const xDims = [k.n, k.c, ...k.spatial];
  const wDims = [k.m, k.c / group, ...k.kernel];
  const [oh, ow] = outDims(ref);
  const yDims = [k.n, k.m, ...(k.spatial.length === 1 ? [ow] : [oh, ow])];
  const build = (): Graph =>
    oneNodeGraph('Conv', {
      inputs: [
        { name: 'x', dtype: 'float32', shape: xDims },
        { name: 'w', dtype: 'float32', shape: wDims },
        ...(k.bias ? [{ name: 'b', dtype: 'float32' as const, shape: [k.m] }] : []),
      ],
      attributes: k.attributes,
      outputs: [{ name: 'y', dtype: 'float32', shape: yDims }],
    });
  const feeds: Record<string, Tensor> = { x: gridTensor(xDims, 1), w: gridTensor(wDims, 2) };
  if (k.bias) feeds['b'] = gridTensor([k.m], 3);
  const reference = (f: Record<string, Float64Array>): Float64Array[] => [refConv(ref, f['x']!, f['w']!, f['b'])];

  test(`Conv ${k.name}: float64 reference matches ORT's forward`, async () => {
    const s = await Session.create(makeModel(build()), { threads: 1 });
    const y = (await s.run(feeds))['y']!;
    await s.release();
    assert.deepEqual([...y.dims], yDims);
    const f64 = Object.fromEntries(Object.entries(feeds).map(([n, t]) => [n, Float64Array.from(t.data as Float32Array)]));
    const expected = reference(f64)[0]!;
    let worst = 0;
    expected.forEach((v, i) => (worst = Math.max(worst, Math.abs(v - (y.data[i] as number)))));
    assert.ok(worst < 1e-4, `max |reference − ORT| = ${worst}`);
  });

  test(`Conv ${k.name}: gradients match finite differences`, async () => {
    const wrt = k.bias ? ['x', 'w', 'b'] : ['x', 'w'];
    const r = await gradCheck({ graph: build(), feeds, wrt, reference, eps: EPS });
    assert.ok(r.checked > 0);
  });
}

test('Conv shape rule: symbolic batch, SAME_UPPER output size, and a clear error for a 2-D input', async () => {
  const { conv } = await import('./conv.js');
  const node = {
    name: 'c1',
    opType: 'Conv',
    domain: '',
    inputs: ['x', 'w'],
    outputs: ['y'],
    attributes: { auto_pad: attr.string('SAME_UPPER'), strides: attr.ints([2, 2]) },
  };
  const out = conv.inferShape({
    node,
    inputs: [
      { dtype: 'float32', shape: ['N', 3, 7, 8] },
      { dtype: 'float32', shape: [5, 3, 3, 3] },
    ],
    constant: () => undefined,
  });
  assert.deepEqual(out[0]!.shape, ['N', 5, 4, 4]);
  assert.throws(
    () =>
      conv.inferShape({
        node,
        inputs: [
          { dtype: 'float32', shape: [64, 784] },
          { dtype: 'float32', shape: [5, 3, 3, 3] },
        ],
        constant: () => undefined,
      }),
    /did you forget a Reshape/,
  );
  // onnxruntime refuses SAME padding with dilations for Conv: say so at build time.
  const dilated = { ...node, attributes: { ...node.attributes, dilations: attr.ints([2, 2]) } };
  assert.throws(
    () =>
      conv.inferShape({
        node: dilated,
        inputs: [
          { dtype: 'float32', shape: ['N', 3, 7, 8] },
          { dtype: 'float32', shape: [5, 3, 3, 3] },
        ],
        constant: () => undefined,
      }),
    /give explicit pads/,
  );
});
