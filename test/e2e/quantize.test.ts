// `whittle quantize` end to end: a LeNet-300-100 trained for one quick epoch is quantized every
// way; each output is evaluated by onnxruntime (through `whittle eval`), its `bytes` equals the
// file on disk, and bad input fails cleanly with no output file.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { encodeIdx } from '../../src/data/idx.js';
import { GENERAL_TRAINING, tempDir, whittle } from './cli.js';
import { assertRunLog } from './run-log-check.js';

let dir: string;
let model: string;
let baseline: number;

before(() => {
  dir = tempDir();
  model = join(dir, 'mlp.onnx');
  // The general settings (batch 64, momentum, x/255), pinned: the floors below were set for them.
  const r = whittle([
    'train',
    '--model',
    'lenet-300-100',
    '--epochs',
    '1',
    '--samples',
    '8192',
    ...GENERAL_TRAINING,
    '--threads',
    '1',
    '--out',
    model,
    '--json',
  ]);
  assert.equal(r.code, 0, r.stderr);
  baseline = Number(r.json?.['accuracy']);
  assert.ok(baseline > 0.9, `baseline ${baseline}`);
});

function quantize(args: string[]): Record<string, unknown> {
  const r = whittle(['quantize', '--model', model, '--threads', '1', '--eval-limit', '2000', '--json', ...args]);
  assert.equal(r.code, 0, r.stderr);
  const j = r.json as Record<string, unknown>;
  const out = j['out'] as string;
  assert.equal(j['bytes'], statSync(out).size, 'bytes is the size of the file written');
  // onnxruntime loads and evaluates the file as written.
  const ev = whittle(['eval', '--model', out, '--eval-limit', '2000', '--threads', '1', '--json']);
  assert.equal(ev.code, 0, ev.stderr);
  assert.equal(ev.json?.['accuracy'], j['accuracy']);
  return j;
}

test('ptq (static QDQ, entropy calibration) and dynamic keep accuracy', () => {
  const ptq = quantize(['--scheme', 'ptq', '--calibration', 'entropy', '--calibration-samples', '256', '--out', join(dir, 'ptq.onnx')]);
  assert.equal(ptq['bits'], 8);
  assert.ok(Number(ptq['accuracyDrop']) <= 0.01, `drop ${ptq['accuracyDrop']}`);
  assert.ok(Number(ptq['compressionRatio']) > 3.5);
  assert.deepEqual(
    (ptq['layers'] as { name: string }[]).map((l) => l.name),
    ['fc1', 'fc2', 'fc3'],
  );
  const dyn = quantize(['--scheme', 'dynamic', '--out', join(dir, 'dyn.onnx')]);
  assert.ok(Number(dyn['accuracyDrop']) <= 0.01);
});

test('ptq and qat --keep-float leave the named layer in float32 and quantize the rest', () => {
  for (const scheme of [
    ['--scheme', 'ptq', '--calibration-samples', '256'],
    ['--scheme', 'qat', '--epochs', '1', '--samples', '2048', '--lr', '0.005'],
  ]) {
    const j = quantize([...scheme, '--keep-float', 'fc1', '--out', join(dir, `${scheme[1]}-kf.onnx`)]);
    assert.deepEqual(
      (j['layers'] as { name: string }[]).map((l) => l.name),
      ['fc2', 'fc3'],
      scheme[1],
    );
    assert.ok(Number(j['bytes']) > 4 * 235_200, `${scheme[1]}: fc1 stays float32`);
  }
});

test('fp16 halves the bytes; int4 (MatMulNBits) keeps accuracy', () => {
  const fp32Bytes = statSync(model).size;
  const half = quantize(['--format', 'fp16', '--out', join(dir, 'half.onnx')]);
  assert.ok(Math.abs(Number(half['bytes']) / fp32Bytes - 0.5) < 0.01, `${half['bytes']} vs ${fp32Bytes}`);
  assert.ok(Math.abs(Number(half['accuracyDrop'])) <= 0.001);
  const q4 = quantize(['--format', 'int4', '--out', join(dir, 'q4.onnx')]);
  assert.equal(q4['bits'], 4);
  assert.ok(Number(q4['accuracyDrop']) <= 0.01 && Number(q4['bytes']) < fp32Bytes / 5);
});

