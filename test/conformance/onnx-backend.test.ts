// ONNX's own backend test suite (Debian's libonnx-testdata: every op's node tests, the
// PyTorch-converted and -operator models, with inputs and expected outputs). For each model that
// onnxruntime-node runs correctly itself, Whittle must load it (validate, fold), report it, save
// it back, and the saved model must reproduce the expected outputs. Skipped when the package is
// not installed (.ci/run installs it).
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { fromBinary } from '@bufbuild/protobuf';
import { TensorProtoSchema } from '../../src/ir/proto/onnx_pb.js';
import * as ort from 'onnxruntime-node';
import { fromHalfBits } from '../../src/ir/half.js';
import { encodeModel } from '../../src/ir/onnx.js';
import { decodeModel, decodeTensor } from '../../src/ir/onnx.js';
import { modelStats } from '../../src/ir/stats.js';
import { isHoldable } from '../../src/ir/tensor.js';
import { loadModel } from '../../src/load.js';
import { SHAPE_RULES } from '../../src/ops/index.js';

const SUITE = process.env['ONNX_TESTDATA'] ?? '/usr/share/libonnx-testdata/data';
// ONNX's backend test compares with numpy.testing.assert_allclose(rtol=1e-3, atol=1e-7).
const RTOL = 1e-3;
const ATOL = 1e-7;
const STRING = 8;

function models(): string[] {
  const out: string[] = [];
  for (const group of readdirSync(SUITE).sort()) {
    const dir = join(SUITE, group);
    for (const name of readdirSync(dir).sort()) if (existsSync(join(dir, name, 'model.onnx'))) out.push(join(dir, name));
  }
  return out;
}

/** A .pb TensorProto as an onnxruntime tensor: numeric types through Whittle's decoder, strings directly. */
function readPb(path: string): { name: string; value: ort.Tensor } | undefined {
  try {
    return readTensorPb(path);
  } catch {
    // A SequenceProto or OptionalProto (sequence/optional tests): not a tensor onnxruntime-node can feed.
    return undefined;
  }
}

function readTensorPb(path: string): { name: string; value: ort.Tensor } | undefined {
  const bytes = readFileSync(path);
  const p = fromBinary(TensorProtoSchema, bytes);
  if (p.dataType === STRING) {
    const dims = p.dims.map(Number);
    return {
      name: p.name,
      value: new ort.Tensor(
        'string',
        p.stringData.map((s) => new TextDecoder().decode(s)),
        dims,
      ),
    };
  }
  if (!isHoldable(p.dataType)) return undefined;
  const t = decodeTensor(bytes, path);
  if (t.dtype === 'bfloat16') return undefined;
  return { name: p.name, value: new ort.Tensor(t.dtype as never, t.data as never, [...t.dims]) };
}

interface Case {
  feeds: Record<string, ort.Tensor>;
  expected: ort.Tensor[];
}

/** Inputs and expected outputs of each test_data_set_*; undefined when one is not a tensor ORT can take. */
function cases(dir: string, inputNames: readonly string[]): Case[] | undefined {
  const out: Case[] = [];
  for (const set of readdirSync(dir)
    .filter((d) => d.startsWith('test_data_set_'))
    .sort()) {
    const files = readdirSync(join(dir, set));
    const count = (prefix: string): number => files.filter((f) => f.startsWith(prefix) && f.endsWith('.pb')).length;
    const feeds: Record<string, ort.Tensor> = {};
    for (let i = 0; i < count('input_'); i++) {
      const t = readPb(join(dir, set, `input_${i}.pb`));
      const name = t?.name && inputNames.includes(t.name) ? t.name : inputNames[i];
      if (t === undefined || name === undefined) return undefined;
      feeds[name] = t.value;
    }
    const expected: ort.Tensor[] = [];
    for (let i = 0; i < count('output_'); i++) {
      const t = readPb(join(dir, set, `output_${i}.pb`));
      if (t === undefined) return undefined;
      expected.push(t.value);
    }
    out.push({ feeds, expected });
  }
  return out;
}

function numbers(t: ort.Tensor): ArrayLike<number | bigint | string> {
  if (t.type === 'float16' && t.data instanceof Uint16Array) return Array.from(t.data, fromHalfBits);
  return t.data as ArrayLike<number | bigint | string>;
}

/** Why `got` differs from `want` beyond the suite's tolerance; undefined when it matches. */
function mismatch(got: ort.Tensor, want: ort.Tensor): string | undefined {
  if (got.dims.join() !== want.dims.join()) return `shape [${got.dims.join(',')}] vs expected [${want.dims.join(',')}]`;
  const a = numbers(got);
  const b = numbers(want);
  for (let i = 0; i < b.length; i++) {
    const x = a[i];
    const y = b[i];
    if (typeof y !== 'number' || typeof x !== 'number') {
      if (x !== y) return `element ${i}: ${String(x)} vs expected ${String(y)}`;
      continue;
    }
    if (Number.isNaN(y) ? !Number.isNaN(x) : x !== y && !(Math.abs(x - y) <= ATOL + RTOL * Math.abs(y))) return `element ${i}: ${x} vs expected ${y}`;
  }
  return undefined;
}

