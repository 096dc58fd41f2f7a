// Whittle's version, read from its package.json: trials carry it and workers compare it.
import { readFileSync } from 'node:fs';

function readVersion(): string {
  // dist/src/search/version.js and src/search/version.ts both sit three folders below the root.
  for (const rel of ['../../../package.json', '../../package.json']) {
    try {
      const pkg = JSON.parse(readFileSync(new URL(rel, import.meta.url), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'whittle' && typeof pkg.version === 'string') return pkg.version;
    } catch {
      // not there: try the next candidate
    }
  }
  return '0.0.0';
}

export const WHITTLE_VERSION: string = readVersion();
