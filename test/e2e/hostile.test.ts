// Hostile and broken files (issue 15, items 4, 5, 6 and 9): escaped names, non-finite weights
// named with the right advice, named errors instead of internal ones, labels checked against the
// model's classes, info validating like the other commands, and decode --verify.
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import { tempDir, whittle } from './cli.js';
import { encodeModel } from '../../src/ir/onnx.js';
import { ModelProtoSchema } from '../../src/ir/proto/onnx_pb.js';
import { Tensor } from '../../src/ir/tensor.js';
import { createModel } from '../../src/nn/index.js';
import { encodeNpy } from '../../src/data/npy.js';
import { encodeContainer, sharedValues } from '../../src/compress/codec/container.js';
import type { SharedWeight } from '../../src/compress/codec/container.js';
import { crc32 } from 'node:zlib';

const ESC = '\u001b';

function refused(r: { code: number | null; stderr: string; stdout: string }, re: RegExp): void {
  assert.notEqual(r.code, 0, 'non-zero exit');
  assert.match(r.stderr, re);
  assert.doesNotMatch(r.stderr, /internal error|^\s+at /m);
  assert.ok(!r.stderr.includes(ESC), 'no escape sequence reaches the terminal');
}

/** mlp:784-16-10 with `edit` applied to a fresh copy of its graph. */
function modelFile(dir: string, name: string, edit: (m: ReturnType<typeof createModel>) => void = () => {}): string {
  const m = createModel('mlp:784-16-10', { seed: 2 });
  edit(m);
  const p = join(dir, name);
  writeFileSync(p, encodeModel(m));
  return p;
}

function poison(m: ReturnType<typeof createModel>, name: string, values: number[]): void {
  const t = m.graph.initializers.get('fc1.weight') as Tensor;
  const data = Float32Array.from(t.data as Float32Array);
  values.forEach((v, i) => (data[10 * i] = v));
  m.graph.initializers.delete('fc1.weight');
  m.graph.initializers.set(name, new Tensor('float32', t.dims, data));
  for (const n of m.graph.nodes) n.inputs = n.inputs.map((i) => (i === 'fc1.weight' ? name : i));
}

test('NaN/Inf weights are named, with their count, by every command that reads the model; info shows the model and says so', () => {
  const dir = tempDir();
  const nan = modelFile(dir, 'nan.onnx', (m) => poison(m, 'fc1.weight', [Number.NaN, Number.NaN, Number.POSITIVE_INFINITY]));
  for (const args of [
    ['quantize', '--model', nan, '--scheme', 'dynamic', '--out', join(dir, 'q.onnx')],
    ['eval', '--model', nan, '--eval-limit', '64'],
    ['train', '--model', nan, '--epochs', '1', '--samples', '64', '--out', join(dir, 't.onnx')],
    ['prune', '--model', nan, '--sparsity', '0.5', '--out', join(dir, 'p.onnx')],
  ]) {
    const r = whittle(args);
    refused(r, /3 non-finite weight values.*"fc1\.weight" 3 of 12544 \(2 NaN\).*retrain/);
    assert.doesNotMatch(r.stderr, /learning rate/, `${args[0]}: not the advice for a diverging run`);
  }
  const info = whittle(['info', '--model', nan, '--json']);
  assert.equal(info.code, 0);
  assert.match(info.stderr, /other commands refuse this model: \[BAD_ONNX\].*non-finite/);
  assert.equal((info.json?.['problems'] as unknown[]).length, 1);
});

test('a name with escape sequences is printed escaped', () => {
  const dir = tempDir();
  const evil = modelFile(dir, 'evil.onnx', (m) => poison(m, `w${ESC}[2J${ESC}]0;pwned\u0007\u009b31m`, [Number.NaN]));
  const r = whittle(['eval', '--model', evil, '--eval-limit', '64']);
  refused(r, /"w\\x1b\[2J\\x1b\]0;pwned\\x07\\x9b31m" 1 of/);
  const info = whittle(['info', '--model', evil, '--json']);
  assert.ok(!info.stdout.includes(ESC) && !info.stdout.includes('\u009b'), 'JSON escapes the controls too');
  assert.ok(!info.stderr.includes(ESC));
});