test('ternary with weight clipping trains briefly and stores 2-bit packed weights', () => {
  const t = quantize(['--scheme', 'ternary', '--epochs', '1', '--samples', '2048', '--clip-weights', '0.5', '--lr', '0.01', '--out', join(dir, 'tern.onnx')]);
  assert.equal(t['format'], 'packed');
  // TWN's threshold 0.7·mean|W| zeroes a large share of each layer.
  for (const l of t['layers'] as { sparsity: number }[]) assert.ok(l.sparsity > 0.2 && l.sparsity < 0.8, `sparsity ${l.sparsity}`);
  assert.ok(Number(t['bytes']) < 266_000 / 4 + 12_000);
  assert.ok(Number(t['accuracy']) > 0.85);
  // info counts the packed weights themselves (not their bytes), zeros where TWN zeroed them.
  const info = whittle(['info', '--model', join(dir, 'tern.onnx'), '--json']);
  assert.equal(info.code, 0, info.stderr);
  const params = Number(info.json?.['params']);
  assert.ok(params >= 266_200 && params < 266_610 + 100, `params ${params}`);
  const weightsKept = 1 - (t['layers'] as { sparsity: number; params: number }[]).reduce((a, l) => a + l.sparsity * l.params, 0) / 266_200;
  assert.ok(Math.abs(Number(info.json?.['nonzeroParams']) / 266_200 - weightsKept) < 0.01, `nonzero ${info.json?.['nonzeroParams']} vs kept ${weightsKept}`);
});

test('ternary distilled from its float parent (--teacher): the teacher changes the training, accuracy is kept', () => {
  const flags = ['--scheme', 'ternary', '--epochs', '1', '--samples', '2048', '--lr', '0.01', '--seed', '3'];
  const alone = quantize([...flags, '--out', join(dir, 'ternary-alone.onnx')]);
  const kd = quantize([...flags, '--teacher', model, '--out', join(dir, 'ternary-kd.onnx')]);
  assert.equal(kd['teacher'], model);
  assert.equal(kd['bits'], 2);
  assert.ok(Number(kd['accuracy']) > 0.85, `accuracy ${kd['accuracy']}`);
  // Same seed, data and one thread: only the distillation loss can make the weights differ.
  assert.notDeepEqual(readFileSync(kd['out'] as string), readFileSync(alone['out'] as string));
  const out = join(dir, 'bad-kd.onnx');
  assertCleanError(
    whittle(['quantize', '--model', model, '--scheme', 'ptq', '--teacher', model, '--out', out]),
    /--teacher distills while training: use it with --scheme qat, binary or ternary/,
    out,
  );
});

test('qat (int8, LSQ scales) with PACT clipping exports QDQ with the learned clip in inference form', () => {
  const q = quantize([
    '--scheme',
    'qat',
    '--clip-activations',
    'pact',
    '--epochs',
    '1',
    '--samples',
    '1024',
    '--calibration-samples',
    '128',
    '--lr',
    '0.005',
    '--out',
    join(dir, 'qat.onnx'),
  ]);
  assert.equal(q['format'], 'qdq');
  assert.ok(Number(q['accuracyDrop']) <= 0.02, `drop ${q['accuracyDrop']}`);
  // QAT trains, so its run log is beside --out: the epoch and the result --json printed.
  const log = assertRunLog(`${join(dir, 'qat.onnx')}.log.jsonl`, 'quantize', ['epoch', 'result']);
  assert.equal(log.epochs.length, 1);
  assert.equal(log.result?.['accuracy'], q['accuracy']);
  const info = whittle(['info', '--model', join(dir, 'qat.onnx'), '--json']);
  assert.equal(info.code, 0, info.stderr);
  const ops = info.json?.['ops'] as Record<string, number>;
  // Each PACT clip became a ReLU where the quantizer saturates below α anyway, else stays two ReLUs.
  assert.ok((ops['Relu'] ?? 0) >= 2 && ops['Round'] === undefined);
  assert.ok((ops['QuantizeLinear'] ?? 0) >= 3 && ops['Round'] === undefined, 'no fake-quant left, QDQ instead');
});

function assertCleanError(r: { code: number | null; stderr: string; stdout: string }, pattern: RegExp, out: string): void {
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, pattern);
  assert.doesNotMatch(r.stderr, /^\s+at /m);
  assert.equal(r.stdout, '');
  assert.ok(!existsSync(out), 'no partial output');
  assert.deepEqual(
    readdirSync(dir).filter((f) => f.endsWith('.tmp')),
    [],
  );
}

