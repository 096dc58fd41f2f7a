// The browser decoder against Node's: the same weights, and ONNX bytes that onnxruntime (node and
// web) loads and runs to the same outputs as the model Node decodes; damage is refused.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { crc32 as zlibCrc32 } from 'node:zlib';
import { createModel } from '../nn/index.js';
import { Tensor } from '../ir/tensor.js';
import { decodeModel } from '../ir/onnx.js';
import { decodeContainer, encodeContainer, sharedValues } from '../compress/codec/index.js';
import type { SharedWeight } from '../compress/codec/index.js';
import { crc32 } from '../compress/codec/crc32.js';
import { Session } from '../runtime/session.js';
import { containerToOnnx } from './decode.js';

/** mlp:784-30-10 with fc1 ~80% pruned and 4-bit shared; fc2 and the biases stay dense. */
function fixture(): Uint8Array {
  const model = createModel('mlp:784-30-10', { seed: 5 });
  let s = 7;
  const rand = (): number => (s = (s * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  const t = model.graph.initializers.get('fc1.weight') as Tensor;
  const w: SharedWeight = {
    dims: [...t.dims],
    bits: 4,
    codebook: Float32Array.from({ length: 16 }, () => rand() - 0.5),
    assignment: Int32Array.from({ length: t.size }, () => (rand() < 0.2 ? Math.floor(rand() * 16) : -1)),
  };
  model.graph.initializers.set('fc1.weight', new Tensor('float32', w.dims, sharedValues(w)));
  return encodeContainer(model, new Map([['fc1.weight', w]])).bytes;
}

test("crc32 in plain JavaScript equals zlib's", () => {
  assert.equal(crc32(new TextEncoder().encode('123456789')), 0xcbf43926);
  const b = Uint8Array.from({ length: 5000 }, (_, i) => (i * 2654435761) >>> 24);
  assert.equal(crc32(b), zlibCrc32(b));
  assert.equal(crc32(new Uint8Array(0)), zlibCrc32(new Uint8Array(0)));
});

test("containerToOnnx: the same graph and weights as Node's decoder, and onnxruntime runs it identically", async () => {
  const bytes = fixture();
  const node = decodeContainer(bytes).model;
  const { onnx, breakdown } = await containerToOnnx(bytes);
  assert.deepEqual(breakdown, decodeContainer(bytes).breakdown);
  const web = decodeModel(onnx);
  assert.deepEqual(
    web.graph.nodes.map((n) => [n.opType, n.inputs, n.outputs]),
    node.graph.nodes.map((n) => [n.opType, n.inputs, n.outputs]),
  );
  assert.deepEqual([...web.graph.initializers.keys()].sort(), [...node.graph.initializers.keys()].sort());
  for (const [name, t] of node.graph.initializers) {
    const u = web.graph.initializers.get(name) as Tensor;
    assert.deepEqual(u.dims, t.dims, name);
    assert.deepEqual([...u.data], [...t.data], name);
  }
  // The raw bytes (appended graph fields, merged by protobuf) straight into onnxruntime.
  const x = Tensor.fromArray(
    'float32',
    [3, 1, 28, 28],
    Array.from({ length: 3 * 784 }, (_, i) => ((i * 37) % 255) / 255),
  );
  const input = node.graph.inputs[0]?.name as string;
  const want = await (await Session.create(node)).run({ [input]: x });
  for (const backend of ['node', 'web'] as const) {
    const got = await (await Session.create(onnx, { backend, threads: 1 })).run({ [input]: x });
    for (const k of Object.keys(want)) {
      const a = want[k]?.data as Float32Array;
      const b = got[k]?.data as Float32Array;
      assert.equal(b.length, a.length);
      for (let i = 0; i < a.length; i++) assert.ok(Math.abs((a[i] as number) - (b[i] as number)) < 1e-5, `${backend} ${k}[${i}]`);
    }
  }
});

test('containerToOnnx refuses a damaged container with BAD_CONTAINER', async () => {
  const bytes = fixture();
  const flipped = bytes.slice();
  flipped[bytes.length - 40] = (flipped[bytes.length - 40] as number) ^ 0x55;
  const magic = bytes.slice();
  magic[0] = 0x4f;
  for (const [bad, re] of [
    [flipped, /checksum mismatch|corrupt|no Huffman code|unknown kind/],
    [bytes.subarray(0, bytes.length - 30), /truncated/],
    [magic, /not a Whittle container/],
  ] as const) {
    await assert.rejects(
      containerToOnnx(bad, { source: 'm.wtl' }),
      (e: Error & { code?: string }) => e.code === 'BAD_CONTAINER' && re.test(e.message) && e.message.includes('m.wtl'),
    );
  }
});