async function runAll(session: ort.InferenceSession, all: Case[]): Promise<string | undefined> {
  for (const [k, c] of all.entries()) {
    const r = await session.run(c.feeds);
    for (const [i, want] of c.expected.entries()) {
      const name = session.outputNames[i];
      const got = name === undefined ? undefined : r[name];
      if (got === undefined) return `data set ${k}: output ${i} missing`;
      const why = mismatch(got, want);
      if (why !== undefined) return `data set ${k}, output ${name}: ${why}`;
    }
  }
  return undefined;
}

const OPTIONS: ort.InferenceSession.SessionOptions = { intraOpNumThreads: 1, interOpNumThreads: 1, executionMode: 'sequential', logSeverityLevel: 4 };

test('ONNX backend test suite: load → info → save runs to the expected outputs', {
  skip: !existsSync(SUITE) && `no ${SUITE} (apt-get install libonnx-testdata)`,
}, async () => {
  const all = models();
  const counts = {
    total: all.length,
    whittleLoads: 0,
    byteIdentical: 0,
    ortCannotLoad: 0,
    ortLoadable: 0,
    ortCannotRun: 0,
    notFeedable: 0,
    ortWrong: 0,
    matchOrt: 0,
    pass: 0,
  };
  const failures: string[] = [];
  for (const dir of all) {
    const path = join(dir, 'model.onnx');
    // Every model, whether or not onnxruntime runs it: Whittle reads it, reports it, and writes it
    // back so that reading the result gives the same bytes again.
    let saved: Uint8Array;
    try {
      const bytes = readFileSync(path);
      const once = encodeModel(decodeModel(bytes, path));
      if (Buffer.compare(once, bytes) === 0) counts.byteIdentical++;
      assert.deepEqual(encodeModel(decodeModel(once)), once, 'decode → encode is a fixed point');
      const model = loadModel(path);
      const stats = modelStats(model, SHAPE_RULES);
      assert.equal(stats.inputs.length, model.graph.inputs.length);
      saved = encodeModel(model);
      counts.whittleLoads++;
    } catch (e) {
      failures.push(`${dir}: Whittle: ${(e as Error).message.split('\n')[0]}`);
      continue;
    }
    let reference: ort.InferenceSession;
    try {
      reference = await ort.InferenceSession.create(path, OPTIONS);
    } catch (e) {
      if (process.env['ONNX_SUITE_VERBOSE']) process.stderr.write(`  ORT cannot load: ${dir}: ${(e as Error).message.split('\n')[0]}\n`);
      counts.ortCannotLoad++;
      continue;
    }
    counts.ortLoadable++;
    const data = cases(dir, reference.inputNames);
    if (data === undefined) {
      // Sequence/optional inputs or outputs: onnxruntime-node cannot feed them, but the saved model must still load.
      if (process.env['ONNX_SUITE_VERBOSE']) process.stderr.write(`  not feedable: ${dir}\n`);
      counts.notFeedable++;
      await reference.release();
      try {
        await (await ort.InferenceSession.create(saved, OPTIONS)).release();
      } catch (e) {
        failures.push(`${dir}: saved model does not load: ${(e as Error).message.split('\n')[0]}`);
      }
      continue;
    }
    let refWhy: string | undefined;
    try {
      refWhy = await runAll(reference, data);
    } catch {
      counts.ortCannotRun++;
      await reference.release();
      continue;
    }
    if (refWhy !== undefined) {
      // onnxruntime's own result differs from ONNX's (random ops, known ORT deviations): the saved
      // model must then compute what the original computes in onnxruntime, where that is repeatable.
      if (process.env['ONNX_SUITE_VERBOSE']) process.stderr.write(`  ORT itself: ${dir}: ${refWhy}\n`);
      counts.ortWrong++;
      const asOriginal = await Promise.all(data.map(async (c) => ({ feeds: c.feeds, expected: Object.values(await reference.run(c.feeds)) })));
      const repeatable = (await runAll(reference, asOriginal)) === undefined;
      await reference.release();
      if (!repeatable) continue;
      try {
        const s = await ort.InferenceSession.create(saved, OPTIONS);
        const why = await runAll(s, asOriginal);
        await s.release();
        if (why !== undefined) failures.push(`${dir}: differs from the original in onnxruntime: ${why}`);
        else counts.matchOrt++;
      } catch (e) {
        failures.push(`${dir}: ${(e as Error).message.split('\n')[0]}`);
      }
      continue;
    }
    await reference.release();
    try {
      const s = await ort.InferenceSession.create(saved, OPTIONS);
      const why = await runAll(s, data);
      await s.release();
      if (why !== undefined) failures.push(`${dir}: ${why}`);
      else counts.pass++;
    } catch (e) {
      failures.push(`${dir}: ${(e as Error).message.split('\n')[0]}`);
    }
  }
  process.stderr.write(`ONNX backend suite: ${JSON.stringify({ ...counts, failures: failures.length })}\n${failures.map((f) => `  FAIL ${f}\n`).join('')}`);
  assert.deepEqual(failures, []);
  assert.ok(counts.pass > 0);
});
