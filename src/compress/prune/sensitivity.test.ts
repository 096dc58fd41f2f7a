// Proposals from sensitivity curves, against hand-worked answers.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { proposeForTarget, proposeSparsities } from './sensitivity.js';

const curves = {
  baseline: 0.98,
  layers: [
    {
      name: 'big',
      params: 900,
      points: [
        { sparsity: 0.5, accuracy: 0.98 },
        { sparsity: 0.9, accuracy: 0.975 },
        { sparsity: 0.95, accuracy: 0.9 },
      ],
    },
    {
      name: 'small',
      params: 100,
      points: [
        { sparsity: 0.5, accuracy: 0.97 },
        { sparsity: 0.9, accuracy: 0.8 },
        { sparsity: 0.95, accuracy: 0.5 },
      ],
    },
  ],
};

test('proposeSparsities keeps, per layer, the largest sparsity within the allowed drop', () => {
  assert.deepEqual(proposeSparsities(curves, 0.006), { big: 0.9, small: 0 });
  assert.deepEqual(proposeSparsities(curves, 0.01), { big: 0.9, small: 0.5 });
});

test('proposeForTarget reaches the overall sparsity through the cheapest steps', () => {
  // big→0.5 is free (450 weights), big→0.9 costs 0.005 for 360 more: 810/1000 ≥ 0.8.
  assert.deepEqual(proposeForTarget(curves, 0.8), { big: 0.9, small: 0 });
  // 0.85 needs 40 more: small→0.5 (0.01 for 50) is cheaper per weight than big→0.95 (0.075 for 45).
  assert.deepEqual(proposeForTarget(curves, 0.85), { big: 0.9, small: 0.5 });
  assert.throws(() => proposeForTarget(curves, 0.99), /cannot reach 0.99/);
});
