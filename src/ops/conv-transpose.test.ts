import assert from 'node:assert/strict';
import { test } from 'node:test';
import { attr, type Graph, makeModel } from '../ir/graph.js';
import type { Attribute } from '../ir/graph.js';
import type { Tensor } from '../ir/tensor.js';
import { Session } from '../runtime/session.js';
import { gradCheck, oneNodeGraph, randomTensor } from '../../test/gradcheck.js';
import { convTranspose } from './conv-transpose.js';

// Inputs on a 1/256 grid and a power-of-two step keep x ± eps exact in float32.
const EPS = 1 / 1024;
function gridTensor(dims: number[], seed: number): Tensor {
  const t = randomTensor('float32', dims, seed);
  const d = t.data as Float32Array;
  for (let i = 0; i < d.length; i++) d[i] = Math.round((d[i] as number) * 256) / 256;
  return t;
}

/** Naive float64 2-D transposed convolution (1-D runs as H = 1), written as a scatter. */
interface RefConvT {
  n: number;
  c: number;
  /** Output channels per group (W's second dim). */
  mg: number;
  group: number;
  inDims: [number, number];
  outDims: [number, number];
  kernel: [number, number];
  strides: [number, number];
  dilations: [number, number];
  padsBegin: [number, number];
}

function refConvT(r: RefConvT, x: Float64Array, w: Float64Array, bias: Float64Array | undefined): Float64Array {
  const [H, W] = r.inDims;
  const [OH, OW] = r.outDims;
  const [kh, kw] = r.kernel;
  const m = r.mg * r.group;
  const cg = r.c / r.group;
  const y = new Float64Array(r.n * m * OH * OW);
  for (let n = 0; n < r.n; n++) for (let o = 0; o < m; o++) for (let k = 0; k < OH * OW; k++) y[(n * m + o) * OH * OW + k] = bias ? bias[o]! : 0;
  for (let n = 0; n < r.n; n++)
    for (let c = 0; c < r.c; c++) {
      const g = Math.floor(c / cg);
      for (let i = 0; i < H; i++)
        for (let j = 0; j < W; j++) {
          const v = x[((n * r.c + c) * H + i) * W + j]!;
          for (let mo = 0; mo < r.mg; mo++)
            for (let p = 0; p < kh; p++)
              for (let q = 0; q < kw; q++) {
                const oi = i * r.strides[0] + p * r.dilations[0] - r.padsBegin[0];
                const oj = j * r.strides[1] + q * r.dilations[1] - r.padsBegin[1];
                if (oi < 0 || oi >= OH || oj < 0 || oj >= OW) continue;
                const o = g * r.mg + mo;
                y[((n * m + o) * OH + oi) * OW + oj]! += v * w[((c * r.mg + mo) * kh + p) * kw + q]!;
              }
        }
    }
  return y;
}

interface Case {
  name: string;
  spatial: number[];
  n: number;
  c: number;
  mg: number;
  group?: number;
  kernel: number[];
  attributes: Record<string, Attribute>;
  bias: boolean;
  /** Expected output spatial size and the begin pads (worked out by hand). */
  out: number[];
  padsBegin: number[];
  strides?: number[];
  dilations?: number[];
}

