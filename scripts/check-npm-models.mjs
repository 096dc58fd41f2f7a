// Runs the npm-shipped ONNX models listed in test/fixtures/corpus/npm-models.json (not a test):
// for every listed file found as <root>/<package>/<path>, one onnxruntime-node session and one run
// on the entry's check_feed (a sine wave; int64 scalars take their `value`). Roots default to this
// repository's node_modules; pass others (e.g. a temp dir where the packages were installed).
//
//   node scripts/check-npm-models.mjs [node_modules-dir ...]
import { existsSync, readFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import ort from 'onnxruntime-node';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const list = JSON.parse(readFileSync(join(ROOT, 'test', 'fixtures', 'corpus', 'npm-models.json'), 'utf8'));
const roots = process.argv.length > 2 ? process.argv.slice(2) : [join(ROOT, 'node_modules')];

function feedsFor(spec) {
  const feeds = {};
  for (const [name, f] of Object.entries(spec)) {
    if (f.dtype === 'int64') {
      feeds[name] = new ort.Tensor('int64', BigInt64Array.from([BigInt(f.value ?? 0)]), f.dims);
      continue;
    }
    const n = f.dims.reduce((a, b) => a * b, 1);
    feeds[name] = new ort.Tensor(
      'float32',
      Float32Array.from({ length: n }, (_, j) => Math.sin(j * 0.37) * 0.5),
      f.dims,
    );
  }
  return feeds;
}

let failed = 0,
  found = 0;
for (const m of list.models.filter((e) => !e.same_file_as)) {
  const path = roots.map((r) => join(r, m.package, m.path)).find((p) => existsSync(p));
  const label = `${m.package}@${m.version} ${m.path}`;
  if (!path) {
    console.log(`${label}: not installed`);
    continue;
  }
  found++;
  try {
    const t0 = performance.now();
    const session = await ort.InferenceSession.create(path, { logSeverityLevel: 3 });
    const out = await session.run(feedsFor(m.check_feed));
    const shapes = Object.entries(out)
      .map(([k, v]) => `${k.slice(0, 24)}[${v.dims.join(',')}]`)
      .join(' ');
    console.log(`${label}: ok, ${shapes}, ${Math.round(performance.now() - t0)} ms`);
  } catch (e) {
    failed++;
    console.log(
      `${label}: FAIL ${String(e.message ?? e)
        .split('\n')[0]
        .slice(0, 160)}`,
    );
  }
}
console.log(`${found - failed}/${found} found models ran; onnxruntime-node ${ort.env.versions?.common ?? ''}`);
process.exitCode = failed ? 1 : 0;
