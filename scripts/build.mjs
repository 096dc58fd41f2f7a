#!/usr/bin/env node
// Compiles the TypeScript and marks the CLI executable: tsc writes files without the execute bit,
// and `npx whittle` runs the package's own bin file directly, so without it a fresh checkout
// answers "Permission denied".
import { execFileSync } from 'node:child_process';
import { chmodSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
execFileSync(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', root], { stdio: 'inherit' });
chmodSync(join(root, 'dist/src/cli/main.js'), 0o755);
