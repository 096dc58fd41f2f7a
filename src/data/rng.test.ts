import assert from 'node:assert/strict';
import { test } from 'node:test';
import { WhittleError } from '../ir/errors.js';
import { createRng, deriveSeed, rngFromState, shuffledIndices } from './rng.js';

test('xoshiro128** matches the reference outputs for state (1, 2, 3, 4)', () => {
  // First outputs of the reference C implementation (prng.di.unimi.it) from s = {1, 2, 3, 4}.
  const rng = rngFromState(1, 2, 3, 4);
  const got = Array.from({ length: 4 }, () => rng.nextUint32());
  assert.deepEqual(got, [11520, 0, 5927040, 70819200]);
});

test('createRng is deterministic per seed, and seeds differ', () => {
  const a = createRng(42);
  const b = createRng(42);
  const c = createRng(43);
  const sa = Array.from({ length: 100 }, () => a.next());
  const sb = Array.from({ length: 100 }, () => b.next());
  const sc = Array.from({ length: 100 }, () => c.next());
  assert.deepEqual(sa, sb);
  assert.notDeepEqual(sa, sc);
});

test('next() lies in [0, 1) and is close to uniform', () => {
  const rng = createRng(7);
  const n = 100000;
  const bins = new Array<number>(10).fill(0);
  let sum = 0;
  for (let i = 0; i < n; i++) {
    const u = rng.next();
    assert.ok(u >= 0 && u < 1);
    sum += u;
    bins[Math.floor(u * 10)]! += 1;
  }
  assert.ok(Math.abs(sum / n - 0.5) < 0.005, `mean ${sum / n}`);
  for (const b of bins) assert.ok(Math.abs(b - n / 10) < 500, `bin count ${b}`);
});

test('deriveSeed gives distinct, reproducible seeds per stream', () => {
  assert.equal(deriveSeed(42, 3), deriveSeed(42, 3));
  const seen = new Set<number>();
  for (let s = 0; s < 20; s++) for (let e = 0; e < 50; e++) seen.add(deriveSeed(s, e));
  assert.equal(seen.size, 1000);
  for (const v of seen) assert.ok(Number.isSafeInteger(v) && v >= 0);
});

test('shuffledIndices returns a permutation, different per rng', () => {
  const p = shuffledIndices(1000, createRng(1));
  assert.deepEqual(
    [...p].sort((x, y) => x - y),
    Array.from({ length: 1000 }, (_, i) => i),
  );
  assert.notDeepEqual(p, shuffledIndices(1000, createRng(2)));
  assert.deepEqual(p, shuffledIndices(1000, createRng(1)));
  assert.equal(shuffledIndices(0, createRng(1)).length, 0);
});

test('shuffledIndices moves every element uniformly (first position histogram)', () => {
  const counts = new Array<number>(5).fill(0);
  const rng = createRng(99);
  for (let t = 0; t < 50000; t++) counts[shuffledIndices(5, rng)[0]!]! += 1;
  for (const c of counts) assert.ok(Math.abs(c - 10000) < 400, `count ${c}`);
});

test('a non-integer seed is BAD_ARGUMENT', () => {
  assert.throws(
    () => createRng(1.5),
    (e: unknown) => e instanceof WhittleError && e.code === 'BAD_ARGUMENT' && e.message.includes('1.5'),
  );
});
