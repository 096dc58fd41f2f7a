import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { WhittleError } from '../ir/errors.js';
import type { DType } from '../ir/tensor.js';
import { decodeNpy, encodeNpy, readNpy } from './npy.js';

const FIXTURES = fileURLToPath(new URL('../../../test/fixtures/npy/', import.meta.url));

/** A .npy file laid out by hand from NEP 1: magic, version, header length, dict header, data. */
function handNpy(version: 1 | 2, dict: string, data: Uint8Array): Uint8Array {
  const prefix = version === 1 ? 10 : 12;
  let header = `${dict}\n`;
  while ((prefix + header.length) % 64 !== 0) header = `${header.slice(0, -1)} \n`;
  const out = new Uint8Array(prefix + header.length + data.length);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, version, 0]);
  if (version === 1) out.set([header.length & 0xff, header.length >> 8], 8);
  else out.set([header.length & 0xff, (header.length >> 8) & 0xff, 0, 0], 8);
  for (let i = 0; i < header.length; i++) out[prefix + i] = header.charCodeAt(i);
  out.set(data, prefix + header.length);
  return out;
}

test('a hand-built v1.0 header: float32 [2, 2] little-endian values', () => {
  const values = new Uint8Array(Float32Array.of(1.5, -2, 0.25, 8).buffer);
  const bytes = handNpy(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2), }", values);
  const a = decodeNpy(bytes);
  assert.equal(a.dtype, 'float32');
  assert.deepEqual(a.dims, [2, 2]);
  assert.deepEqual([...a.data], [1.5, -2, 0.25, 8]);
  // Whittle writes the same bytes as the hand layout.
  assert.deepEqual(encodeNpy(a), bytes);
});

test('a hand-built v2.0 header (4-byte length) and a 1-D shape "(3,)"', () => {
  const values = new Uint8Array(BigInt64Array.of(7n, -1n, 1n << 40n).buffer);
  const bytes = handNpy(2, "{'descr': '<i8', 'fortran_order': False, 'shape': (3,), }", values);
  const a = decodeNpy(bytes);
  assert.equal(a.dtype, 'int64');
  assert.deepEqual(a.dims, [3]);
  assert.deepEqual([...a.data], [7n, -1n, 1n << 40n]);
  assert.deepEqual(encodeNpy(a, { version: 2 }), bytes);
});

test('a scalar "()" and a bool array with the "|b1" descr', () => {
  const s = decodeNpy(handNpy(1, "{'descr': '<f8', 'fortran_order': False, 'shape': (), }", new Uint8Array(Float64Array.of(3.25).buffer)));
  assert.deepEqual(s.dims, []);
  assert.deepEqual([...s.data], [3.25]);
  const b = decodeNpy(handNpy(1, "{'descr': '|b1', 'fortran_order': False, 'shape': (1, 3), }", Uint8Array.of(1, 0, 1)));
  assert.equal(b.dtype, 'bool');
  assert.deepEqual([...b.data], [1, 0, 1]);
});

test('every dtype round-trips through encodeNpy/decodeNpy with a 64-byte aligned header', () => {
  const cases: [DType, ArrayLike<number | bigint>][] = [
    ['float32', Float32Array.of(0.5, -1)],
    ['float64', Float64Array.of(Math.PI, -0)],
    ['float16', Uint16Array.of(0x3c00, 0xc000)],
    ['int64', BigInt64Array.of(-5n, 9n)],
    ['int32', Int32Array.of(-7, 1 << 30)],
    ['int8', Int8Array.of(-128, 127)],
    ['uint8', Uint8Array.of(0, 255)],
    ['bool', Uint8Array.of(1, 0)],
  ];
  for (const [dtype, data] of cases) {
    const bytes = encodeNpy({ dtype, dims: [2], data: data as never });
    const headerLen = bytes[8]! | (bytes[9]! << 8);
    assert.equal((10 + headerLen) % 64, 0, dtype);
    const back = decodeNpy(bytes);
    assert.equal(back.dtype, dtype);
    assert.deepEqual([...back.data], Array.from(data as ArrayLike<number>), dtype);
  }
});

test('files written by NumPy decode to the values the script wrote', () => {
  // make_npy_fixtures.py: np.arange(6).reshape(2, 3), floats as that / 4 - 0.5.
  const base = [0, 1, 2, 3, 4, 5];
  const floats = base.map((v) => v / 4 - 0.5);
  const expect: Record<string, [DType, unknown[]]> = {
    float32: ['float32', floats],
    float64: ['float64', floats],
    float16: ['float16', [0xb800, 0xb400, 0, 0x3400, 0x3800, 0x3a00]],
    int64: ['int64', base.map(BigInt)],
    int32: ['int32', base],
    int8: ['int8', base.map((v) => v - 3)],
    uint8: ['uint8', base],
    bool: ['bool', base.map((v) => v % 2)],
    v2: ['float32', floats],
  };
  for (const [name, [dtype, values]] of Object.entries(expect)) {
    const a = readNpy(`${FIXTURES}${name}.npy`);
    assert.equal(a.dtype, dtype, name);
    assert.deepEqual(a.dims, [2, 3], name);
    assert.deepEqual([...a.data], values, name);
  }
  assert.equal(readFileSync(`${FIXTURES}v2.npy`)[6], 2);
});

test('Fortran order, big-endian and non-.npy bytes are clear errors', () => {
  assert.throws(
    () => readNpy(`${FIXTURES}fortran.npy`),
    (e: unknown) => e instanceof WhittleError && /Fortran order.*ascontiguousarray/.test(e.message),
  );
  assert.throws(
    () => readNpy(`${FIXTURES}bigendian.npy`),
    (e: unknown) => e instanceof WhittleError && /'>f4'.*little-endian.*astype\('<f4'\)/.test(e.message),
  );
  assert.throws(() => decodeNpy(new TextEncoder().encode('hello world, not numpy'), 'x.npy'), /x\.npy is not a NumPy \.npy file/);
  const u16 = handNpy(1, "{'descr': '<u2', 'fortran_order': False, 'shape': (1,), }", Uint8Array.of(1, 0));
  assert.throws(() => decodeNpy(u16, 'u.npy'), /u\.npy has dtype '<u2'/);
  const short = handNpy(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (4,), }", new Uint8Array(8));
  assert.throws(() => decodeNpy(short, 's.npy'), /needs 16 data bytes, the file has 8/);
});
