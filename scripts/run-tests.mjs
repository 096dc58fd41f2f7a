#!/usr/bin/env node
// Runs every compiled *.test.js under dist/ with node's test runner: unit tests beside the code
// (dist/src/**), then the CLI end-to-end tests (dist/test/e2e/**). Compiles first so `npm test`
// always tests the current source.
import { execFileSync, spawnSync } from 'node:child_process';
import { readdirSync, statSync, existsSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
execFileSync(process.execPath, [join(root, 'scripts/build.mjs')], { stdio: 'inherit' });

function find(dir) {
  if (!existsSync(dir)) return [];
  const out = [];
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...find(p));
    else if (name.endsWith('.test.js')) out.push(p);
  }
  return out;
}
const filter = process.argv.slice(2);
// Only tests whose TypeScript source still exists: tsc leaves the output of deleted files behind.
const hasSource = (js) => existsSync(join(root, js.slice(join(root, 'dist').length + 1).replace(/\.js$/, '.ts')));
let files = [...find(join(root, 'dist/src')), ...find(join(root, 'dist/test'))].filter(hasSource);
if (filter.length > 0) files = files.filter((f) => filter.some((s) => f.includes(s)));
if (files.length === 0) {
  console.error('no test files found');
  process.exit(1);
}
const r = spawnSync(process.execPath, ['--test', '--test-concurrency=2', ...files], { stdio: 'inherit', cwd: root });
process.exit(r.status ?? 1);
