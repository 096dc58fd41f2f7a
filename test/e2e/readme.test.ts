// The README's library example must stay true: run it (fewer epochs) as a user would, importing
// 'whittle' by name (package self-reference).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

test('README library example runs and trains to > 95% test accuracy', () => {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('## Library example'));
  const code = /```ts\n([\s\S]*?)```/.exec(section)?.[1];
  assert.ok(code, 'README has a ```ts block under "## Library example"');
  assert.match(code, /from 'whittle'/);
  const dir = join(ROOT, 'runs', `readme-${process.pid}`);
  mkdirSync(dir, { recursive: true });
  const out = join(dir, 'lenet-300-100.onnx');
  const script = code.replace('epochs: 10', 'epochs: 1').replace("'lenet-300-100.onnx'", JSON.stringify(out)) + '\nconsole.log(JSON.stringify({ accuracy }));\n';
  const file = join(dir, 'example.mjs');
  writeFileSync(file, script);
  const r = spawnSync(process.execPath, [file], { encoding: 'utf8', cwd: ROOT, timeout: 120_000 });
  assert.equal(r.status, 0, r.stderr);
  const { accuracy } = JSON.parse(r.stdout.trim().split('\n').pop() ?? '{}') as { accuracy: number };
  assert.ok(accuracy > 0.95, `accuracy ${accuracy}`);
  assert.ok(existsSync(out));
});
