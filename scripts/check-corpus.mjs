// Loadability check for test/fixtures/corpus (not a test): opens every corpus model with
// onnxruntime-node, runs it on the first samples of its .npy input and prints the max absolute
// error against PyTorch's outputs in <name>.ref.npz. Exits non-zero if a model fails to load or run.
// With --web it runs them in onnxruntime-web (wasm, 1 thread) instead.
//
//   node scripts/check-corpus.mjs [--web] [substring]
import { readFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const DIR = join(dirname(fileURLToPath(import.meta.url)), '..', 'test', 'fixtures', 'corpus');
const DTYPES = {
  '<f4': ['float32', Float32Array],
  '<f8': ['float64', Float64Array],
  '<i8': ['int64', BigInt64Array],
  '<i4': ['int32', Int32Array],
  '|u1': ['uint8', Uint8Array],
  '<f2': ['float16', Uint16Array],
  '|b1': ['bool', Uint8Array],
};

/** Parses one .npy buffer (C order only) into { dtype, dims, data }. */
function parseNpy(buf) {
  if (buf.toString('latin1', 1, 6) !== 'NUMPY') throw new Error('not an .npy file');
  const major = buf[6];
  const hlen = major === 1 ? buf.readUInt16LE(8) : buf.readUInt32LE(8);
  const start = major === 1 ? 10 : 12;
  const header = buf.toString('latin1', start, start + hlen);
  const descr = /'descr':\s*'([^']+)'/.exec(header)?.[1];
  const shape = /'shape':\s*\(([^)]*)\)/.exec(header)?.[1] ?? '';
  if (/'fortran_order':\s*True/.test(header)) throw new Error('fortran order .npy');
  const spec = DTYPES[descr];
  if (!spec) throw new Error(`unsupported .npy dtype ${descr}`);
  const dims = shape
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map(Number);
  const body = buf.subarray(start + hlen);
  const copy = new Uint8Array(body).buffer; // aligned copy
  return { dtype: spec[0], dims, data: new spec[1](copy) };
}

/** Reads the stored (uncompressed, as np.savez writes) members of a .npz file. */
function parseNpz(buf) {
  const out = {};
  let eocd = buf.length - 22;
  while (eocd >= 0 && buf.readUInt32LE(eocd) !== 0x06054b50) eocd--;
  let count = buf.readUInt16LE(eocd + 10);
  let p = buf.readUInt32LE(eocd + 16);
  while (count-- > 0) {
    const method = buf.readUInt16LE(p + 10);
    let size = buf.readUInt32LE(p + 20);
    const nameLen = buf.readUInt16LE(p + 28),
      extraLen = buf.readUInt16LE(p + 30),
      commentLen = buf.readUInt16LE(p + 32);
    let local = buf.readUInt32LE(p + 42);
    const name = buf.toString('utf8', p + 46, p + 46 + nameLen);
    if (method !== 0) throw new Error(`compressed .npz member ${name}`);
    if (size === 0xffffffff || local === 0xffffffff) {
      // zip64 extra field
      const extra = buf.subarray(p + 46 + nameLen, p + 46 + nameLen + extraLen);
      let q = 4;
      if (buf.readUInt32LE(p + 24) === 0xffffffff) q += 8;
      if (size === 0xffffffff) {
        size = Number(extra.readBigUInt64LE(q));
        q += 8;
      }
      if (local === 0xffffffff) local = Number(extra.readBigUInt64LE(q));
    }
    const lname = buf.readUInt16LE(local + 26),
      lextra = buf.readUInt16LE(local + 28);
    const dataStart = local + 30 + lname + lextra;
    out[name.replace(/\.npy$/, '')] = parseNpy(buf.subarray(dataStart, dataStart + size));
    p += 46 + nameLen + extraLen + commentLen;
  }
  return out;
}

