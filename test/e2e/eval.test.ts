// `whittle eval --reference` on .npy data, random inputs and MNIST; the `agreement` in quantize's JSON.
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { encodeNpy } from '../../src/data/npy.js';
import { attr, Graph, makeModel } from '../../src/ir/graph.js';
import { loadModelFile, saveModel } from '../../src/ir/io.js';
import { Tensor } from '../../src/ir/tensor.js';
import { Session } from '../../src/runtime/session.js';
import { tempDir, whittle } from './cli.js';

const FIXTURES = fileURLToPath(new URL('../../../test/fixtures/', import.meta.url));
const io = JSON.parse(readFileSync(join(FIXTURES, 'cnn.io.json'), 'utf8')) as {
  input: { dims: number[]; data: number[] };
  output: { dims: number[]; data: number[] };
};
const argmax = (xs: number[]): number => xs.indexOf(Math.max(...xs));

/** x.npy = the fixture's batch of 4; labels.npy beside it: PyTorch's predictions for samples 0 and 1, wrong ones for 2 and 3. */
function writeBatch(dir: string): string {
  const x = join(dir, 'x.npy');
  writeFileSync(x, encodeNpy({ dtype: 'float32', dims: io.input.dims, data: Float32Array.from(io.input.data) }));
  const predicted = [0, 1, 2, 3].map((i) => argmax(io.output.data.slice(i * 10, i * 10 + 10)));
  const labels = predicted.map((p, i) => BigInt(i < 2 ? p : (p + 1) % 10));
  writeFileSync(join(dir, 'labels.npy'), encodeNpy({ dtype: 'int64', dims: [4], data: BigInt64Array.from(labels) }));
  return x;
}

type Agreement = { name: string; top1: number | null; cosine: number; maxAbsError: number; meanAbsError: number; sqnrDb: number | null; exact: boolean };

test('eval --reference on an .npy batch: the opset 13 and 17 exports of one CNN agree, accuracy from labels.npy', () => {
  const x = writeBatch(tempDir());
  const r = whittle([
    'eval',
    '--model',
    join(FIXTURES, 'cnn.opset13.onnx'),
    '--reference',
    join(FIXTURES, 'cnn.opset17.onnx'),
    '--data',
    x,
    '--threads',
    '1',
    '--json',
  ]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.json?.['inputs'], 'data');
  assert.equal(r.json?.['samples'], 4);
  // PyTorch's own predictions are right for samples 0, 1 and wrong for 2, 3 by construction.
  assert.equal(r.json?.['accuracy'], 0.5);
  assert.equal(r.json?.['referenceAccuracy'], 0.5);
  const [a] = r.json?.['agreement'] as Agreement[];
  assert.equal(a?.name, 'logits');
  assert.equal(a?.top1, 1);
  assert.ok(Math.abs((a?.cosine ?? 0) - 1) < 1e-6);
  assert.ok((a?.maxAbsError ?? 1) < 1e-4);
  assert.ok(a?.sqnrDb === null || a.sqnrDb > 80);
});

test('eval --reference between two different models matches metrics computed here from their raw outputs', async () => {
  const x = writeBatch(tempDir());
  const mlp = join(FIXTURES, 'mlp.opset17.onnx');
  const cnn = join(FIXTURES, 'cnn.opset17.onnx');
  const r = whittle(['eval', '--model', mlp, '--reference', cnn, '--data', x, '--threads', '1', '--json']);
  assert.equal(r.code, 0, r.stderr);
  const feeds = { input: new Tensor('float32', io.input.dims, Float32Array.from(io.input.data)) };
  const run = async (path: string): Promise<number[]> => {
    const s = await Session.create(loadModelFile(path), { threads: 1 });
    const out = Object.values(await s.run(feeds))[0] as Tensor;
    await s.release();
    return [...(out.data as Float32Array)];
  };
  const out = await run(mlp);
  const ref = await run(cnn);
  // Sanity of the oracle: the CNN reproduces PyTorch's logits.
  ref.forEach((v, i) => assert.ok(Math.abs(v - (io.output.data[i] as number)) < 1e-4));
  let agree = 0;
  let cos = 0;
  let maxAbs = 0;
  let absSum = 0;
  let signal = 0;
  let noise = 0;
  for (let s = 0; s < 4; s++) {
    const o = out.slice(s * 10, s * 10 + 10);
    const f = ref.slice(s * 10, s * 10 + 10);
    if (argmax(o) === argmax(f)) agree++;
    const dot = o.reduce((acc, v, i) => acc + v * (f[i] as number), 0);
    cos += dot / Math.hypot(...o) / Math.hypot(...f) / 4;
    o.forEach((v, i) => {
      const d = Math.abs(v - (f[i] as number));
      maxAbs = Math.max(maxAbs, d);
      absSum += d;
      noise += d * d;
      signal += (f[i] as number) ** 2;
    });
  }
  const [a] = r.json?.['agreement'] as Agreement[];
  assert.equal(a?.top1, agree / 4);
  assert.ok(Math.abs((a?.cosine ?? 0) - cos) < 1e-6, `cosine ${a?.cosine} vs ${cos}`);
  assert.ok(Math.abs((a?.maxAbsError ?? 0) - maxAbs) < 1e-5);
  assert.ok(Math.abs((a?.meanAbsError ?? 0) - absSum / 40) < 1e-5);
  assert.ok(Math.abs((a?.sqnrDb ?? 0) - 10 * Math.log10(signal / noise)) < 1e-4);
});

