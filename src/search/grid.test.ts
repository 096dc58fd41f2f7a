// The fixed-grid formats against their definitions: int4 is the nearest of 16 uniform levels
// (error ≤ half a step), ternary is TWN's {−a, 0, +a} with the 0.7·mean|w| threshold.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { sharedValues } from '../compress/codec/index.js';
import { gridShare } from './grid.js';
import { sharedBits } from './types.js';

const data = Float32Array.from({ length: 200 }, (_, i) => (i % 10 === 0 ? 0 : Math.sin(i * 1.3) * (1 + (i % 7))));

test('int4: 16 uniform levels, one scale; every kept weight within half a step; zeros stay pruned', () => {
  const w = gridShare(data, [20, 10], 'int4');
  assert.equal(w.bits, 4);
  assert.equal(sharedBits('int4'), 4);
  const maxAbs = Math.max(...data.map(Math.abs));
  const step = maxAbs / 7;
  assert.equal(w.codebook.length, 16);
  w.codebook.forEach((c, k) => assert.ok(Math.abs(c - (k - 8) * step) < 1e-6));
  const back = sharedValues(w);
  data.forEach((v, i) => {
    if (v === 0) assert.equal(w.assignment[i], -1);
    else assert.ok(Math.abs((back[i] as number) - v) <= step / 2 + 1e-6, `${i}: ${back[i]} vs ${v}`);
  });
});

test('ternary: weights under 0.7·mean|w| become zero, the rest ±a with a their mean magnitude', () => {
  const w = gridShare(data, [200], 'ternary');
  assert.equal(w.bits, 1);
  assert.equal(sharedBits('ternary'), 1);
  const nz = [...data].filter((v) => v !== 0).map(Math.abs);
  const delta = (0.7 * nz.reduce((a, b) => a + b, 0)) / nz.length;
  const kept = nz.filter((v) => v > delta);
  const a = kept.reduce((x, y) => x + y, 0) / kept.length;
  const back = sharedValues(w);
  data.forEach((v, i) => {
    const want = v !== 0 && Math.abs(v) > delta ? Math.sign(v) * a : 0;
    assert.ok(Math.abs((back[i] as number) - want) < 1e-5, `${i}: ${back[i]} vs ${want}`);
  });
});
