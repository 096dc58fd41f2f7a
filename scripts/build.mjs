#!/usr/bin/env node
// Compiles the TypeScript and marks the CLI executable: tsc writes files without the execute bit,
// and `npx whittle` runs the package's own bin file directly, so without it a fresh checkout
// answers "Permission denied". Then the browser page (src/web): type-checked with the DOM
// library, bundled by esbuild into dist/web/ for `whittle export --web` to copy.
import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const tsc = join(root, 'node_modules/typescript/bin/tsc');
execFileSync(process.execPath, [tsc, '-p', root], { stdio: 'inherit' });
chmodSync(join(root, 'dist/src/cli/main.js'), 0o755);

execFileSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.web.json')], { stdio: 'inherit' });
const { build } = await import('esbuild');
mkdirSync(join(root, 'dist/web'), { recursive: true });
// platform 'browser': a Node built-in anywhere in the page's imports fails the build.
await build({
  entryPoints: [join(root, 'src/web/page.ts')],
  outfile: join(root, 'dist/web/whittle-web.js'),
  bundle: true,
  format: 'iife',
  platform: 'browser',
  target: ['chrome103', 'firefox113', 'safari16.4'],
  minify: true,
  legalComments: 'none',
  logLevel: 'warning',
});
copyFileSync(join(root, 'src/web/index.html'), join(root, 'dist/web/index.html'));
