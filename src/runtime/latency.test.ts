import assert from 'node:assert/strict';
import { test } from 'node:test';
import { attr, Graph, makeModel } from '../ir/graph.js';
import { Tensor } from '../ir/tensor.js';
import { compareLatency, median } from './latency.js';

function dense(width: number) {
  const g = new Graph(`dense-${width}`);
  g.inputs.push({ name: 'x', dtype: 'float32', shape: ['N', 16] });
  g.initializers.set('w', new Tensor('float32', [width, 16], new Float32Array(width * 16).fill(0.01)));
  g.nodes.push({ name: 'fc', opType: 'Gemm', domain: '', inputs: ['x', 'w'], outputs: ['y'], attributes: { transB: attr.int(1) } });
  g.outputs.push({ name: 'y', dtype: 'float32', shape: ['N', width] });
  return makeModel(g);
}

test('median of odd and even counts, NaN of none', () => {
  assert.equal(median([3, 1, 2]), 2);
  assert.equal(median([4, 1, 3, 2]), 2.5);
  assert.ok(Number.isNaN(median([])));
});

test('compareLatency: one row per case and setting, medians of the rounds, speed-up against the first case', async () => {
  const feeds = { x: new Tensor('float32', [8, 16], new Float32Array(128).fill(1)) };
  const seen: string[] = [];
  const rows = await compareLatency(
    [
      { name: 'wide', model: dense(64), feeds },
      { name: 'narrow', model: dense(4), feeds },
    ],
    [
      { backend: 'node', threads: 1 },
      { backend: 'web', threads: 1 },
    ],
    { rounds: 3, warmup: 2, runs: 5, onMeasure: (m) => seen.push(`${m.round}:${m.setting.backend}:${m.name}`) },
  );
  // Cases alternate inside each round, settings inside rounds; each round starts one case later.
  assert.deepEqual(seen.slice(0, 8), [
    '0:node:wide',
    '0:node:narrow',
    '0:web:wide',
    '0:web:narrow',
    '1:node:narrow',
    '1:node:wide',
    '1:web:narrow',
    '1:web:wide',
  ]);
  assert.equal(seen.length, 12);
  assert.deepEqual(
    rows.map((r) => `${r.backend}:${r.name}`),
    ['node:wide', 'node:narrow', 'web:wide', 'web:narrow'],
  );
  for (const r of rows) {
    assert.equal(r.samples.length, 3);
    assert.ok(r.samples.every((ms) => ms > 0 && Number.isFinite(ms)));
    assert.equal(r.ms, median(r.samples));
    const first = rows.find((x) => x.backend === r.backend && x.name === 'wide');
    assert.equal(r.speedup, (first?.ms ?? NaN) / r.ms);
  }
  assert.equal(rows[0]?.speedup, 1);
});