test('eval without --data on a non-image model uses seeded random inputs', () => {
  const dir = tempDir();
  const make = (scale: number): string => {
    const g = new Graph('two');
    g.inputs.push({ name: 'a', dtype: 'float32', shape: ['N', 'seq'] }, { name: 'mask', dtype: 'int64', shape: ['N', 'seq'] });
    g.initializers.set('k', Tensor.fromArray('float32', [1], [scale]));
    g.nodes.push({ name: 'cast', opType: 'Cast', domain: '', inputs: ['mask'], outputs: ['m'], attributes: { to: attr.int(1) } });
    g.nodes.push({ name: 'mul', opType: 'Mul', domain: '', inputs: ['a', 'k'], outputs: ['ak'], attributes: {} });
    g.nodes.push({ name: 'add', opType: 'Add', domain: '', inputs: ['ak', 'm'], outputs: ['y'], attributes: {} });
    g.outputs.push({ name: 'y', dtype: 'float32', shape: ['N', 'seq'] });
    const path = join(dir, `m${scale}.onnx`);
    saveModel(makeModel(g), path);
    return path;
  };
  const one = make(1);
  const twice = make(2);
  const same = whittle(['eval', '--model', one, '--reference', one, '--threads', '1', '--json']);
  assert.equal(same.code, 0, same.stderr);
  assert.equal(same.json?.['inputs'], 'random');
  assert.equal(same.json?.['samples'], 64);
  assert.equal((same.json?.['agreement'] as Agreement[])[0]?.exact, true);
  const args = ['eval', '--model', twice, '--reference', one, '--threads', '1', '--eval-limit', '8', '--json'];
  const r1 = whittle([...args, '--seed', '5']);
  const r2 = whittle([...args, '--seed', '5']);
  const r3 = whittle([...args, '--seed', '6']);
  assert.equal(r1.code, 0, r1.stderr);
  const a1 = (r1.json?.['agreement'] as Agreement[])[0];
  assert.equal(r1.json?.['samples'], 8);
  assert.deepEqual(r2.json?.['agreement'], r1.json?.['agreement']);
  assert.notDeepEqual(r3.json?.['agreement'], r1.json?.['agreement']);
  // y = 2a + m against a + m: the error is a itself, uniform in [0, 1), so max |err| < 1 and mean near 0.5.
  assert.ok((a1?.maxAbsError ?? 2) < 1 && (a1?.maxAbsError ?? 0) > 0.5);
  assert.ok(Math.abs((a1?.meanAbsError ?? 0) - 0.5) < 0.15);
});

test('data that does not fit the model is one clear error naming the input and both shapes', () => {
  const dir = tempDir();
  const bad = join(dir, 'bad.npy');
  writeFileSync(bad, encodeNpy({ dtype: 'float32', dims: [2, 1, 32, 32], data: new Float32Array(2 * 32 * 32) }));
  const r = whittle(['eval', '--model', join(FIXTURES, 'cnn.opset17.onnx'), '--data', bad, '--json']);
  assert.equal(r.code, 1);
  assert.equal(r.stdout, '');
  assert.match(
    r.stderr,
    /^whittle: error \[SHAPE_MISMATCH\]: .*bad\.npy: input "input" expects \[batch, 1, 28, 28\] \(per sample \[1, 28, 28\]\), found \[2, 1, 32, 32\]/,
  );
  assert.equal(r.stderr.trim().split('\n').length, 1);
});

test('quantize reports agreement with its input model, the same figures eval --reference gives', () => {
  const dir = tempDir();
  const mlp = join(FIXTURES, 'mlp.opset17.onnx');
  const out = join(dir, 'q.onnx');
  const q = whittle(['quantize', '--model', mlp, '--scheme', 'dynamic', '--eval-limit', '300', '--threads', '1', '--out', out, '--json']);
  assert.equal(q.code, 0, q.stderr);
  const agreement = q.json?.['agreement'] as { inputs: string; samples: number; outputs: Agreement[] };
  assert.equal(agreement.inputs, 'data');
  assert.equal(agreement.samples, 300);
  const e = whittle(['eval', '--model', out, '--reference', mlp, '--eval-limit', '300', '--threads', '1', '--json']);
  assert.equal(e.code, 0, e.stderr);
  assert.deepEqual(agreement.outputs, e.json?.['agreement']);
  const a = agreement.outputs[0];
  assert.ok((a?.top1 ?? 0) > 0.9 && (a?.cosine ?? 0) > 0.99, JSON.stringify(a));
});
