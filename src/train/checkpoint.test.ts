// Checkpoint files: bit-exact round trips, clear errors on damaged files, atomic writes.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { WhittleError } from '../ir/errors.js';
import { Tensor } from '../ir/tensor.js';
import { loadCheckpoint, saveCheckpoint } from './checkpoint.js';

const dir = mkdtempSync(join(tmpdir(), 'whittle-ckpt-'));
after(() => rmSync(dir, { recursive: true, force: true }));

interface Meta {
  epoch: number;
  best: number;
  note: string;
}

function tensors(): Map<string, Tensor> {
  // Values whose bits a lossy path would change: float32 subnormals and -0, int64 beyond 2^53, NaN.
  const f32 = Tensor.fromArray('float32', [2, 3], [1.5, -0, 1e-45, -3.4028234663852886e38, Math.PI, Number.NaN]);
  const i64 = new Tensor('int64', [3], BigInt64Array.from([-(2n ** 63n), 2n ** 53n + 1n, 7n]));
  const f64 = Tensor.fromArray('float64', [2, 2], [Math.E, -Number.MIN_VALUE, 1 / 3, Number.POSITIVE_INFINITY]);
  // A view into a larger buffer (as ORT outputs can be): only its own bytes must be written.
  const backing = new Float32Array([9, 9, 0.25, 0.5, 9]);
  const view = new Tensor('float32', [2], backing.subarray(2, 4));
  const scalar = Tensor.scalar('float32', 0.1);
  return new Map([
    ['conv.weight', f32],
    ['step', i64],
    ['stats', f64],
    ['view', view],
    ['lr', scalar],
  ]);
}

function bytes(t: Tensor): Uint8Array {
  return new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
}

test('round trip: float32, int64, float64 tensors come back bit for bit, with dims, dtypes and meta', () => {
  const path = join(dir, 'round-trip.ckpt');
  const saved = tensors();
  const meta: Meta = { epoch: 3, best: 0.25, note: 'héllo' };
  saveCheckpoint(path, meta, saved);
  const loaded = loadCheckpoint<Meta>(path);
  assert.deepEqual(loaded.meta, meta);
  assert.deepEqual([...loaded.tensors.keys()], [...saved.keys()]);
  for (const [name, t] of saved) {
    const l = loaded.tensors.get(name);
    assert.ok(l, name);
    assert.equal(l.dtype, t.dtype, name);
    assert.deepEqual(l.dims, t.dims, name);
    assert.deepEqual(bytes(l), bytes(t), `${name} bytes`);
  }
});

test('round trip: non-finite numbers in meta (an unset best loss is +Infinity) survive', () => {
  const path = join(dir, 'infinity.ckpt');
  const meta = {
    best: Number.POSITIVE_INFINITY,
    worst: Number.NEGATIVE_INFINITY,
    missing: Number.NaN,
    nested: [{ best: Number.POSITIVE_INFINITY }],
    text: 'Infinity',
  };
  saveCheckpoint(path, meta, new Map());
  const loaded = loadCheckpoint<typeof meta>(path).meta;
  assert.deepEqual(loaded, meta);
  assert.equal(typeof loaded.text, 'string');
});

function assertBadCheckpoint(path: string, pattern: RegExp): void {
  assert.throws(
    () => loadCheckpoint(path),
    (e: unknown) => {
      assert.ok(e instanceof WhittleError, `expected a WhittleError, got ${String(e)}`);
      assert.equal(e.code, 'BAD_DATA');
      assert.match(e.message, pattern);
      assert.ok(e.message.includes(path), `the message names the file: ${e.message}`);
      return true;
    },
  );
}

test('a truncated checkpoint (in the tensor data, in the header, in the prefix) is reported as truncated', () => {
  const path = join(dir, 'whole.ckpt');
  saveCheckpoint(path, { epoch: 1 }, tensors());
  const whole = readFileSync(path);
  const headerLength = whole.readUInt32LE(8);
  for (const [label, length] of [
    ['tensor data', whole.length - 3],
    ['header', 12 + Math.floor(headerLength / 2)],
    ['length prefix', 10],
  ] as const) {
    const cut = join(dir, `cut-${label.replace(' ', '-')}.ckpt`);
    writeFileSync(cut, whole.subarray(0, length));
    assertBadCheckpoint(cut, /is truncated; delete it to start over/);
  }
});

test('a checkpoint whose header is not JSON, or not a checkpoint header, is reported as damaged', () => {
  for (const [label, header] of [
    ['not JSON', '{"meta": {'],
    ['no tensor list', '{"meta": {}}'],
  ] as const) {
    const json = Buffer.from(header);
    const prefix = Buffer.alloc(12);
    prefix.write('WHTLCKPT', 'latin1');
    prefix.writeUInt32LE(json.length, 8);
    const path = join(dir, `damaged-${label.replaceAll(' ', '-')}.ckpt`);
    writeFileSync(path, Buffer.concat([prefix, json]));
    assertBadCheckpoint(path, /has a damaged header .*; delete it to start over/);
  }
});

test('a file that is not a checkpoint is named as such', () => {
  const path = join(dir, 'model.onnx');
  writeFileSync(path, Buffer.from('\x08\x08\x12\x07pytorch\x1a\x052.1.0 and more bytes'));
  assertBadCheckpoint(path, /is not a Whittle checkpoint/);
});

test('a missing checkpoint is an IO error naming the path', () => {
  const path = join(dir, 'absent.ckpt');
  assert.throws(
    () => loadCheckpoint(path),
    (e: unknown) => e instanceof WhittleError && e.code === 'IO' && e.message.includes(path),
  );
});

test('saving writes through a temporary file and leaves none behind, also when overwriting', () => {
  const sub = mkdtempSync(join(dir, 'atomic-'));
  const path = join(sub, 'run.ckpt');
  saveCheckpoint(path, { epoch: 1 }, tensors());
  saveCheckpoint(path, { epoch: 2 }, tensors());
  assert.deepEqual(readdirSync(sub), ['run.ckpt']);
  assert.equal(loadCheckpoint<{ epoch: number }>(path).meta.epoch, 2);
});

test('a failed save (the target is a directory) is an IO error and leaves no temporary file', () => {
  const sub = mkdtempSync(join(dir, 'failed-'));
  const target = join(sub, 'taken');
  mkdirSync(join(target, 'inside'), { recursive: true });
  assert.throws(
    () => saveCheckpoint(target, { epoch: 1 }, tensors()),
    (e: unknown) => e instanceof WhittleError && e.code === 'IO' && e.message.includes(target),
  );
  assert.deepEqual(readdirSync(sub), ['taken']);
});
