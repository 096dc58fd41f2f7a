// `whittle info` and `whittle eval` on a model of ops Whittle has no rules for (HardSigmoid,
// com.microsoft Gelu), a sequence output and a string constant: info reports it completely
// (shapes from onnxruntime), eval refuses it with one line instead of crashing.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { create, toBinary } from '@bufbuild/protobuf';
import { AttributeProto_AttributeType as AT, ModelProtoSchema } from '../../src/ir/proto/onnx_pb.js';
import { tempDir, whittle } from './cli.js';

const dim = (d: number | string) => ({
  value: typeof d === 'number' ? { case: 'dimValue' as const, value: BigInt(d) } : { case: 'dimParam' as const, value: d },
});
const tensor = (elemType: number, dims: (number | string)[]) => ({
  value: { case: 'tensorType' as const, value: { elemType, shape: { dim: dims.map(dim) } } },
});

function modelBytes(): Uint8Array {
  return toBinary(
    ModelProtoSchema,
    create(ModelProtoSchema, {
      irVersion: 8n,
      opsetImport: [{ version: 13n }, { domain: 'com.microsoft', version: 1n }],
      graph: {
        name: 'foreign',
        node: [
          { name: 'hs', opType: 'HardSigmoid', input: ['x'], output: ['h'] },
          { name: 'gelu', opType: 'Gelu', domain: 'com.microsoft', input: ['h'], output: ['g'] },
          { name: 'fc', opType: 'Gemm', input: ['g', 'w'], output: ['y'], attribute: [{ name: 'transB', type: AT.INT, i: 1n }] },
          { name: 'seq', opType: 'SequenceConstruct', input: ['y', 'y'], output: ['s'] },
        ],
        initializer: [{ name: 'w', dims: [3n, 4n], dataType: 1, floatData: Array.from({ length: 12 }, (_, i) => i / 10) }],
        input: [{ name: 'x', type: tensor(1, ['batch', 4]) }],
        output: [
          { name: 'y', type: tensor(1, ['batch', 3]) },
          { name: 's', type: { value: { case: 'sequenceType', value: { elemType: tensor(1, ['batch', 3]) } } } },
        ],
      },
    }),
  );
}

test('info reports a model of unknown ops and a sequence output: signatures, ops, FLOPs', () => {
  const dir = tempDir();
  const path = join(dir, 'foreign.onnx');
  writeFileSync(path, modelBytes());
  const r = whittle(['info', '--model', path, '--json']);
  assert.equal(r.code, 0, r.stderr);
  const j = r.json ?? {};
  assert.deepEqual(j['inputs'], [{ name: 'x', dtype: 'float32', shape: ['batch', 4] }]);
  assert.deepEqual(j['outputs'], [
    { name: 'y', dtype: 'float32', shape: ['batch', 3] },
    { name: 's', dtype: 'float32', shape: [], type: 'seq(tensor(float))' },
  ]);
  assert.deepEqual(j['ops'], { HardSigmoid: 1, 'com.microsoft:Gelu': 1, Gemm: 1, SequenceConstruct: 1 });
  assert.equal(j['params'], 12);
  // Gemm [1,4]·[4,3]: 12 multiply-adds, 2 FLOPs each; Gemm reads Gelu's shape, which only onnxruntime knows.
  assert.equal(j['flops'], 24);
  assert.equal(j['unknownShapeNodes'], 0);
  assert.match(r.stderr, /outputs: y float32\[batch,3\], s seq\(tensor\(float\)\)/);
});

test('eval on a model whose input does not fit the data refuses in one line, no stack trace', () => {
  const dir = tempDir();
  const path = join(dir, 'foreign.onnx');
  writeFileSync(path, modelBytes());
  const r = whittle(['eval', '--model', path, '--eval-limit', '10']);
  assert.notEqual(r.code, 0);
  assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  assert.doesNotMatch(r.stderr, /\n\s+at /);
});
