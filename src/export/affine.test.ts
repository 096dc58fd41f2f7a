// Oracle: onnxruntime's own QuantizeLinear / DequantizeLinear / Cast / MatMulNBits kernels.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { attr, Graph, makeModel } from '../ir/graph.js';
import { Tensor } from '../ir/tensor.js';
import type { DType } from '../ir/tensor.js';
import { Session } from '../runtime/session.js';
import { exportFp16, fromFloat16Bits, toFloat16Bits } from './fp16.js';
import { quantizeInt4Blocks } from './int4.js';
import { packCodes, unpackCodes } from './packed.js';
import { checkBits, quantizeArray, quantRange, rangeToParams, roundHalfEven, weightParams } from './affine.js';

async function runOne(build: (g: Graph) => void, feeds: Record<string, Tensor>, opset = 17): Promise<Record<string, Tensor>> {
  const g = new Graph('t');
  build(g);
  const m = makeModel(g);
  if (opset !== 17) m.opsetImports.push({ domain: 'com.microsoft', version: 1 });
  const s = await Session.create(m, { threads: 1 });
  try {
    return await s.run(feeds);
  } finally {
    await s.release();
  }
}

/** Values that stress rounding: exact ties at ±k.5 steps, saturation, zero, random. */
function stressValues(scale: number, n: number): Float32Array {
  const v: number[] = [0, -0, 1e9, -1e9];
  for (let k = -140; k <= 140; k++) v.push((k + 0.5) * scale, k * scale, (k + 0.49) * scale);
  let s = 7;
  while (v.length < n) {
    s = (s * 1103515245 + 12345) % 2 ** 31;
    v.push(((s / 2 ** 31) * 2 - 1) * 200 * scale);
  }
  return Float32Array.from(v);
}

test('round half to even and bit checks', () => {
  assert.deepEqual([0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 2.4999, 3.5].map(roundHalfEven), [0, 2, 2, -0, -2, -2, 2, 4]);
  assert.deepEqual(quantRange({ bits: 4, signed: true }), [-8, 7]);
  assert.deepEqual(quantRange({ bits: 2, signed: false }), [0, 3]);
  assert.throws(() => checkBits(3), /options.bits '3' is not supported.*2, 4, 8/);
  const p = rangeToParams(-1, 3, { bits: 8, signed: false, symmetric: false });
  assert.equal(p.zeroPoint, 64);
});

for (const [dtype, zp] of [
  ['uint8', 131],
  ['int8', -3],
] as [DType, number][]) {
  test(`quantizeArray matches ORT QuantizeLinear bit for bit (${dtype}, per tensor)`, async () => {
    const scale = 0.0371;
    const x = stressValues(scale, 2000);
    const r = await runOne(
      (g) => {
        g.inputs.push({ name: 'x', dtype: 'float32', shape: [x.length] });
        g.initializers.set('s', Tensor.scalar('float32', scale));
        g.initializers.set('z', Tensor.fromArray(dtype, [], [zp]));
        g.nodes.push({ name: 'q', opType: 'QuantizeLinear', domain: '', inputs: ['x', 's', 'z'], outputs: ['y'], attributes: {} });
        g.outputs.push({ name: 'y', dtype, shape: [x.length] });
      },
      { x: new Tensor('float32', [x.length], x) },
    );
    const [qmin, qmax] = quantRange({ bits: 8, signed: dtype === 'int8' });
    const ours = quantizeArray(x, [x.length], {
      scale: Float32Array.of(scale),
      zeroPoint: Int32Array.of(zp),
      axis: undefined,
      scheme: { bits: 8, signed: dtype === 'int8', symmetric: false },
    });
    const theirs = Array.from(r['y']?.data as ArrayLike<number>);
    for (let i = 0; i < x.length; i++) assert.equal(ours[i], theirs[i], `x=${x[i]}: ours ${ours[i]} vs ORT ${theirs[i]} (range ${qmin}..${qmax})`);
  });
}

test('per-channel weight quantization matches ORT QuantizeLinear with axis', async () => {
  const dims = [6, 3, 2, 2];
  const w = stressValues(0.01, 72).slice(4, 76);
  const p = weightParams(w, dims, { bits: 8, signed: true, symmetric: true }, 0);
  const r = await runOne(
    (g) => {
      g.inputs.push({ name: 'w', dtype: 'float32', shape: dims });
      g.initializers.set('s', new Tensor('float32', [6], p.scale));
      g.initializers.set('z', new Tensor('int8', [6]));
      g.nodes.push({ name: 'q', opType: 'QuantizeLinear', domain: '', inputs: ['w', 's', 'z'], outputs: ['y'], attributes: { axis: attr.int(0) } });
      g.outputs.push({ name: 'y', dtype: 'int8', shape: dims });
    },
    { w: new Tensor('float32', dims, w) },
  );
  assert.deepEqual(Array.from(quantizeArray(w, dims, p)), Array.from(r['y']?.data as Int8Array));
});