test('kmeans: 4-bit shared weights in the container; decode gives a model onnxruntime evaluates to the same accuracy', () => {
  const wtl = join(dir, 'km.wtl');
  const r = whittle(['quantize', '--model', model, '--scheme', 'kmeans', '--bits', '4', '--threads', '1', '--eval-limit', '2000', '--out', wtl, '--json']);
  assert.equal(r.code, 0, r.stderr);
  const j = r.json as Record<string, unknown>;
  assert.equal(j['bytes'], statSync(wtl).size, 'bytes is the size of the container written');
  // Unpruned, each weight costs its Huffman-coded 4-bit index plus a 1-bit gap code: > 6× smaller.
  assert.ok(Number(j['compressionRatio']) > 6, `ratio ${j['compressionRatio']}`);
  assert.ok(Number(j['accuracyDrop']) <= 0.01, `drop ${j['accuracyDrop']}`);
  assert.deepEqual(
    (j['layers'] as { name: string }[]).map((l) => l.name),
    ['fc1', 'fc2', 'fc3'],
  );
  const onnx = join(dir, 'km.onnx');
  const d = whittle(['decode', '--model', wtl, '--out', onnx, '--json']);
  assert.equal(d.code, 0, d.stderr);
  const ev = whittle(['eval', '--model', onnx, '--eval-limit', '2000', '--threads', '1', '--json']);
  assert.equal(ev.code, 0, ev.stderr);
  assert.equal(ev.json?.['accuracy'], j['accuracy']);
});

test('bad input: unsupported bits, wrong-shape calibration data, impossible combinations', () => {
  const out = join(dir, 'bad.onnx');
  assertCleanError(whittle(['quantize', '--model', model, '--bits', '3', '--out', out]), /BAD_ARGUMENT.*--bits 3 is not supported.*supported: 8/, out);
  assertCleanError(whittle(['quantize', '--model', model, '--format', 'int4', '--bits', '8', '--out', out]), /--bits 8.*--format int4.*supported: 4/, out);
  assertCleanError(whittle(['quantize', '--model', model, '--scheme', 'qat', '--bits', '5', '--out', out]), /supported: 8, 4, 2/, out);
  assertCleanError(whittle(['quantize', '--model', model, '--clip-activations', 'pact', '--out', out]), /pact learns its clip while training/, out);
  assertCleanError(
    whittle(['quantize', '--model', model, '--scheme', 'kmeans', '--format', 'qdq', '--out', out]),
    /--scheme kmeans is stored in the Deep Compression container: use --format container/,
    out,
  );
  assertCleanError(whittle(['quantize', '--model', model, '--format', 'container', '--out', out]), /--format container holds k-means shared weights/, out);
  assertCleanError(whittle(['quantize', '--model', model, '--scheme', 'kmeans', '--bits', '9', '--out', out]), /--bits 9: k-means sharing takes 1–8 bits/, out);
  const tiny = join(dir, 'tiny');
  mkdirSync(tiny);
  const n = 16;
  for (const split of ['train', 't10k']) {
    writeFileSync(
      join(tiny, `${split}-images-idx3-ubyte`),
      encodeIdx(
        [n, 8, 8],
        new Uint8Array(n * 64).map((_, i) => i % 251),
      ),
    );
    writeFileSync(
      join(tiny, `${split}-labels-idx1-ubyte`),
      encodeIdx(
        [n],
        new Uint8Array(n).map((_, i) => i % 10),
      ),
    );
  }
  // Calibration draws on the training side only: 16 samples less the 2 held out for validation.
  assertCleanError(
    whittle(['quantize', '--model', model, '--data', tiny, '--out', out]),
    /SHAPE_MISMATCH.*calibration data must be float32 \[N, 1, 28, 28\].*\[14, 1, 8, 8\]/,
    out,
  );
});

test('ptq of a conv net with a one-channel first conv hints at --keep-float, and not once it is given', () => {
  const base = ['quantize', '--model', 'lenet-5', '--calibration-samples', '64', '--eval-limit', '200', '--threads', '1'];
  const plain = whittle([...base, '--out', join(dir, 'l5-plain.onnx')]);
  assert.equal(plain.code, 0, plain.stderr);
  assert.match(plain.stderr, /hint: conv1 has few input channels.*--keep-float conv1.*--keep-float auto/);
  assert.doesNotMatch(plain.stderr, /hint: conv2/, 'conv2 reads 20 channels');
  const kept = whittle([...base, '--keep-float', 'conv1', '--out', join(dir, 'l5-kept.onnx')]);
  assert.equal(kept.code, 0, kept.stderr);
  assert.doesNotMatch(kept.stderr, /hint:/);
});

