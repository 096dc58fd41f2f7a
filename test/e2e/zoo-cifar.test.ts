// `whittle train --data DIR` on a CIFAR-10-binary-format directory trains the CIFAR-style zoo
// models end to end. The directory is made here (no download): 5 training batches and a test
// batch of 64 records each (1 label byte + 3,072 bytes of R, G, B planes), where class k lights
// colour plane k mod 3 in horizontal band ⌊k/3⌋ mod 4 over seeded noise, so a working model
// learns it in a few epochs and a broken gradient stays near chance (10%).
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { decodeModel } from '../../src/ir/onnx.js';
import { Tensor } from '../../src/ir/tensor.js';
import { Session } from '../../src/runtime/session.js';
import { tempDir, whittle } from './cli.js';

function cifarDir(): string {
  const dir = tempDir();
  let k = 0;
  for (const f of ['data_batch_1.bin', 'data_batch_2.bin', 'data_batch_3.bin', 'data_batch_4.bin', 'data_batch_5.bin', 'test_batch.bin']) {
    const buf = Buffer.alloc(64 * 3073);
    for (let r = 0; r < 64; r++, k++) {
      const label = k % 10;
      const at = r * 3073;
      buf[at] = label;
      let s = k + 1;
      for (let i = 0; i < 3072; i++) {
        s = (s * 1103515245 + 12345) & 0x7fffffff;
        const on = Math.floor(i / 1024) === label % 3 && Math.floor((i % 1024) / 256) === Math.floor(label / 3) % 4;
        buf[at + 1 + i] = (on ? 160 : 0) + (s % 64);
      }
    }
    writeFileSync(join(dir, f), buf);
  }
  return dir;
}

const data = cifarDir();

for (const [model, floor] of [
  ['resnet-20', 0.3],
  ['resnet-56', 0.2],
  ['vit-tiny:patch=8,depth=2,heads=2,dim=32', 0.2],
] as const) {
  test(`train --model ${model} --data <CIFAR-10 binary dir>: the loss falls every epoch and the file runs in onnxruntime`, async () => {
    const out = join(tempDir(), 'model.onnx');
    const r = whittle(['train', '--model', model, '--data', data, '--epochs', '3', '--lr', '0.02', '--threads', '1', '--seed', '0', '--out', out, '--json'], {
      timeoutMs: 600_000,
    });
    assert.equal(r.code, 0, r.stderr);
    const losses = (r.json?.['history'] as { loss: number }[]).map((h) => h.loss);
    assert.equal(losses.length, 3);
    for (let i = 1; i < losses.length; i++) assert.ok((losses[i] as number) < (losses[i - 1] as number), `losses ${losses.join(', ')}`);
    assert.ok(Number(r.json?.['accuracy']) > floor, `test accuracy ${r.json?.['accuracy']} (chance 0.1)`);
    // The trained file takes CIFAR's [N, 3, 32, 32] and gives logits in a plain session.
    const m = decodeModel(readFileSync(out));
    assert.deepEqual(m.graph.inputs[0]?.shape.slice(1), [3, 32, 32]);
    const s = await Session.create(m, { threads: 1 });
    try {
      const y = await s.run({ [m.graph.inputs[0]?.name as string]: new Tensor('float32', [2, 3, 32, 32]) });
      assert.deepEqual(y[m.graph.outputs[0]?.name as string]?.dims, [2, 10]);
    } finally {
      await s.release();
    }
  });
}
