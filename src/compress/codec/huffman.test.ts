// Huffman coding against oracles: known optimal lengths, Kraft equality, prefix-freeness,
// round trips, and the decoder's refusal of tables that are not complete prefix codes.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BitReader, BitWriter, canonicalCodes, codedBits, huffmanCodeLengths, HuffmanDecoder } from './huffman.js';

const kraft = (lengths: ArrayLike<number>): number => Array.from(lengths).reduce((a, l) => a + (l > 0 ? 2 ** -l : 0), 0);

test('optimal lengths for a dyadic distribution: counts 1,1,2,4,8 → 4,4,3,2,1 bits', () => {
  assert.deepEqual([...huffmanCodeLengths([1, 1, 2, 4, 8])], [4, 4, 3, 2, 1]);
  // Dyadic probabilities: the code meets the entropy exactly (30 bits for 16 symbols).
  assert.equal(codedBits([1, 1, 2, 4, 8], huffmanCodeLengths([1, 1, 2, 4, 8])), 30);
});

test('CLRS example (a45 b13 c12 d16 e9 f5) codes in the optimal 224 bits; unused symbols get no code', () => {
  const counts = [45, 13, 12, 16, 9, 5, 0];
  const lengths = huffmanCodeLengths(counts);
  assert.equal(codedBits(counts, lengths), 224);
  assert.equal(lengths[6], 0);
  assert.equal(kraft(lengths), 1);
  assert.deepEqual([...huffmanCodeLengths([0, 7, 0])], [0, 1, 0], 'a lone symbol gets one bit');
});

test('canonical codes are prefix-free and round-trip a random stream', () => {
  let s = 7;
  const rand = (): number => (s = (s * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  const counts = Array.from({ length: 40 }, (_, i) => Math.floor(1000 / (i + 1) ** 1.5));
  const lengths = huffmanCodeLengths(counts);
  const codes = canonicalCodes(lengths);
  const words = counts.map((_, i) => codes[i]!.toString(2).padStart(lengths[i]!, '0')).filter((_, i) => lengths[i]! > 0);
  for (const a of words) for (const b of words) if (a !== b) assert.ok(!b.startsWith(a), `${a} is a prefix of ${b}`);
  const total = counts.reduce((a, b) => a + b, 0);
  const symbols = Array.from({ length: 2000 }, () => {
    let u = rand() * total;
    return counts.findIndex((c) => (u -= c) < 0);
  });
  const w = new BitWriter();
  for (const x of symbols) w.write(codes[x]!, lengths[x]!);
  const r = new BitReader(w.finish());
  const dec = new HuffmanDecoder(lengths);
  assert.deepEqual(
    symbols.map(() => dec.decode(r)),
    symbols,
  );
});

test('the decoder rejects over-subscribed and incomplete tables and truncated streams', () => {
  assert.throws(() => new HuffmanDecoder([1, 1, 1]), /over-subscribed/);
  assert.throws(() => new HuffmanDecoder([1, 2, 0]), /incomplete/);
  assert.throws(() => new HuffmanDecoder([0, 0]), /codes no symbol/);
  assert.throws(() => new HuffmanDecoder([40, 1]), /longer than/);
  const dec = new HuffmanDecoder([2, 2, 1]);
  assert.throws(
    () => dec.decode(new BitReader(new Uint8Array(0))),
    (e: Error & { code?: string }) => e.code === 'BAD_CONTAINER' && /truncated/.test(e.message),
  );
});
