#!/usr/bin/env node
// Regenerates src/ir/proto/onnx_pb.ts from the official onnx.proto beside it (ONNX's own file,
// copied unchanged from the onnx repository's onnx/onnx.proto) with protoc-gen-es, run by buf.
// Both are devDependencies, so `npm ci && node scripts/gen-proto.mjs` needs nothing else. The
// generated file is committed: building Whittle never needs this script.
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const dir = join(root, 'src/ir/proto');
const template = {
  version: 'v2',
  plugins: [{ local: join(root, 'node_modules/.bin/protoc-gen-es'), out: '.', opt: ['target=ts', 'import_extension=js'] }],
};
execFileSync(join(root, 'node_modules/.bin/buf'), ['generate', '--template', JSON.stringify(template), dir, '-o', dir], { stdio: 'inherit', cwd: root });
console.log('wrote src/ir/proto/onnx_pb.ts');
