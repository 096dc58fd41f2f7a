// A small fixed sample of the fuzz suite (npm run fuzz runs more): every input kind, plain
// mutations and bombs, through the real CLI. None may crash, print a stack trace, hang, take more
// than 1 GB, leave a partial output or modify its input.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fuzzCase, KINDS } from './cases.js';
import { runCases } from './runner.js';

test('fuzz sample: every kind of mutated input gets a clean error or a clean result', async () => {
  // Seed 5, first 12 cases: two of each kind (a .wtl and two .npz bombs among them); plus the
  // .npy shape bomb, the billion-laughs recipe and the gzip IDX bomb.
  const cases = Array.from({ length: 12 }, (_, i) => fuzzCase(5, i));
  const bombs = [15, 41, 164].map((i) => fuzzCase(5, i)).filter((c) => c.mutation.startsWith('bomb'));
  const results = await runCases([...cases, ...bombs], { timeoutMs: 30_000, maxRssMb: 1024 }, 2);
  assert.deepEqual(new Set(results.map((r) => r.case.kind)), new Set(KINDS));
  const failing = results.filter((r) => r.failures.length > 0).map((r) => `${r.case.id} ${r.case.kind} ${r.case.mutation}: ${r.failures.join('; ')}`);
  assert.deepEqual(failing, []);
});
