import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { WhittleError } from './errors.js';
import { writeFileAtomic } from './io.js';

test('writeFileAtomic writes every byte when write(2) takes fewer than asked', () => {
  const dir = mkdtempSync(join(tmpdir(), 'whittle-io-'));
  try {
    const bytes = Uint8Array.from({ length: 10_000 }, (_, i) => i & 255);
    // At most 7 bytes per call, as a signal or a slow device may give.
    const short = { writeSync: (fd: number, b: Uint8Array, o: number, n: number) => writeSync(fd, b, o, Math.min(n, 7)) };
    writeFileAtomic(join(dir, 'a.bin'), [bytes, bytes], short);
    const got = readFileSync(join(dir, 'a.bin'));
    assert.equal(got.length, 20_000);
    assert.deepEqual(got.subarray(10_000), Buffer.from(bytes));
  } finally {
    rmSync(dir, { recursive: true });
  }
});

test('writeFileAtomic fails on a full disk and leaves neither the file nor a temporary one', () => {
  const dir = mkdtempSync(join(tmpdir(), 'whittle-io-'));
  try {
    let room = 1000;
    // A disk with 1000 bytes free: write(2) takes what fits, then 0.
    const full = {
      writeSync: (fd: number, b: Uint8Array, o: number, n: number) => {
        const k = Math.min(n, room);
        room -= k;
        return k === 0 ? 0 : writeSync(fd, b, o, k);
      },
    };
    assert.throws(
      () => writeFileAtomic(join(dir, 'big.bin'), [new Uint8Array(5000)], full),
      (e: unknown) => e instanceof WhittleError && e.code === 'IO' && /1000 of 5000 bytes/.test(e.message),
    );
    assert.equal(existsSync(join(dir, 'big.bin')), false);
    assert.deepEqual(readdirSync(dir), []);
  } finally {
    rmSync(dir, { recursive: true });
  }
});
