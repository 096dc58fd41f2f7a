import assert from 'node:assert/strict';
import { test } from 'node:test';
import { attr, type Graph, makeModel } from '../ir/graph.js';
import type { Attribute } from '../ir/graph.js';
import type { Tensor } from '../ir/tensor.js';
import { Session } from '../runtime/session.js';
import { gradCheck, oneNodeGraph, randomTensor } from '../../test/gradcheck.js';

// Inputs on a 1/256 grid and a power-of-two step keep x ± eps exact in float32.
const EPS = 1 / 1024;
function gridTensor(dims: number[], seed: number): Tensor {
  const t = randomTensor('float32', dims, seed);
  const d = t.data as Float32Array;
  for (let i = 0; i < d.length; i++) d[i] = Math.round((d[i] as number) * 256) / 256;
  return t;
}

/** Naive float64 2-D average pooling (1-D runs as H = 1). */
interface RefPool {
  nc: number;
  inDims: [number, number];
  outDims: [number, number];
  kernel: [number, number];
  strides: [number, number];
  padsBegin: [number, number];
  padsEnd: [number, number];
  countIncludePad: boolean;
}

function refAveragePool(r: RefPool, x: Float64Array): Float64Array {
  const [H, W] = r.inDims;
  const [OH, OW] = r.outDims;
  const y = new Float64Array(r.nc * OH * OW);
  for (let nc = 0; nc < r.nc; nc++)
    for (let i = 0; i < OH; i++)
      for (let j = 0; j < OW; j++) {
        let sum = 0;
        let inside = 0;
        let padded = 0;
        for (let p = 0; p < r.kernel[0]; p++)
          for (let q = 0; q < r.kernel[1]; q++) {
            const hi = i * r.strides[0] + p - r.padsBegin[0];
            const wi = j * r.strides[1] + q - r.padsBegin[1];
            // A ceil-mode window may reach past the end padding: those positions never count.
            if (hi < H + r.padsEnd[0] && wi < W + r.padsEnd[1]) padded++;
            if (hi < 0 || hi >= H || wi < 0 || wi >= W) continue;
            sum += x[(nc * H + hi) * W + wi]!;
            inside++;
          }
        y[(nc * OH + i) * OW + j] = sum / (r.countIncludePad ? padded : inside);
      }
  return y;
}

interface Case {
  name: string;
  spatial: number[];
  out: number[];
  kernel: number[];
  strides?: number[];
  padsBegin?: number[];
  padsEnd?: number[];
  countIncludePad?: boolean;
  attributes: Record<string, Attribute>;
}

const CASES: Case[] = [
  {
    name: 'kernel = stride = 2',
    spatial: [6, 6],
    out: [3, 3],
    kernel: [2, 2],
    strides: [2, 2],
    attributes: { kernel_shape: attr.ints([2, 2]), strides: attr.ints([2, 2]) },
  },
  {
    name: '3x3 stride 2 pad 1, count_include_pad=0',
    spatial: [7, 6],
    out: [4, 3],
    kernel: [3, 3],
    strides: [2, 2],
    padsBegin: [1, 1],
    padsEnd: [1, 1],
    attributes: { kernel_shape: attr.ints([3, 3]), strides: attr.ints([2, 2]), pads: attr.ints([1, 1, 1, 1]) },
  },
  {
    name: '3x3 stride 2 pad 1, count_include_pad=1',
    spatial: [7, 6],
    out: [4, 3],
    kernel: [3, 3],
    strides: [2, 2],
    padsBegin: [1, 1],
    padsEnd: [1, 1],
    countIncludePad: true,
    attributes: { kernel_shape: attr.ints([3, 3]), strides: attr.ints([2, 2]), pads: attr.ints([1, 1, 1, 1]), count_include_pad: attr.int(1) },
  },
  {
    name: 'non-square [3, 2], strides [1, 2], asymmetric pads, count_include_pad=1',
    spatial: [5, 6],
    out: [6, 3],
    kernel: [3, 2],
    strides: [1, 2],
    padsBegin: [2, 0],
    padsEnd: [1, 1],
    countIncludePad: true,
    attributes: { kernel_shape: attr.ints([3, 2]), strides: attr.ints([1, 2]), pads: attr.ints([2, 0, 1, 1]), count_include_pad: attr.int(1) },
  },
  {
    name: 'stride 3 > kernel 2, uncovered tail',
    spatial: [7, 6],
    out: [2, 2],
    kernel: [2, 2],
    strides: [3, 3],
    attributes: { kernel_shape: attr.ints([2, 2]), strides: attr.ints([3, 3]) },
  },
  {
    name: 'ceil_mode, 3x3 stride 2, count_include_pad=0',
    spatial: [6, 7],
    out: [3, 3],
    kernel: [3, 3],
    strides: [2, 2],
    attributes: { kernel_shape: attr.ints([3, 3]), strides: attr.ints([2, 2]), ceil_mode: attr.int(1) },
  },
  {
    name: 'ceil_mode with pads, count_include_pad=1',
    spatial: [6, 6],
    out: [4, 4],
    kernel: [3, 3],
    strides: [2, 2],
    padsBegin: [1, 1],
    padsEnd: [1, 1],
    countIncludePad: true,
    attributes: {
      kernel_shape: attr.ints([3, 3]),
      strides: attr.ints([2, 2]),
      pads: attr.ints([1, 1, 1, 1]),
      ceil_mode: attr.int(1),
      count_include_pad: attr.int(1),
    },
  },
  {
    name: '1-D kernel 3 stride 2 pad 1',
    spatial: [9],
    out: [5],
    kernel: [3],
    strides: [2],
    padsBegin: [1],
    padsEnd: [1],
    attributes: { kernel_shape: attr.ints([3]), strides: attr.ints([2]), pads: attr.ints([1, 1]) },
  },
];