test('fp16 conversion matches ORT Cast, and the fp16 model has half the bytes', async () => {
  const x = Float32Array.from([0, -0, 1, -1, 65504, 65520, 1e6, 5.96e-8, 2.98e-8, 1e-9, 6.1e-5, 0.1, 1 / 3, 2049, 2051, ...stressValues(0.013, 500)]);
  const r = await runOne(
    (g) => {
      g.inputs.push({ name: 'x', dtype: 'float32', shape: [x.length] });
      g.nodes.push({ name: 'c', opType: 'Cast', domain: '', inputs: ['x'], outputs: ['y'], attributes: { to: attr.int(10) } });
      g.outputs.push({ name: 'y', dtype: 'float16', shape: [x.length] });
    },
    { x: new Tensor('float32', [x.length], x) },
  );
  const theirs = r['y']?.data as Uint16Array;
  for (let i = 0; i < x.length; i++) assert.equal(toFloat16Bits(x[i] as number), theirs[i], `x=${x[i]}`);
  assert.equal(fromFloat16Bits(toFloat16Bits(0.1)), 0.0999755859375);
  const g = new Graph('m');
  g.initializers.set('w', new Tensor('float32', [1000], new Float32Array(1000).fill(0.5)));
  const half = exportFp16(makeModel(g));
  assert.equal(half.graph.initializers.get('w.fp16')?.data.byteLength, 2000);
});

test('int4 blocks: ORT MatMulNBits computes A · dequantized weights', async () => {
  const k = 70;
  const n = 5;
  const w = stressValues(0.02, 4 + k * n).slice(4, 4 + k * n);
  const q = quantizeInt4Blocks(w, k, n, 32, false);
  for (let i = 0; i < k * n; i++)
    assert.ok(
      Math.abs((q.dequantized[i] as number) - (w[i] as number)) <= (q.scales[Math.floor((i % n) * q.blocks + Math.floor(i / n / 32))] as number) / 2 + 1e-6,
      `element ${i} off by more than half a step`,
    );
  const a = stressValues(0.001, 4 + 2 * k).slice(4, 4 + 2 * k);
  const r = await runOne(
    (g) => {
      g.inputs.push({ name: 'a', dtype: 'float32', shape: [2, k] });
      g.initializers.set('b', new Tensor('uint8', [n, q.blocks, 16], q.packed));
      g.initializers.set('s', new Tensor('float32', [n * q.blocks], q.scales));
      g.initializers.set('z', new Tensor('uint8', [q.zeroPoints.length], q.zeroPoints));
      g.nodes.push({
        name: 'mm',
        opType: 'MatMulNBits',
        domain: 'com.microsoft',
        inputs: ['a', 'b', 's', 'z'],
        outputs: ['y'],
        attributes: { K: attr.int(k), N: attr.int(n), bits: attr.int(4), block_size: attr.int(32) },
      });
      g.outputs.push({ name: 'y', dtype: 'float32', shape: [2, n] });
    },
    { a: new Tensor('float32', [2, k], a) },
    1,
  );
  const y = r['y']?.data as Float32Array;
  for (let i = 0; i < 2; i++) {
    for (let j = 0; j < n; j++) {
      let ref = 0;
      for (let t = 0; t < k; t++) ref += (a[i * k + t] as number) * (q.dequantized[t * n + j] as number);
      assert.ok(Math.abs((y[i * n + j] as number) - ref) <= 1e-3 * Math.max(1, Math.abs(ref)), `y[${i},${j}] ${y[i * n + j]} vs ${ref}`);
    }
  }
});

test('1- and 2-bit packing round-trips', () => {
  const codes = Uint8Array.from({ length: 37 }, (_, i) => (i * 7) % 3);
  assert.deepEqual(unpackCodes(packCodes(codes, 2), 2, 37), codes);
  assert.equal(packCodes(codes, 2).length, 10);
  const bitsIn = Uint8Array.from({ length: 19 }, (_, i) => (i * 5) % 2);
  assert.deepEqual(unpackCodes(packCodes(bitsIn, 1), 1, 19), bitsIn);
  assert.throws(() => packCodes([4], 2), /does not fit/);
});
