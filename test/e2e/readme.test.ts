// The README's library example must stay true: run it (fewer epochs) as a user would, importing
// 'whittle' by name (package self-reference).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

test('README library example runs: trains to > 95% test accuracy, and the pruned int8 model keeps > 95%', (t) => {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('## Library example'));
  const code = /```ts\n([\s\S]*?)```/.exec(section)?.[1];
  assert.ok(code, 'README has a ```ts block under "## Library example"');
  assert.match(code, /from 'whittle'/);
  const dir = join(ROOT, 'runs', `readme-${process.pid}`);
  mkdirSync(dir, { recursive: true });
  // Inside the package (so 'whittle' resolves to it), removed afterwards.
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const out = join(dir, 'lenet-300-100.onnx');
  // Every file the example writes goes to the test's directory.
  const script =
    code.replace('epochs: 10', 'epochs: 1').replace(/'([\w-]+\.onnx)'/g, (_, name: string) => JSON.stringify(join(dir, name))) +
    '\nconsole.log(JSON.stringify({ accuracy, small: small.accuracy }));\n';
  const file = join(dir, 'example.mjs');
  writeFileSync(file, script);
  const r = spawnSync(process.execPath, [file], { encoding: 'utf8', cwd: ROOT, timeout: 120_000 });
  assert.equal(r.status, 0, r.stderr);
  const { accuracy, small } = JSON.parse(r.stdout.trim().split('\n').pop() ?? '{}') as { accuracy: number; small: number };
  assert.ok(accuracy > 0.95, `accuracy ${accuracy}`);
  assert.ok(small > 0.95, `pruned + int8 accuracy ${small}`);
  assert.ok(existsSync(out));
  assert.ok(existsSync(join(dir, 'lenet-300-100-small.onnx')));
});

test('`npx whittle` runs from a fresh build, as the README tells users to call it', () => {
  // tsc writes files without the execute bit; the build must set it on the CLI (the bin).
  const bin = join(ROOT, 'dist/src/cli/main.js');
  assert.ok((statSync(bin).mode & 0o111) !== 0, `${bin} is not executable`);
  // npx installs the project into its cache as a file: dependency, which runs its prepare script
  // (a full rebuild of dist/) while other test files run the CLI from dist/: a half-written build
  // failed one of them. The test checks the build `npm test` just made, so no scripts run here.
  const r = spawnSync('npx', ['--no-install', 'whittle', 'info', '--model', 'lenet-300-100', '--json'], {
    encoding: 'utf8',
    cwd: ROOT,
    timeout: 60_000,
    env: { ...process.env, npm_config_ignore_scripts: 'true' },
  });
  assert.equal(r.status, 0, r.stderr);
  const info = JSON.parse(r.stdout) as { params: number };
  assert.equal(info.params, 266_610);
});