test('impossible dims are named errors, not "internal error: Invalid typed array length"', () => {
  const dir = tempDir();
  const base = encodeModel(createModel('mlp:784-16-10', { seed: 2 }));
  for (const dims of [[1e12], [2n ** 63n - 1n], [-5n, 4n]]) {
    const m = fromBinary(ModelProtoSchema, base);
    const t = m.graph?.initializer.find((x) => x.name === 'fc1.bias');
    assert.ok(t);
    t.dims = dims.map((d) => BigInt(d));
    const p = join(dir, 'dims.onnx');
    writeFileSync(p, toBinary(ModelProtoSchema, create(ModelProtoSchema, m)));
    refused(whittle(['info', '--model', p]), /BAD_ONNX.*tensor "fc1\.bias".*(impossible shape|past the limit|should hold)/);
  }
});

test('labels outside the model classes: one named error, no onnxruntime dump', () => {
  const dir = tempDir();
  const model = modelFile(dir, 'm.onnx');
  const n = 32;
  writeFileSync(join(dir, 'x.npy'), encodeNpy({ dtype: 'float32', dims: [n, 1, 28, 28], data: new Float32Array(n * 784) }));
  writeFileSync(join(dir, 'labels.npy'), encodeNpy({ dtype: 'int64', dims: [n], data: BigInt64Array.from({ length: n }, (_, i) => BigInt(i)) }));
  const r = whittle(['eval', '--model', model, '--data', join(dir, 'x.npy')]);
  refused(r, /BAD_DATA.*22 label\(s\) outside the model's 10 classes/);
  assert.equal(r.stderr.trim().split('\n').length, 1, 'one line');
});

test('info validates like the other commands: opset 99 and a model without outputs are shown, with what others refuse', () => {
  const dir = tempDir();
  const op99 = modelFile(dir, 'op99.onnx', (m) => (m.opsetImports = [{ domain: '', version: 99 }]));
  const noOut = modelFile(dir, 'noout.onnx', (m) => (m.graph.outputs = []));
  refused(whittle(['eval', '--model', op99, '--eval-limit', '64']), /opset 99; onnxruntime runs opsets 1–26/);
  const i99 = whittle(['info', '--model', op99]);
  assert.equal(i99.code, 0);
  assert.match(i99.stdout + i99.stderr, /other commands refuse this model: \[BAD_ONNX\].*opset 99/);
  refused(whittle(['quantize', '--model', noOut, '--scheme', 'dynamic', '--out', join(dir, 'q.onnx')]), /no graph outputs/);
  assert.match((({ stdout, stderr }) => stdout + stderr)(whittle(['info', '--model', noOut])), /other commands refuse this model: \[INVALID_GRAPH\]/);
});

test('decode --verify catches a forged byte whose CRC was recomputed', () => {
  const dir = tempDir();
  const m = createModel('mlp:784-16-10', { seed: 2 });
  const w = m.graph.initializers.get('fc1.weight') as Tensor;
  const shared: SharedWeight = {
    dims: [...w.dims],
    bits: 1,
    codebook: Float32Array.of(-0.03, 0.03),
    assignment: Int32Array.from(w.data as Float32Array, (v) => (Math.abs(v) < 0.01 ? -1 : v < 0 ? 0 : 1)),
  };
  m.graph.initializers.set('fc1.weight', new Tensor('float32', w.dims, sharedValues(shared)));
  const bytes = encodeContainer(m, new Map([['fc1.weight', shared]])).bytes;
  const good = join(dir, 'm.wtl');
  writeFileSync(good, bytes);
  const ok = whittle(['decode', '--model', good, '--out', join(dir, 'ok.onnx'), '--verify', '--json']);
  assert.equal(ok.code, 0, ok.stderr);
  assert.equal(ok.json?.['verified'], true);
  const forged = bytes.slice();
  forged[bytes.length - 6]! ^= 0x40;
  new DataView(forged.buffer).setUint32(forged.length - 4, crc32(forged.subarray(0, forged.length - 4)), true);
  const bad = join(dir, 'forged.wtl');
  writeFileSync(bad, forged);
  assert.equal(whittle(['decode', '--model', bad, '--out', join(dir, 'f1.onnx')]).code, 0, 'without --verify the CRC alone passes it');
  refused(whittle(['decode', '--model', bad, '--out', join(dir, 'f2.onnx'), '--verify']), /does not match the content hash/);
  assert.throws(() => readFileSync(join(dir, 'f2.onnx')), 'no output after a failed verify');
});
