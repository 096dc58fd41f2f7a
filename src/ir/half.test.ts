import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fromHalfBits, halfExact, roundToHalf, toHalfBits } from './half.js';

test('float16 conversion matches IEEE: known bit patterns, round-to-nearest-even, subnormals, overflow', () => {
  const cases: [number, number][] = [
    [1, 0x3c00],
    [-2, 0xc000],
    [65504, 0x7bff],
    [2 ** -24, 0x0001],
    [2 ** -14, 0x0400],
    [0.1, 0x2e66],
    [-0, 0x8000],
    [1e6, 0x7c00],
    [1 + 2 ** -11, 0x3c00],
    [1 + 3 * 2 ** -11, 0x3c02],
  ];
  for (const [v, h] of cases) assert.equal(toHalfBits(v), h, `${v}`);
  // Every half value converts back to itself.
  for (let h = 0; h < 0x7c00; h++) assert.equal(toHalfBits(fromHalfBits(h)), h);
  assert.ok(halfExact(roundToHalf(Float32Array.of(0.1, -3.3, 1e-7))));
  assert.ok(!halfExact(Float32Array.of(0.1)));
});
