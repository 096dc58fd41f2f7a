import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { WhittleError } from '../ir/errors.js';
import { decodeIdx, encodeIdx, readIdx } from './idx.js';

const dir = mkdtempSync(join(tmpdir(), 'whittle-idx-'));
after(() => rmSync(dir, { recursive: true, force: true }));

// A 2×2×3 ubyte IDX file written byte by byte from the format's definition.
const handWritten = new Uint8Array([
  0x00,
  0x00,
  0x08,
  0x03, // magic: ubyte, 3 dims
  0x00,
  0x00,
  0x00,
  0x02, // dim 0 = 2 (big-endian)
  0x00,
  0x00,
  0x00,
  0x02, // dim 1 = 2
  0x00,
  0x00,
  0x00,
  0x03, // dim 2 = 3
  1,
  2,
  3,
  4,
  5,
  6,
  7,
  8,
  9,
  10,
  11,
  255,
]);

function isWhittleError(code: string, ...fragments: string[]) {
  return (e: unknown): boolean => {
    assert.ok(e instanceof WhittleError, `expected WhittleError, got ${String(e)}`);
    assert.equal(e.code, code);
    for (const f of fragments) assert.ok(e.message.includes(f), `message "${e.message}" lacks "${f}"`);
    return true;
  };
}

test('readIdx reads a hand-written raw IDX file', () => {
  const p = join(dir, 'hand-idx3-ubyte');
  writeFileSync(p, handWritten);
  const { dims, data } = readIdx(p);
  assert.deepEqual(dims, [2, 2, 3]);
  assert.deepEqual([...data], [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 255]);
});

test('readIdx reads the same file gzip-compressed', () => {
  const p = join(dir, 'hand-idx3-ubyte.gz');
  writeFileSync(p, gzipSync(handWritten));
  const { dims, data } = readIdx(p);
  assert.deepEqual(dims, [2, 2, 3]);
  assert.deepEqual([...data], [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 255]);
});

test('encodeIdx writes exactly the hand-written bytes, and decodes back', () => {
  const data = new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 255]);
  assert.deepEqual(encodeIdx([2, 2, 3], data), handWritten);
  const big = new Uint8Array(70000).map((_, i) => (i * 31) & 0xff);
  const back = decodeIdx(encodeIdx([70000], big));
  assert.deepEqual(back.dims, [70000]);
  assert.deepEqual(back.data, big);
});

test('bad magic, other element types and truncation are BAD_DATA naming the file', () => {
  const bad = join(dir, 'bad-magic');
  writeFileSync(bad, new Uint8Array([0x50, 0x4b, 0x03, 0x04, 0, 0, 0, 0]));
  assert.throws(() => readIdx(bad), isWhittleError('BAD_DATA', bad, 'magic'));

  const float = join(dir, 'float-idx');
  writeFileSync(float, new Uint8Array([0, 0, 0x0d, 1, 0, 0, 0, 1, 0, 0, 0, 0]));
  assert.throws(() => readIdx(float), isWhittleError('BAD_DATA', float, 'float32'));

  const shortData = join(dir, 'short-data');
  writeFileSync(shortData, handWritten.subarray(0, handWritten.length - 1));
  assert.throws(() => readIdx(shortData), isWhittleError('BAD_DATA', shortData, 'truncated', 'found 11'));

  const shortHeader = join(dir, 'short-header');
  writeFileSync(shortHeader, handWritten.subarray(0, 10));
  assert.throws(() => readIdx(shortHeader), isWhittleError('BAD_DATA', shortHeader, 'truncated'));

  const tiny = join(dir, 'tiny');
  writeFileSync(tiny, new Uint8Array([0, 0]));
  assert.throws(() => readIdx(tiny), isWhittleError('BAD_DATA', tiny));

  const brokenGz = join(dir, 'broken.gz');
  const gz = gzipSync(handWritten);
  writeFileSync(brokenGz, gz.subarray(0, gz.length - 6));
  assert.throws(() => readIdx(brokenGz), isWhittleError('BAD_DATA', brokenGz, 'gzip'));
});

test('a missing file is DATA_NOT_FOUND naming it', () => {
  const p = join(dir, 'nope-idx1-ubyte');
  assert.throws(() => readIdx(p), isWhittleError('DATA_NOT_FOUND', p));
});

test('encodeIdx rejects dims that do not match the data', () => {
  assert.throws(() => encodeIdx([2, 2], new Uint8Array(3)), isWhittleError('BAD_ARGUMENT', '[2, 2]', '4 bytes'));
});
