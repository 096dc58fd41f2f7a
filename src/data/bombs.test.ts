// Files that claim more than they hold, or inflate to far more than they are: refused before the
// memory is taken (issue 15, item 3).
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { deflateRawSync, gzipSync } from 'node:zlib';
import { encodeIdx, readIdx } from './idx.js';
import { encodeNpy, decodeNpy } from './npy.js';
import { decodeNpz } from './npz.js';
import { decodeImage } from './image-folder.js';

function refusesLight(f: () => unknown, re: RegExp): void {
  const before = process.memoryUsage().rss;
  assert.throws(f, (e: Error & { code?: string }) => e.code === 'BAD_DATA' && re.test(e.message), String(re));
  assert.ok(process.memoryUsage().rss - before < 300 * 2 ** 20, 'refused without allocating what the file claims');
}

test('a gzipped IDX file that inflates far past its header dims stops at the header size', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'whittle-bomb-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  // Header says 10 × 28 × 28 bytes; the stream goes on for 1 GiB of zeros (~1 MB gzipped).
  const header = encodeIdx([10, 28, 28], new Uint8Array(7840));
  const big = new Uint8Array(2 ** 30);
  big.set(header);
  const path = join(dir, 'bomb-idx3-ubyte.gz');
  writeFileSync(path, gzipSync(big, { level: 1 }));
  refusesLight(() => readIdx(path), /inflates past the size its IDX header gives/);
  // Dims beyond any limit are refused from the header alone.
  const huge = encodeIdx([1], new Uint8Array(1));
  const dims = Uint8Array.from([0, 0, 8, 3, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 9]);
  writeFileSync(join(dir, 'huge.gz'), gzipSync(Uint8Array.from([...dims, ...huge])));
  refusesLight(() => readIdx(join(dir, 'huge.gz')), /past the limit/);
});

test('.npy dims of 2^63, negative or past the limit give a named BAD_DATA error', () => {
  const good = encodeNpy({ dtype: 'float32', dims: [2], data: Float32Array.of(1, 2) });
  const text = new TextDecoder('latin1').decode(good);
  for (const shape of ['(9223372036854775808,)', '(-3,)', '(1000000, 1000000)']) {
    const forged = new TextEncoder().encode(text.replace('(2,)', shape.padEnd(4)));
    // Rebuild with a consistent header length: encode a fresh header by hand.
    const header = `{'descr': '<f4', 'fortran_order': False, 'shape': ${shape}, }`.padEnd(118) + '\n';
    const bytes = Uint8Array.from([
      0x93,
      0x4e,
      0x55,
      0x4d,
      0x50,
      0x59,
      1,
      0,
      header.length & 255,
      header.length >> 8,
      ...new TextEncoder().encode(header),
      0,
      0,
      0,
      0,
    ]);
    assert.ok(forged.length > 0);
    refusesLight(() => decodeNpy(bytes, 'x.npy'), /bad shape|impossible|past the limit|needs/);
  }
});

test('an .npz member that inflates past its directory size (a zip bomb) is refused', () => {
  const arr = encodeNpy({ dtype: 'uint8', dims: [16], data: new Uint8Array(16) });
  const body = deflateRawSync(Uint8Array.from([...arr, ...new Uint8Array(64 * 2 ** 20)]));
  const name = new TextEncoder().encode('x.npy');
  const local = new Uint8Array(30 + name.length);
  const lv = new DataView(local.buffer);
  lv.setUint32(0, 0x04034b50, true);
  lv.setUint16(8, 8, true);
  lv.setUint16(26, name.length, true);
  local.set(name, 30);
  const central = new Uint8Array(46 + name.length);
  const cv = new DataView(central.buffer);
  cv.setUint32(0, 0x02014b50, true);
  cv.setUint16(10, 8, true);
  cv.setUint32(20, body.length, true);
  cv.setUint32(24, arr.length, true); // the directory says the true .npy size
  cv.setUint16(28, name.length, true);
  cv.setUint32(42, 0, true);
  central.set(name, 46);
  const eocd = new Uint8Array(22);
  const ev = new DataView(eocd.buffer);
  ev.setUint32(0, 0x06054b50, true);
  ev.setUint16(10, 1, true);
  ev.setUint32(16, local.length + body.length, true);
  const zip = Uint8Array.from([...local, ...body, ...central, ...eocd]);
  refusesLight(() => decodeNpz(zip, 'bomb.npz'), /does not inflate/);
  // A directory that claims 4 GiB for the member is refused before inflating.
  cv.setUint32(24, 0xfffffffe, true);
  const claims = Uint8Array.from([...local, ...body, ...central, ...eocd]);
  refusesLight(() => decodeNpz(claims, 'bomb.npz'), /past the limit|does not inflate/);
});

test('a PNG header claiming 100000 × 100000 pixels is refused before decoding', () => {
  const png = Uint8Array.from([
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13, 0x49, 0x48, 0x44, 0x52, 0, 1, 0x86, 0xa0, 0, 1, 0x86, 0xa0, 8, 6, 0, 0, 0, 0, 0, 0, 0,
  ]);
  refusesLight(() => decodeImage(png, 'big.png'), /past the limit/);
});