function firstRows(arr, n) {
  const per = arr.dims.slice(1).reduce((a, b) => a * b, 1);
  const rows = Math.min(n, arr.dims[0]);
  return new ort.Tensor(arr.dtype, arr.data.slice(0, rows * per), [rows, ...arr.dims.slice(1)]);
}

/** Top-1 accuracy of an MNIST model on mnist.test2000.npz, normalized as the manifest says. */
async function mnistAccuracy(session, m) {
  const test = parseNpz(readFileSync(join(DIR, 'mnist.test2000.npz')));
  const x = Float32Array.from(test.x.data, (v) => (v / 255 - 0.1307) / 0.3081);
  const out = await session.run({ [m.inputs[0].name]: new ort.Tensor('float32', x, test.x.dims) });
  const logits = out[m.outputs[0].name].data;
  const n = test.labels.dims[0],
    k = logits.length / n;
  let correct = 0;
  for (let i = 0; i < n; i++) {
    let best = 0;
    for (let j = 1; j < k; j++) if (logits[i * k + j] > logits[i * k + best]) best = j;
    if (BigInt(best) === test.labels.data[i]) correct++;
  }
  const acc = correct / n;
  return `${(acc * 100).toFixed(2)}% (torch ${(m.test_accuracy_first2000 * 100).toFixed(2)}%)`;
}

const web = process.argv.includes('--web');
const filter = process.argv.slice(2).find((a) => !a.startsWith('--')) ?? '';
const ort = web ? (await import('onnxruntime-web')).default : (await import('onnxruntime-node')).default;
if (web) ort.env.wasm.numThreads = 1;
const manifest = JSON.parse(readFileSync(join(DIR, 'manifest.json'), 'utf8'));
const rows = [];
let failed = 0;
for (const m of manifest.models.filter((e) => e.file.includes(filter))) {
  const row = { file: m.file, opset: m.opset, maxAbsErr: '', status: 'ok' };
  try {
    const session = await ort.InferenceSession.create(join(DIR, m.file));
    const inputBuf = readFileSync(join(DIR, m.input_file));
    const inputs = m.input_file.endsWith('.npz') ? parseNpz(inputBuf) : { [m.inputs[0].name]: parseNpy(inputBuf) };
    const feeds = {};
    for (const sig of m.inputs) feeds[sig.name] = firstRows(inputs[sig.name] ?? Object.values(inputs)[0], m.ref_samples);
    const result = await session.run(feeds);
    const ref = parseNpz(readFileSync(join(DIR, m.ref_file)));
    let worst = 0;
    for (const [name, r] of Object.entries(ref)) {
      const got = result[name]?.data;
      if (!got || got.length !== r.data.length) throw new Error(`output ${name}: ${got?.length} values, reference ${r.data.length}`);
      for (let i = 0; i < got.length; i++) worst = Math.max(worst, Math.abs(Number(got[i]) - Number(r.data[i])));
    }
    row.maxAbsErr = worst.toExponential(2);
    if (!(worst < 1e-3)) row.status = 'MISMATCH';
    if (m.trained === 'MNIST') row.acc = await mnistAccuracy(session, m);
  } catch (e) {
    row.status = `FAIL: ${String(e.message ?? e)
      .split('\n')[0]
      .slice(0, 120)}`;
  }
  if (row.status !== 'ok') failed++;
  rows.push(row);
}
const w = Math.max(...rows.map((r) => r.file.length));
console.log(`${'file'.padEnd(w)}  opset  max|ort-torch|  status  test2000 top-1 (ort vs torch)`);
for (const r of rows) {
  console.log(`${r.file.padEnd(w)}  ${String(r.opset).padStart(5)}  ${r.maxAbsErr.padStart(13)}  ${r.status}${r.acc ? `      ${r.acc}` : ''}`);
}
console.log(`${rows.length - failed}/${rows.length} ok; ${web ? 'onnxruntime-web' : 'onnxruntime-node'} ${ort.env.versions?.common ?? ''}`);
process.exitCode = failed ? 1 : 0;
