// The folder table of ARCHITECTURE.md, enforced: every relative import in src/ (tests excepted:
// they may reach any layer to build fixtures) must go from a folder to one it is allowed to know.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const SRC = fileURLToPath(new URL('../../src/', import.meta.url));

/** What each folder may import (besides itself). `(root)` is src/index.ts and src/load.ts. */
export const ALLOWED: Readonly<Record<string, readonly string[]>> = {
  ir: [],
  ops: ['ir'],
  autodiff: ['ir', 'ops'],
  runtime: ['ir'],
  nn: ['ir'],
  data: ['ir'],
  train: ['ir', 'ops', 'autodiff', 'runtime', 'data'],
  graph: ['ir', 'ops'],
  export: ['ir', 'ops'],
  compress: ['ir', 'ops', 'autodiff', 'runtime', 'nn', 'data', 'train', 'graph', 'export'],
  pipeline: ['ir', 'ops', 'autodiff', 'runtime', 'nn', 'data', 'train', 'graph', 'export', 'compress'],
  search: ['ir', 'ops', 'autodiff', 'runtime', 'nn', 'data', 'train', 'graph', 'export', 'compress', 'pipeline'],
  recipe: ['ir', 'ops', 'autodiff', 'runtime', 'nn', 'data', 'train', 'graph', 'export', 'compress', 'pipeline', 'search'],
  report: ['ir'],
  // The browser build: the container decoder only (no Node built-ins come with it).
  web: ['compress/codec'],
  '(root)': ['ir', 'ops', 'autodiff', 'runtime', 'nn', 'data', 'train', 'graph', 'export', 'compress', 'pipeline', 'search', 'recipe', 'report'],
  cli: ['(root)', 'ir', 'ops', 'autodiff', 'runtime', 'nn', 'data', 'train', 'graph', 'export', 'compress', 'pipeline', 'search', 'recipe', 'report', 'web'],
};

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...sourceFiles(p));
    else if (name.endsWith('.ts') && !name.endsWith('.test.ts') && !name.endsWith('.d.ts')) out.push(p);
  }
  return out;
}

/** 'compress/quantize/static.ts' → 'compress'; 'index.ts' → '(root)'. */
function folderOf(path: string): string {
  const parts = relative(SRC, path).split('/');
  return parts.length === 1 ? '(root)' : (parts[0] as string);
}

/** Whether `to` (a path under src/) is inside one of the allowed folders or sub-folders. */
function allowed(from: string, to: string): boolean {
  const target = relative(SRC, to);
  const rules = ALLOWED[from];
  if (rules === undefined) return false;
  return rules.some((r) => (r === '(root)' ? !target.includes('/') : target === r || target.startsWith(`${r}/`)));
}

/** Every relative import or re-export (static and dynamic) of a file, with its line. */
export function relativeImports(text: string): { spec: string; line: number }[] {
  const out: { spec: string; line: number }[] = [];
  const re = /(?:\bfrom\s*|\bimport\s*\(?\s*)['"](\.{1,2}\/[^'"]+)['"]/g;
  for (const m of text.matchAll(re)) out.push({ spec: m[1] as string, line: text.slice(0, m.index).split('\n').length });
  return out;
}

test('the parser finds static imports, re-exports, type imports and dynamic imports', () => {
  const text =
    "import { a } from '../ir/graph.js';\nexport * from './x.js';\nimport type { T } from \"../ops/index.js\";\nconst m = await import('../data/npy.js');\nimport 'node:fs';";
  assert.deepEqual(
    relativeImports(text).map((i) => [i.spec, i.line]),
    [
      ['../ir/graph.js', 1],
      ['./x.js', 2],
      ['../ops/index.js', 3],
      ['../data/npy.js', 4],
    ],
  );
});

test('the allowed edges form no cycle (no two folders know each other, even through others)', () => {
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = (f: string, path: string[]): void => {
    if (state.get(f) === 'done') return;
    assert.notEqual(state.get(f), 'visiting', `cycle in the folder table: ${[...path, f].join(' → ')}`);
    state.set(f, 'visiting');
    for (const to of ALLOWED[f] ?? []) visit(to.split('/')[0] as string, [...path, f]);
    state.set(f, 'done');
  };
  for (const f of Object.keys(ALLOWED)) visit(f, []);
});

test('every import in src/ follows the folder table', () => {
  const files = sourceFiles(SRC);
  assert.ok(files.length > 100, `expected the whole source tree under ${SRC}, found ${files.length} files`);
  const wrong: string[] = [];
  for (const file of files) {
    const from = folderOf(file);
    if (ALLOWED[from] === undefined) {
      wrong.push(`${relative(SRC, file)}: folder "${from}" is not in the table; add it to ARCHITECTURE.md and ALLOWED`);
      continue;
    }
    for (const { spec, line } of relativeImports(readFileSync(file, 'utf8'))) {
      const to = resolve(dirname(file), spec);
      if (folderOf(to) === from) continue;
      if (!allowed(from, to))
        wrong.push(`src/${relative(SRC, file)}:${line} imports ${spec}: ${from}/ may import only ${ALLOWED[from]?.join(', ') || 'nothing'}`);
    }
  }
  assert.deepEqual(wrong, [], `imports against the folder table (see ARCHITECTURE.md):\n${wrong.join('\n')}`);
});
