import assert from 'node:assert/strict';
import { test } from 'node:test';
import { WhittleError } from '../../ir/errors.js';
import { modelStats } from '../../ir/stats.js';
import { createModel } from '../../nn/index.js';
import { SHAPE_RULES } from '../../ops/index.js';
import { sparsityForFlops } from './budget.js';
import { pruneChannels } from './structured.js';

const lenet5 = createModel('lenet-5', { seed: 4 });
const thin = async (s: number) => (await pruneChannels(lenet5, { sparsity: s })).model;
const flopsOf = async (s: number) => modelStats(await thin(s), SHAPE_RULES).flops;

for (const fraction of [0.25, 0.5, 0.8]) {
  test(`sparsityForFlops(${fraction}): the smallest sparsity (in 1/1000) whose thinned LeNet-5 fits the budget`, async () => {
    const r = await sparsityForFlops(lenet5, fraction, thin);
    assert.equal(r.flopsBefore, modelStats(lenet5, SHAPE_RULES).flops);
    assert.equal(r.flops, await flopsOf(r.sparsity));
    assert.ok(r.flops <= fraction * r.flopsBefore, `${r.flops} of ${r.flopsBefore}`);
    assert.ok((await flopsOf(r.sparsity - 0.001)) > fraction * r.flopsBefore, 'one step less does not fit');
  });
}

test('sparsityForFlops: a budget no sparsity reaches, or outside (0, 1), is refused with the furthest reach named', async () => {
  await assert.rejects(
    sparsityForFlops(lenet5, 0.001, thin),
    (e: unknown) => e instanceof WhittleError && /the furthest, 97\.4% of the channels, leaves \d+\.\d%\./.test(e.message),
  );
  await assert.rejects(sparsityForFlops(lenet5, 1, thin), /in \(0, 1\)/);
});