function refOf(k: Case, nc: number): RefPool {
  const two = (v: number[] | undefined, fill: number, pad: number): [number, number] => {
    const w = v ?? k.spatial.map(() => fill);
    return (w.length === 1 ? [pad, w[0]] : w) as [number, number];
  };
  return {
    nc,
    inDims: two(k.spatial, 0, 1),
    outDims: two(k.out, 0, 1),
    kernel: two(k.kernel, 0, 1),
    strides: two(k.strides, 1, 1),
    padsBegin: two(k.padsBegin, 0, 0),
    padsEnd: two(k.padsEnd, 0, 0),
    countIncludePad: k.countIncludePad ?? false,
  };
}

function checkForward(graph: Graph, feeds: Record<string, Tensor>, yDims: number[], expected: Float64Array): Promise<void> {
  return (async () => {
    const s = await Session.create(makeModel(graph), { threads: 1 });
    const y = (await s.run(feeds))['y']!;
    await s.release();
    assert.deepEqual([...y.dims], yDims);
    let worst = 0;
    expected.forEach((v, i) => (worst = Math.max(worst, Math.abs(v - (y.data[i] as number)))));
    assert.ok(worst < 1e-4, `max |reference − ORT| = ${worst}`);
  })();
}

function poolGraph(opType: string, attributes: Record<string, Attribute>, xDims: number[], yDims: number[]): Graph {
  return oneNodeGraph(opType, {
    name: 'pool',
    inputs: [{ name: 'x', dtype: 'float32', shape: xDims }],
    attributes,
    outputs: [{ name: 'y', dtype: 'float32', shape: yDims }],
  });
}

for (const k of CASES) {
  const [N, C] = [2, 3];
  const ref = refOf(k, N * C);
  const xDims = [N, C, ...k.spatial];
  const yDims = [N, C, ...k.out];
  const feeds = { x: gridTensor(xDims, 21) };
  const reference = (f: Record<string, Float64Array>): Float64Array[] => [refAveragePool(ref, f['x']!)];

  test(`AveragePool ${k.name}: float64 reference matches ORT's forward`, async () => {
    await checkForward(
      poolGraph('AveragePool', k.attributes, xDims, yDims),
      feeds,
      yDims,
      reference({ x: Float64Array.from(feeds.x.data as Float32Array) })[0]!,
    );
  });

  test(`AveragePool ${k.name}: gradient matches finite differences`, async () => {
    const r = await gradCheck({ graph: poolGraph('AveragePool', k.attributes, xDims, yDims), feeds, wrt: ['x'], reference, eps: EPS });
    assert.equal(r.checked, feeds.x.size);
  });
}

for (const spatial of [[5, 6], [7]]) {
  const xDims = [2, 3, ...spatial];
  const yDims = [2, 3, ...spatial.map(() => 1)];
  const size = spatial.reduce((a, b) => a * b, 1);
  const reference = (f: Record<string, Float64Array>): Float64Array[] => {
    const x = f['x']!;
    return [Float64Array.from({ length: 6 }, (_, nc) => x.subarray(nc * size, (nc + 1) * size).reduce((a, b) => a + b, 0) / size)];
  };
  const feeds = { x: gridTensor(xDims, 31) };
  test(`GlobalAveragePool ${spatial.length}-D: reference matches ORT and the gradient matches finite differences`, async () => {
    await checkForward(poolGraph('GlobalAveragePool', {}, xDims, yDims), feeds, yDims, reference({ x: Float64Array.from(feeds.x.data as Float32Array) })[0]!);
    const r = await gradCheck({ graph: poolGraph('GlobalAveragePool', {}, xDims, yDims), feeds, wrt: ['x'], reference, eps: EPS });
    assert.equal(r.checked, feeds.x.size);
  });
}
