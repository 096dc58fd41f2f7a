import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AgreementMeter, argmaxStrided, correctPredictions, outputAgreement } from './agreement.js';

const close = (a: number, b: number, tol = 1e-12): void => assert.ok(Math.abs(a - b) <= tol, `${a} vs ${b}`);

test('class scores [2, 3]: top-1, cosine, errors and SQNR against hand-computed values', () => {
  // Sample 0: out (1, 2, 3) vs ref (1, 2, 4): same arg-max (2). Sample 1: out (3, 0, 0) vs ref (0, 0, 4): 0 vs 2.
  const out = [1, 2, 3, 3, 0, 0];
  const ref = [1, 2, 4, 0, 0, 4];
  const a = outputAgreement('logits', out, ref, [2, 3], true);
  assert.equal(a.top1, 0.5);
  // cos0 = (1 + 4 + 12) / (√14 · √21) = 17 / √294; cos1 = 0.
  close(a.cosine, (17 / Math.sqrt(294) + 0) / 2);
  assert.equal(a.maxAbsError, 4);
  close(a.meanAbsError, (0 + 0 + 1 + 3 + 0 + 4) / 6);
  // Signal 1 + 4 + 16 + 16 = 37; noise 1 + 9 + 16 = 26.
  close(a.sqnrDb, 10 * Math.log10(37 / 26));
  assert.equal(a.exact, false);
  assert.equal(a.values, 6);
});

test('batches accumulate to the same figures as one pass', () => {
  const out = [0.5, -1, 2, 0, 1, 1, 3, -2];
  const ref = [0.25, -1, 2.5, 0.5, 1, 0, 3, -1];
  const whole = outputAgreement('y', out, ref, [4, 2], true);
  const m = new AgreementMeter('y', true);
  m.add(out.slice(0, 2), ref.slice(0, 2), [1, 2]);
  m.add(out.slice(2), ref.slice(2), [3, 2]);
  const parts = m.result();
  for (const k of ['top1', 'cosine', 'maxAbsError', 'meanAbsError', 'sqnrDb'] as const) close(parts[k] as number, whole[k] as number);
});

test('[N, C, H, W] scores: top-1 agreement per spatial position over axis 1', () => {
  // N=1, C=2, H×W = 1×3: positions (c0, c1) out: (1,0) (0,1) (5,6); ref: (1,0) (1,0) (0,9) → agree at 0 and 2.
  const out = [1, 0, 5, 0, 1, 6];
  const ref = [1, 1, 0, 0, 0, 9];
  assert.equal(outputAgreement('seg', out, ref, [1, 2, 1, 3], true).top1, 2 / 3);
});

test('identical outputs: exact, SQNR infinite, cosine 1; zero vectors and non-class outputs', () => {
  const a = outputAgreement('y', [1, -2], [1, -2], [1, 2], true);
  assert.equal(a.exact, true);
  assert.equal(a.sqnrDb, Number.POSITIVE_INFINITY);
  assert.equal(a.cosine, 1);
  assert.equal(a.maxAbsError, 0);
  // A zero sample against a zero sample counts as cosine 1; against a non-zero one as 0.
  close(outputAgreement('z', [0, 0, 0, 1], [0, 0, 2, 0], [2, 2], false).cosine, 0.5);
  assert.equal(outputAgreement('z', [1, 2], [1, 3], [2], false).top1, undefined);
  // Opposite vectors: cosine −1; SQNR of out = −ref is 10·log10(1/4).
  const opp = outputAgreement('o', [-1, -2], [1, 2], [1, 2], false);
  close(opp.cosine, -1);
  close(opp.sqnrDb, 10 * Math.log10(5 / 20));
});

test('arg-max takes the first on ties, as ONNX ArgMax; correct predictions count label matches', () => {
  assert.equal(argmaxStrided([3, 3, 1], 0, 3, 1), 0);
  assert.equal(argmaxStrided([0, 9, 1, 8, 2, 9], 1, 3, 2), 0);
  assert.equal(correctPredictions([0.1, 0.9, 0.8, 0.2, 0.3, 0.7], [3, 2], [1, 1, 1]), 2);
});
