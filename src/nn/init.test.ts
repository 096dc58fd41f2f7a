import assert from 'node:assert/strict';
import { test } from 'node:test';
import { WhittleError } from '../ir/errors.js';
import { fans, filled, glorotUniform, heNormal, initWeight, Rng } from './init.js';

function moments(d: ArrayLike<number>): { mean: number; variance: number } {
  let s = 0;
  for (let i = 0; i < d.length; i++) s += d[i] as number;
  const mean = s / d.length;
  let v = 0;
  for (let i = 0; i < d.length; i++) v += ((d[i] as number) - mean) ** 2;
  return { mean, variance: v / d.length };
}

test('the same seed gives the same stream; another seed a different one', () => {
  const a = new Rng(42);
  const b = new Rng(42);
  const c = new Rng(43);
  const sa = Array.from({ length: 100 }, () => a.normal());
  const sb = Array.from({ length: 100 }, () => b.normal());
  const sc = Array.from({ length: 100 }, () => c.normal());
  assert.deepEqual(sa, sb);
  assert.notDeepEqual(sa, sc);
});

test('uniform samples lie in [0, 1) with mean 1/2 and variance 1/12', () => {
  const rng = new Rng(7);
  const d = Array.from({ length: 200_000 }, () => rng.uniform());
  assert.ok(d.every((u) => u >= 0 && u < 1));
  const { mean, variance } = moments(d);
  assert.ok(Math.abs(mean - 0.5) < 0.005, `mean ${mean}`);
  assert.ok(Math.abs(variance - 1 / 12) < 0.002, `variance ${variance}`);
});

test('normal samples have mean 0 and variance 1', () => {
  const rng = new Rng(3);
  const { mean, variance } = moments(Array.from({ length: 200_000 }, () => rng.normal()));
  assert.ok(Math.abs(mean) < 0.01, `mean ${mean}`);
  assert.ok(Math.abs(variance - 1) < 0.02, `variance ${variance}`);
});

test('fans follow PyTorch for dense and conv weights', () => {
  assert.deepEqual(fans([300, 784]), { fanIn: 784, fanOut: 300 });
  assert.deepEqual(fans([50, 20, 5, 5]), { fanIn: 500, fanOut: 1250 });
  assert.throws(
    () => fans([10]),
    (e: unknown) => e instanceof WhittleError && e.code === 'BAD_ARGUMENT',
  );
});

test('He init over a big layer has variance within 10% of 2 / fan_in', () => {
  const w = heNormal(new Rng(11), [512, 1024]);
  const { mean, variance } = moments(w.data as Float32Array);
  const want = 2 / 1024;
  assert.ok(Math.abs(mean) < 0.01 * Math.sqrt(want), `mean ${mean}`);
  assert.ok(Math.abs(variance - want) / want < 0.1, `variance ${variance}, want ${want}`);
  // The same holds for a conv weight, whose fan_in includes the receptive field.
  const c = heNormal(new Rng(12), [256, 64, 3, 3]);
  const vc = moments(c.data as Float32Array).variance;
  assert.ok(Math.abs(vc - 2 / 576) / (2 / 576) < 0.1, `conv variance ${vc}`);
});

test('Glorot uniform stays inside its bound with variance 2 / (fan_in + fan_out)', () => {
  const w = glorotUniform(new Rng(5), [300, 784]);
  const a = Math.sqrt(6 / (784 + 300));
  const d = w.data as Float32Array;
  assert.ok(d.every((x) => Math.abs(x) <= a));
  const { variance } = moments(d);
  const want = 2 / (784 + 300);
  assert.ok(Math.abs(variance - want) / want < 0.05, `variance ${variance}, want ${want}`);
});

test('initWeight dispatches by kind and is deterministic; filled fills', () => {
  const a = initWeight(new Rng(9), [20, 1, 5, 5], 'he');
  const b = heNormal(new Rng(9), [20, 1, 5, 5]);
  assert.deepEqual([...a.data], [...b.data]);
  assert.deepEqual(a.dims, [20, 1, 5, 5]);
  assert.equal(a.dtype, 'float32');
  assert.deepEqual([...filled([3], 1).data], [1, 1, 1]);
});