test('ptq --keep-float auto profiles each layer, times the forms on this machine, keeps int8 only where clearly faster', () => {
  const r = whittle([
    'quantize',
    '--model',
    'lenet-5',
    '--keep-float',
    'auto',
    '--speed-at',
    '64x1',
    '--calibration-samples',
    '64',
    '--eval-limit',
    '200',
    '--threads',
    '1',
    '--out',
    join(dir, 'l5-auto.onnx'),
    '--json',
  ]);
  assert.equal(r.code, 0, r.stderr);
  type Row = { form: string; keepFloat: string[]; ms: number[]; vsFp32: number };
  const auto = r.json?.['keepFloatAuto'] as {
    keepFloat: string[];
    form: string;
    targets: unknown[];
    rows: Row[];
    units: { name: string; int8: boolean }[];
    margin: number;
  };
  assert.deepEqual(auto.targets, [{ batch: 64, threads: 1 }]);
  assert.deepEqual(
    auto.units.map((u) => u.name).filter((n) => ['conv1', 'conv2', 'fc1', 'fc2'].includes(n)),
    ['conv1', 'conv2', 'fc1', 'fc2'],
  );
  assert.deepEqual(
    auto.rows.map((x) => x.form).filter((f) => f !== 'measured'),
    ['fp32', 'all-int8', 'float-compute'],
  );
  const kept = auto.rows.find((x) => x.form === auto.form) as Row;
  // An int8 form is kept only when it beats all-float-compute (fp32's graph) by the margin.
  const fc = auto.rows.at(-1) as Row;
  if (kept !== fc) assert.ok(kept.vsFp32 > fc.vsFp32 * auto.margin, `${kept.form} ${kept.vsFp32} vs float-compute ${fc.vsFp32} × ${auto.margin}`);
  for (const x of auto.rows.slice(1, -1)) assert.ok(x === kept || x.vsFp32 <= kept.vsFp32 || x.vsFp32 <= fc.vsFp32 * auto.margin, x.form);
  assert.deepEqual(auto.keepFloat, auto.form === 'all-int8' ? [] : kept.keepFloat);
  // Whatever form won, every layer is stored in 8 bits (float-compute layers as int8 weights × scale).
  const quantized = (r.json?.['layers'] as { name: string; bits: number }[]).map((l) => l.name).sort();
  assert.deepEqual(quantized, ['conv1', 'conv2', 'fc1', 'fc2']);
  assert.equal(r.json?.['keepFloat'], auto.keepFloat.length === 0 ? null : auto.keepFloat.join(','));
  // 200 evaluation samples: one is 0.5 points.
  assert.ok((r.json?.['accuracyDrop'] as number) <= 0.02, `drop ${r.json?.['accuracyDrop']}`);
  const badAt = whittle(['quantize', '--model', 'lenet-5', '--keep-float', 'auto', '--speed-at', '32', '--out', join(dir, 'x.onnx')]);
  assert.equal(badAt.code, 2, badAt.stderr);
  assert.match(badAt.stderr, /--speed-at '32' is not BATCHxTHREADS/);
  const noAuto = whittle(['quantize', '--model', 'lenet-5', '--speed-at', '1x1', '--out', join(dir, 'x.onnx')]);
  assert.equal(noAuto.code, 2, noAuto.stderr);
  assert.match(noAuto.stderr, /--speed-at sets what --keep-float auto times/);
  const bad = whittle(['quantize', '--model', 'lenet-5', '--scheme', 'dynamic', '--keep-float', 'auto', '--out', join(dir, 'x.onnx')]);
  assert.notEqual(bad.code, 0);
  assert.match(bad.stderr, /--keep-float auto times static int8 forms.*--scheme ptq/);
  assert.ok(!existsSync(join(dir, 'x.onnx')));
});

test('--keep-float auto on any model with --data: a corpus CNN stays int8-sized and agrees with its float original', () => {
  const corpus = fileURLToPath(new URL('../../../test/fixtures/corpus', import.meta.url));
  const out = join(dir, 'resnet20-auto.onnx');
  const src = `${corpus}/mnist_resnet20.opset17.onnx`;
  const r = whittle([
    'quantize',
    '--model',
    src,
    '--data',
    `${corpus}/mnist.calib.npy`,
    '--calibration-samples',
    '16',
    '--keep-float',
    'auto',
    '--speed-at',
    '1x1,8x1',
    '--out',
    out,
    '--json',
  ]);
  assert.equal(r.code, 0, r.stderr);
  const auto = r.json?.['keepFloatAuto'] as { form: string; targets: unknown[]; rows: { form: string; ms: number[] }[] };
  assert.deepEqual(auto.targets, [
    { batch: 1, threads: 1 },
    { batch: 8, threads: 1 },
  ]);
  assert.ok(auto.rows.every((x) => x.ms.length === 2 && x.ms.every((m) => m > 0)));
  assert.ok(['all-int8', 'measured', 'float-compute'].includes(auto.form));
  assert.match(r.stderr, /keep-float auto: float-compute .*← kept|keep-float auto: (all-int8|measured).*← kept/);
  // Issue 10's size target holds whichever form was kept: float layers keep int8-stored weights.
  assert.ok(statSync(out).size <= 0.3 * statSync(src).size, `${statSync(out).size} of ${statSync(src).size} bytes`);
  const agreement = (r.json?.['agreement'] as { outputs: { top1: number }[] }).outputs[0];
  assert.ok((agreement?.top1 ?? 0) >= 0.99, `top-1 agreement ${agreement?.top1}`);
});
