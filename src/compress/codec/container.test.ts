// The .wtl container: exact round trips, byte accounting equal to the file's size, and clear
// errors for every kind of damage.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { createModel } from '../../nn/index.js';
import { Tensor } from '../../ir/tensor.js';
import type { Model } from '../../ir/graph.js';
import type { SharedWeight } from './container.js';
import { roundToHalf } from '../../ir/half.js';
import { decodeContainer, encodeContainer, modelHash, readContainer, sharedValues, writeContainer } from './container.js';
import { codedBits, huffmanCodeLengths } from './huffman.js';
import { crc32, deflateRawSync } from 'node:zlib';

/** mlp:784-30-10 with fc1 pruned to ~90% and 4-bit shared, fc2 dense 3-bit shared. */
function fixture(): { model: Model; shared: Map<string, SharedWeight> } {
  const model = createModel('mlp:784-30-10', { seed: 3 });
  let s = 11;
  const rand = (): number => (s = (s * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  const shared = new Map<string, SharedWeight>();
  for (const [name, bits, keep] of [
    ['fc1.weight', 4, 0.1],
    ['fc2.weight', 3, 1],
  ] as const) {
    const t = model.graph.initializers.get(name) as Tensor;
    const K = 2 ** bits;
    const assignment = Int32Array.from({ length: t.size }, () => (rand() < keep ? Math.floor(rand() * K) : -1));
    // A long run of pruned weights forces filler entries.
    if (name === 'fc1.weight') assignment.fill(-1, 1000, 5000);
    const codebook = Float32Array.from({ length: K }, () => rand() - 0.5);
    shared.set(name, { dims: [...t.dims], bits, codebook, assignment });
  }
  const g = model.graph.clone();
  for (const [name, w] of shared) g.initializers.set(name, new Tensor('float32', w.dims, sharedValues(w)));
  return { model: { ...model, graph: g }, shared };
}

test('encode → decode gives exactly the shared weights, biases and a runnable graph; bytes add up', () => {
  const { model, shared } = fixture();
  for (const gapBits of [undefined, 3] as const) {
    const { bytes, breakdown } = encodeContainer(model, shared, { gapBits });
    const d = decodeContainer(bytes);
    for (const [name, w] of shared) {
      const back = d.shared.get(name) as SharedWeight;
      assert.deepEqual([...back.assignment], [...w.assignment], `${name} indices`);
      assert.deepEqual([...back.codebook], [...w.codebook], `${name} codebook`);
    }
    for (const [name, t] of model.graph.initializers) assert.deepEqual([...(d.model.graph.initializers.get(name) as Tensor).data], [...t.data], name);
    assert.deepEqual(
      d.model.graph.nodes.map((n) => n.opType),
      model.graph.nodes.map((n) => n.opType),
    );
    assert.equal(breakdown.bytes, bytes.length);
    assert.equal(breakdown.framing + breakdown.graph + breakdown.tensors.reduce((a, t) => a + t.total, 0), bytes.length);
    for (const t of breakdown.tensors) assert.equal(t.header + t.values + t.codebook + t.huffmanTables + t.indices, t.total, t.name);
    assert.deepEqual(d.breakdown, breakdown, 'the decoder attributes the bytes as the encoder did');
    const fc1 = breakdown.tensors.find((t) => t.name === 'fc1.weight');
    assert.equal(fc1?.nonzeros, [...(shared.get('fc1.weight') as SharedWeight).assignment].filter((c) => c >= 0).length);
    if (gapBits === 3) assert.ok((fc1?.fillers ?? 0) > 500, 'gaps over 7 need filler entries');
  }
});

test('a dense shared weight pays no gap bits: its stream is exactly its Huffman-coded cluster indices', () => {
  const { model, shared } = fixture();
  const fc2 = shared.get('fc2.weight') as SharedWeight;
  assert.ok(
    fc2.assignment.every((c) => c >= 0),
    'fc2 is dense',
  );
  const counts = new Float64Array(fc2.codebook.length + 1);
  for (const c of fc2.assignment) counts[c]!++;
  const expected = Math.ceil(codedBits(counts, huffmanCodeLengths(counts)) / 8);
  const { bytes, breakdown } = encodeContainer(model, shared);
  assert.equal(breakdown.tensors.find((t) => t.name === 'fc2.weight')?.indices, expected);
  assert.deepEqual([...(decodeContainer(bytes).shared.get('fc2.weight') as SharedWeight).assignment], [...fc2.assignment]);
});

test('version 1 containers (no lone-symbol tables here) still decode', () => {
  const { model, shared } = fixture();
  const pruned = new Map([...shared].filter(([name]) => name === 'fc1.weight'));
  const g = model.graph.clone();
  const dense = shared.get('fc2.weight') as SharedWeight;
  g.initializers.set('fc2.weight', new Tensor('float32', dense.dims, sharedValues(dense)));
  const { bytes } = encodeContainer({ ...model, graph: g }, pruned, { contentHash: false });
  // Version 1 has no flags byte and no inflated graph length (bytes 5–9 of version 3).
  const v1 = Uint8Array.from([...bytes.subarray(0, 5), ...bytes.subarray(10)]);
  v1[4] = 1;
  new DataView(v1.buffer).setUint32(v1.length - 4, crc32(v1.subarray(0, v1.length - 4)), true);
  const d = decodeContainer(v1);
  assert.deepEqual([...(d.shared.get('fc1.weight') as SharedWeight).assignment], [...(pruned.get('fc1.weight') as SharedWeight).assignment]);
});

test('writeContainer: the reported bytes are the file size, and readContainer reads it back', (t) => {
  const { model, shared } = fixture();
  const dir = mkdtempSync(join(tmpdir(), 'whittle-wtl-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'm.wtl');
  const b = writeContainer(path, model, shared);
  assert.equal(b.bytes, statSync(path).size);
  assert.equal(readContainer(path).breakdown.bytes, b.bytes);
});

test('a damaged container is refused with a clear BAD_CONTAINER error', () => {
  const { model, shared } = fixture();
  const { bytes, breakdown } = encodeContainer(model, shared);
  const refuses = (b: Uint8Array, re: RegExp): void =>
    assert.throws(
      () => decodeContainer(b, 'm.wtl'),
      (e: Error & { code?: string }) => e.code === 'BAD_CONTAINER' && re.test(e.message),
      String(re),
    );
  for (const cut of [0, 3, 5, 40, breakdown.graph + 20, bytes.length - 100, bytes.length - 1]) refuses(bytes.subarray(0, cut), /truncated/);
  const magic = bytes.slice();
  magic[0] = 0x50;
  refuses(magic, /not a Whittle container/);
  const version = bytes.slice();
  version[4] = 9;
  refuses(version, /version 9/);
  // The first gap table's lengths follow fc1's header (kind, name, rank, dims, bits, gap bits, K, entries) and codebook.
  const fc1Start = breakdown.framing - 6 + breakdown.graph + 2;
  const tableAt = fc1Start + (breakdown.tensors[0]?.header ?? 0) - 4 + (breakdown.tensors[0]?.codebook ?? 0) + 3;
  const table = bytes.slice();
  table[tableAt] = 0x11;
  table[tableAt + 1] = 0x11;
  resum(table);
  refuses(table, /bad Huffman table of the gaps of "fc1.weight"/);
  const flipped = bytes.slice();
  flipped[bytes.length - 10]! ^= 0x01;
  refuses(flipped, /checksum mismatch|corrupt|no Huffman code/);
  refuses(Uint8Array.from([...bytes, 0]), /checksum mismatch/);
  const extra = Uint8Array.from([...bytes.subarray(0, bytes.length - 4), 0, 0, 0, 0, 0]);
  resum(extra);
  refuses(extra, /unexpected bytes/);
});

/** Recomputes the CRC-32 in the last 4 bytes, as a forger would. */
function resum(b: Uint8Array): void {
  new DataView(b.buffer, b.byteOffset).setUint32(b.length - 4, crc32(b.subarray(0, b.length - 4)), true);
}

test('a shared weight claiming a billion elements is refused before anything is allocated', () => {
  const { model, shared } = fixture();
  const { bytes, breakdown } = encodeContainer(model, shared);
  // fc1's header: kind, name length, name, rank, then its dims (u32 each).
  const fc1Start = breakdown.framing - 6 + breakdown.graph + 2;
  const dimsAt = fc1Start + 2 + 'fc1.weight'.length + 1;
  const bomb = bytes.slice();
  new DataView(bomb.buffer).setUint32(dimsAt, 1e9, true);
  new DataView(bomb.buffer).setUint32(dimsAt + 4, 4, true);
  resum(bomb);
  const before = process.memoryUsage().rss;
  assert.throws(
    () => decodeContainer(bomb, 'bomb.wtl'),
    (e: Error & { code?: string }) => e.code === 'BAD_CONTAINER' && /past the limit|entries for/.test(e.message),
  );
  assert.ok(process.memoryUsage().rss - before < 200 * 2 ** 20, 'no gigabytes allocated');
});

test('a graph that inflates past what the header says (a decompression bomb) is refused', () => {
  const { model, shared } = fixture();
  const { bytes, breakdown } = encodeContainer(model, shared, { contentHash: false });
  // 64 MiB of zeros deflate to ~64 KB; the header still says the graph's true length.
  const zeros = deflateRawSync(new Uint8Array(64 * 2 ** 20));
  const graphAt = breakdown.framing - 6;
  const bomb = Uint8Array.from([...bytes.subarray(0, graphAt), 0, 0, 0, 0, ...zeros, ...bytes.subarray(graphAt + breakdown.graph)]);
  new DataView(bomb.buffer).setUint32(graphAt, zeros.length, true);
  resum(bomb);
  assert.throws(
    () => decodeContainer(bomb, 'bomb.wtl'),
    (e: Error & { code?: string }) => e.code === 'BAD_CONTAINER' && /does not inflate within \d+ bytes/.test(e.message),
  );
});

test('content hash: a one-byte change with a recomputed CRC is caught by verify', () => {
  const { model, shared } = fixture();
  const { bytes, breakdown } = encodeContainer(model, shared);
  const d = decodeContainer(bytes, 'm.wtl', { verify: true });
  assert.deepEqual([...(d.contentHash ?? [])], [...modelHash(d.model)]);
  // Change one stored bias value (the last tensor is fc2.bias, dense): the file still parses.
  const forged = bytes.slice();
  forged[bytes.length - 6]! ^= 0x40;
  resum(forged);
  assert.doesNotThrow(() => decodeContainer(forged, 'm.wtl'), 'CRC alone cannot tell');
  assert.throws(
    () => decodeContainer(forged, 'm.wtl', { verify: true }),
    (e: Error & { code?: string }) => e.code === 'BAD_CONTAINER' && /does not match the content hash/.test(e.message),
  );
  const plain = encodeContainer(model, shared, { contentHash: false }).bytes;
  assert.equal(plain.length, bytes.length - 32, 'the hash costs 32 bytes');
  assert.throws(() => decodeContainer(plain, 'm.wtl', { verify: true }), /stores no content hash/);
  assert.ok(breakdown.framing > 40);
});

test('codebooks and biases exactly representable in float16 are stored in 2 bytes, losslessly', () => {
  const { model, shared } = fixture();
  const halved = new Map([...shared].map(([k, w]) => [k, { ...w, codebook: roundToHalf(w.codebook) }]));
  const g = model.graph.clone();
  for (const [name, w] of halved) g.initializers.set(name, new Tensor('float32', w.dims, sharedValues(w)));
  g.initializers.set('fc1.bias', new Tensor('float32', [30], roundToHalf(Float32Array.from({ length: 30 }, (_, i) => (i - 15) * 1e-6 + i * 0.37))));
  const half = { ...model, graph: g };
  const { bytes, breakdown } = encodeContainer(half, halved);
  const full = encodeContainer(model, shared).breakdown;
  assert.equal(breakdown.tensors.find((t) => t.name === 'fc1.weight')?.codebook, 2 * 16);
  assert.equal(full.tensors.find((t) => t.name === 'fc1.weight')?.codebook, 4 * 16);
  assert.equal(breakdown.tensors.find((t) => t.name === 'fc1.bias')?.values, 2 * 30);
  const d = decodeContainer(bytes);
  for (const [name, t] of g.initializers) assert.deepEqual([...(d.model.graph.initializers.get(name) as Tensor).data], [...t.data], name);
});

test('a fully pruned weight round-trips (no entries, empty tables)', () => {
  const { model, shared } = fixture();
  const w = shared.get('fc2.weight') as SharedWeight;
  const empty = new Map(shared).set('fc2.weight', { ...w, assignment: new Int32Array(w.assignment.length).fill(-1) });
  const g = model.graph.clone();
  g.initializers.set('fc2.weight', new Tensor('float32', w.dims));
  const d = decodeContainer(encodeContainer({ ...model, graph: g }, empty).bytes);
  assert.ok([...(d.shared.get('fc2.weight') as SharedWeight).assignment].every((c) => c === -1));
  assert.ok([...(d.model.graph.initializers.get('fc2.weight') as Tensor).data].every((v) => v === 0));
});