const CASES: Case[] = [
  {
    name: '3x3 stride 1 pad 1 with bias',
    spatial: [5, 5],
    n: 2,
    c: 3,
    mg: 2,
    kernel: [3, 3],
    bias: true,
    attributes: { pads: attr.ints([1, 1, 1, 1]) },
    out: [5, 5],
    padsBegin: [1, 1],
  },
  {
    // 2·(4−1) + 1 + 3 − 1 − 1 = 8 (the PyTorch ConvTranspose2d(k=3, s=2, p=1, output_padding=1) upsampler).
    name: 'stride 2, pad 1, output_padding 1',
    spatial: [4, 3],
    n: 2,
    c: 2,
    mg: 3,
    kernel: [3, 3],
    bias: true,
    attributes: { strides: attr.ints([2, 2]), pads: attr.ints([1, 1, 1, 1]), output_padding: attr.ints([1, 1]) },
    strides: [2, 2],
    out: [8, 6],
    padsBegin: [1, 1],
  },
  {
    // H: 3·(3−1) + 2 + 2·(2−1)+1 − 0 − 1 = 10; W: 2·(4−1) + 0 + 3 − 2 − 0 = 7.
    name: 'non-square kernel, strides [3,2], dilations [2,1], output_padding past the end pad',
    spatial: [3, 4],
    n: 2,
    c: 2,
    mg: 2,
    kernel: [2, 3],
    bias: false,
    attributes: { strides: attr.ints([3, 2]), dilations: attr.ints([2, 1]), pads: attr.ints([0, 2, 1, 0]), output_padding: attr.ints([2, 0]) },
    strides: [3, 2],
    dilations: [2, 1],
    out: [10, 7],
    padsBegin: [0, 2],
  },
  {
    name: 'group=2, stride 2, kernel 4, pad 1',
    spatial: [3, 3],
    n: 2,
    c: 4,
    mg: 2,
    group: 2,
    kernel: [4, 4],
    bias: true,
    attributes: { group: attr.int(2), strides: attr.ints([2, 2]), pads: attr.ints([1, 1, 1, 1]) },
    strides: [2, 2],
    out: [6, 6],
    padsBegin: [1, 1],
  },
  {
    name: 'depthwise (group=C), stride 2',
    spatial: [3, 4],
    n: 2,
    c: 3,
    mg: 1,
    group: 3,
    kernel: [3, 3],
    bias: true,
    attributes: { group: attr.int(3), strides: attr.ints([2, 2]) },
    strides: [2, 2],
    out: [7, 9],
    padsBegin: [0, 0],
  },
  {
    // H: full size 2·(3−1) + 3 = 7, requested 6: total pad 1, put at the beginning; W: 7 − 5 = 2.
    name: 'output_shape [6, 5] derives the pads',
    spatial: [3, 3],
    n: 2,
    c: 2,
    mg: 2,
    kernel: [3, 3],
    bias: false,
    attributes: { strides: attr.ints([2, 2]), output_shape: attr.ints([6, 5]) },
    strides: [2, 2],
    out: [6, 5],
    padsBegin: [1, 1],
  },
  {
    // SAME_UPPER asks for n·s = 6: H: full 7, pad 1 at the end; W: full 8, pads 1 and 1.
    name: 'auto_pad SAME_UPPER, stride 2, non-square kernel',
    spatial: [3, 3],
    n: 2,
    c: 2,
    mg: 2,
    kernel: [3, 4],
    bias: true,
    attributes: { strides: attr.ints([2, 2]), auto_pad: attr.string('SAME_UPPER') },
    strides: [2, 2],
    out: [6, 6],
    padsBegin: [0, 1],
  },
  {
    // SAME_UPPER asks for n·s = 3; dilated kernel 5: full 2 + 5 = 7, pads 2 and 2.
    name: 'auto_pad SAME_UPPER with dilation 2',
    spatial: [3, 4],
    n: 2,
    c: 2,
    mg: 2,
    kernel: [3, 3],
    bias: false,
    attributes: { dilations: attr.ints([2, 2]), auto_pad: attr.string('SAME_UPPER') },
    dilations: [2, 2],
    out: [3, 4],
    padsBegin: [2, 2],
  },
  {
    name: '1-D: kernel 3, stride 2, pads [1, 0]',
    spatial: [5],
    n: 2,
    c: 2,
    mg: 3,
    kernel: [3],
    bias: true,
    attributes: { strides: attr.ints([2]), pads: attr.ints([1, 0]) },
    strides: [2],
    out: [10],
    padsBegin: [1],
  },
];

function as2d(values: number[] | undefined, fill: number, one: number): [number, number] {
  const v = values ?? [fill, fill];
  return (v.length === 1 ? [one, v[0]] : v) as [number, number];
}

for (const k of CASES) {
  const group = k.group ?? 1;
  const ref: RefConvT = {
    n: k.n,
    c: k.c,
    mg: k.mg,
    group,
    inDims: as2d(k.spatial, 0, 1),
    outDims: as2d(k.out, 0, 1),
    kernel: as2d(k.kernel, 0, 1),
    strides: as2d(k.strides, 1, 1),
    dilations: as2d(k.dilations, 1, 1),
    padsBegin: as2d(k.padsBegin, 0, 0),
  };
  const m = k.mg * group;
  const xDims = [k.n, k.c, ...k.spatial];
  const wDims = [k.c, k.mg, ...k.kernel];
  const yDims = [k.n, m, ...k.out];
  const build = (): Graph =>
    oneNodeGraph('ConvTranspose', {
      name: 'convT',
      inputs: [
        { name: 'x', dtype: 'float32', shape: xDims },
        { name: 'w', dtype: 'float32', shape: wDims },
        ...(k.bias ? [{ name: 'b', dtype: 'float32' as const, shape: [m] }] : []),
      ],
      attributes: k.attributes,
      outputs: [{ name: 'y', dtype: 'float32', shape: yDims }],
    });
  const feeds: Record<string, Tensor> = { x: gridTensor(xDims, 11), w: gridTensor(wDims, 12) };
  if (k.bias) feeds['b'] = gridTensor([m], 13);
  const reference = (f: Record<string, Float64Array>): Float64Array[] => [refConvT(ref, f['x']!, f['w']!, f['b'])];

  test(`ConvTranspose ${k.name}: shape rule and float64 reference match ORT's forward`, async () => {
    const g = build();
    const inferred = convTranspose.inferShape({
      node: g.nodes[0]!,
      inputs: g.inputs.map((v) => ({ dtype: v.dtype, shape: v.shape })),
      constant: () => undefined,
    });
    assert.deepEqual(inferred[0]!.shape, yDims);
    const s = await Session.create(makeModel(g), { threads: 1 });
    const y = (await s.run(feeds))['y']!;
    await s.release();
    assert.deepEqual([...y.dims], yDims);
    const f64 = Object.fromEntries(Object.entries(feeds).map(([n, t]) => [n, Float64Array.from(t.data as Float32Array)]));
    const expected = reference(f64)[0]!;
    let worst = 0;
    expected.forEach((v, i) => (worst = Math.max(worst, Math.abs(v - (y.data[i] as number)))));
    assert.ok(worst < 1e-4, `max |reference − ORT| = ${worst}`);
  });

  test(`ConvTranspose ${k.name}: gradients match finite differences`, async () => {
    const r = await gradCheck({ graph: build(), feeds, wrt: k.bias ? ['x', 'w', 'b'] : ['x', 'w'], reference, eps: EPS });
    assert.ok(r.checked > 0);
  });
}
