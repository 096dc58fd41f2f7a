import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createRng } from '../data/index.js';
import { paretoFront } from './pareto.js';
import type { Trial } from './types.js';

function trial(index: number, valAccuracy: number, bytes: number, latencyMs: number): Trial {
  return {
    index,
    origin: 'test',
    candidate: { layers: {}, lr: 0.01 },
    result: { key: String(index), valAccuracy, bytes, flops: 0, params: 0, nonzeroParams: 0, seconds: 0 },
    latencyMs,
  };
}

test('paretoFront keeps exactly the trials no other trial dominates (brute-force oracle)', () => {
  const rng = createRng(7);
  for (let round = 0; round < 20; round++) {
    const trials = Array.from({ length: 30 }, (_, i) => trial(i, Math.round(rng.next() * 20) / 20, Math.round(rng.next() * 10), Math.round(rng.next() * 5)));
    const front = paretoFront(trials);
    const better = (a: Trial, b: Trial): boolean =>
      a.result.valAccuracy >= b.result.valAccuracy &&
      a.result.bytes <= b.result.bytes &&
      a.latencyMs <= b.latencyMs &&
      (a.result.valAccuracy > b.result.valAccuracy || a.result.bytes < b.result.bytes || a.latencyMs < b.latencyMs);
    for (const t of trials) {
      const dominated = trials.some((o) => better(o, t));
      const same = front.some((f) => f.result.valAccuracy === t.result.valAccuracy && f.result.bytes === t.result.bytes && f.latencyMs === t.latencyMs);
      assert.equal(same, !dominated, `trial ${t.index}`);
    }
    for (let i = 1; i < front.length; i++) assert.ok((front[i - 1] as Trial).result.bytes <= (front[i] as Trial).result.bytes);
  }
});

test('paretoFront: a strictly better trial removes the other; equal measurements are kept once', () => {
  const f = paretoFront([trial(0, 0.9, 100, 1), trial(1, 0.95, 90, 1), trial(2, 0.95, 90, 1), trial(3, 0.99, 500, 2)]);
  assert.deepEqual(
    f.map((t) => t.index),
    [1, 3],
  );
});
