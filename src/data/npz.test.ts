import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { deflateRawSync } from 'node:zlib';
import { encodeNpy } from './npy.js';
import { decodeNpz, readNpz, readZipEntries } from './npz.js';

const FIXTURES = fileURLToPath(new URL('../../../test/fixtures/npy/', import.meta.url));

/** A zip archive laid out by hand (PKWARE APPNOTE): local headers, central directory, end record. */
function handZip(files: { name: string; data: Uint8Array; deflate: boolean }[]): Uint8Array {
  const parts: Uint8Array[] = [];
  const central: Uint8Array[] = [];
  let offset = 0;
  for (const f of files) {
    const body = f.deflate ? new Uint8Array(deflateRawSync(f.data)) : f.data;
    const name = new TextEncoder().encode(f.name);
    const local = new DataView(new ArrayBuffer(30));
    local.setUint32(0, 0x04034b50, true);
    local.setUint16(8, f.deflate ? 8 : 0, true);
    local.setUint32(18, body.length, true);
    local.setUint32(22, f.data.length, true);
    local.setUint16(26, name.length, true);
    const cd = new DataView(new ArrayBuffer(46));
    cd.setUint32(0, 0x02014b50, true);
    cd.setUint16(10, f.deflate ? 8 : 0, true);
    cd.setUint32(20, body.length, true);
    cd.setUint32(24, f.data.length, true);
    cd.setUint16(28, name.length, true);
    cd.setUint32(42, offset, true);
    parts.push(new Uint8Array(local.buffer), name, body);
    central.push(new Uint8Array(cd.buffer), name);
    offset += 30 + name.length + body.length;
  }
  const cdSize = central.reduce((a, p) => a + p.length, 0);
  const end = new DataView(new ArrayBuffer(22));
  end.setUint32(0, 0x06054b50, true);
  end.setUint16(8, files.length, true);
  end.setUint16(10, files.length, true);
  end.setUint32(12, cdSize, true);
  end.setUint32(16, offset, true);
  const all = [...parts, ...central, new Uint8Array(end.buffer)];
  const out = new Uint8Array(all.reduce((a, p) => a + p.length, 0));
  let o = 0;
  for (const p of all) out.set(p, o), (o += p.length);
  return out;
}

test('a hand-built zip with a stored and a deflated entry reads back byte for byte', () => {
  const a = new TextEncoder().encode('stored bytes');
  const b = new Uint8Array(1000).map((_, i) => i % 7);
  const files = readZipEntries(
    handZip([
      { name: 'a.txt', data: a, deflate: false },
      { name: 'b.bin', data: b, deflate: true },
    ]),
  );
  assert.deepEqual([...files.keys()], ['a.txt', 'b.bin']);
  assert.deepEqual(files.get('a.txt'), a);
  assert.deepEqual(new Uint8Array(files.get('b.bin')!), b);
});

test('an .npz of two inputs: keys are the file names without .npy, values the arrays', () => {
  const x = encodeNpy({ dtype: 'float32', dims: [2, 2], data: Float32Array.of(1, 2, 3, 4) });
  const mask = encodeNpy({ dtype: 'int64', dims: [2, 2], data: BigInt64Array.of(1n, 1n, 1n, 0n) });
  const arrays = decodeNpz(
    handZip([
      { name: 'input_ids.npy', data: x, deflate: true },
      { name: 'attention_mask.npy', data: mask, deflate: false },
    ]),
  );
  assert.deepEqual([...arrays.keys()], ['input_ids', 'attention_mask']);
  assert.deepEqual([...arrays.get('input_ids')!.data], [1, 2, 3, 4]);
  assert.deepEqual([...arrays.get('attention_mask')!.data], [1n, 1n, 1n, 0n]);
});

test('numpy.savez (stored, zip64 local headers) and savez_compressed (deflated) files decode', () => {
  for (const file of ['stored.npz', 'deflated.npz']) {
    const arrays = readNpz(`${FIXTURES}${file}`);
    assert.deepEqual([...arrays.keys()].sort(), ['labels', 'x'], file);
    assert.deepEqual(arrays.get('x')!.dims, [2, 3]);
    assert.deepEqual(
      [...arrays.get('x')!.data],
      [0, 1, 2, 3, 4, 5].map((v) => v / 4 - 0.5),
      file,
    );
    assert.deepEqual([...arrays.get('labels')!.data], [1n, 0n], file);
  }
});

test('damaged archives are clear errors', () => {
  assert.throws(() => readZipEntries(new Uint8Array(40), 'z.npz'), /z\.npz is not a readable \.npz \(zip\) file: no end-of-central-directory/);
  const zip = handZip([{ name: 'x.npy', data: encodeNpy({ dtype: 'uint8', dims: [1], data: Uint8Array.of(1) }), deflate: false }]);
  const view = new DataView(zip.buffer);
  // The central directory's method is the one read: make it 12 (bzip2).
  const cd = view.getUint32(zip.length - 6, true);
  view.setUint16(cd + 10, 12, true);
  assert.throws(() => readZipEntries(zip, 'b.npz'), /compression method 12; only stored \(0\) and deflate \(8\)/);
  assert.throws(() => decodeNpz(handZip([{ name: 'readme.txt', data: Uint8Array.of(1), deflate: false }]), 'e.npz'), /e\.npz holds no \.npy arrays/);
});
