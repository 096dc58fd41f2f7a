// Any valid ONNX model must survive load → save: the parts Whittle computes with and the parts it
// only carries (string tensors, sequences, doc strings, functions, training info).
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { create, equals, fromBinary, toBinary } from '@bufbuild/protobuf';
import { AttributeProto_AttributeType as AT, ModelProtoSchema, TensorProtoSchema } from './proto/onnx_pb.js';
import type { ModelProto } from './proto/onnx_pb.js';
import { WhittleError } from './errors.js';
import { Graph, makeModel } from './graph.js';
import { loadModelFile, saveModel } from './io.js';
import { decodeModel, decodeTensor, encodeModel } from './onnx.js';
import { inferShapes } from './shape.js';
import { Tensor } from './tensor.js';
import { validateGraph } from './validate.js';

const tensorType = (elemType: number, dims: (number | string)[] | undefined) => ({
  value: {
    case: 'tensorType' as const,
    value: {
      elemType,
      ...(dims === undefined
        ? {}
        : {
            shape: {
              dim: dims.map((d) => ({
                value: typeof d === 'number' ? { case: 'dimValue' as const, value: BigInt(d) } : { case: 'dimParam' as const, value: d },
              })),
            },
          }),
    },
  },
});

/** A model with everything Whittle does not compute with, built as ONNX writes it. */
function foreignModel(): ModelProto {
  return create(ModelProtoSchema, {
    irVersion: 9n,
    producerName: 'test',
    docString: 'a model with every kind of part',
    domain: 'org.example',
    modelVersion: 3n,
    opsetImport: [
      { domain: '', version: 17n },
      { domain: 'com.microsoft', version: 1n },
      { domain: 'custom.local', version: 1n },
    ],
    metadataProps: [{ key: 'author', value: 'me' }],
    graph: {
      name: 'g',
      docString: 'graph doc',
      node: [
        { name: 'hs', opType: 'HardSigmoid', input: ['x'], output: ['h'], attribute: [{ name: 'alpha', type: AT.FLOAT, f: 0.25 }], docString: 'node doc' },
        { name: 'gelu', opType: 'Gelu', domain: 'com.microsoft', input: ['h'], output: ['y'] },
        { name: 'local', opType: 'Twice', domain: 'custom.local', input: ['y'], output: ['z'] },
        { name: 'seq', opType: 'SequenceConstruct', input: ['z', 'z'], output: ['s'] },
        {
          name: 'words',
          opType: 'Constant',
          output: ['w'],
          attribute: [
            { name: 'value', type: AT.TENSOR, t: { dims: [2n], dataType: 8, stringData: [new TextEncoder().encode('a'), new TextEncoder().encode('b')] } },
          ],
        },
        { name: 'wid', opType: 'Identity', input: ['names'], output: ['n'] },
      ],
      initializer: [
        { name: 'scale', dims: [2n], dataType: 10, rawData: new Uint8Array([0, 60, 0, 64]) },
        { name: 'names', dims: [1n], dataType: 8, stringData: [new TextEncoder().encode('x')] },
      ],
      input: [{ name: 'x', type: tensorType(1, ['N', 2]), docString: 'input doc' }],
      output: [
        { name: 'z', type: tensorType(1, undefined) },
        { name: 's', type: { value: { case: 'sequenceType', value: { elemType: tensorType(1, ['N', 2]) } } } },
        { name: 'w', type: tensorType(8, [2]) },
        { name: 'n', type: tensorType(8, [1]) },
      ],
      valueInfo: [{ name: 'y', type: tensorType(1, ['N', 2]) }],
    },
    functions: [
      {
        name: 'Twice',
        domain: 'custom.local',
        input: ['a'],
        output: ['b'],
        opsetImport: [{ domain: '', version: 17n }],
        node: [{ opType: 'Add', input: ['a', 'a'], output: ['b'] }],
      },
    ],
    trainingInfo: [{ initialization: { name: 'init' } }],
  });
}

test('a model of unknown ops, string tensors, sequences, functions and doc strings round-trips byte for byte', () => {
  const bytes = toBinary(ModelProtoSchema, foreignModel());
  const model = decodeModel(bytes, 'foreign.onnx');
  validateGraph(model.graph);
  assert.equal(model.graph.outputs[0]?.unranked, true);
  assert.equal(model.graph.outputs[1]?.type, 'seq(tensor(float))');
  assert.equal(model.graph.outputs[2]?.type, 'tensor(string)');
  assert.deepEqual([...model.graph.opaqueInitializers.keys()], ['names']);
  assert.equal(model.graph.nodes[4]?.attributes['value']?.type, 'opaque');
  assert.deepEqual([...(model.graph.initializers.get('scale')?.data ?? [])], [0x3c00, 0x4000]);
  const out = encodeModel(model);
  assert.ok(equals(ModelProtoSchema, fromBinary(ModelProtoSchema, out), foreignModel()), 'same message');
  assert.deepEqual(Buffer.from(out), Buffer.from(bytes));
});

test('ops without a shape rule: shapes come from the file, else UNSUPPORTED_OP names the node (or are skipped)', () => {
  const model = decodeModel(toBinary(ModelProtoSchema, foreignModel()));
  // HardSigmoid "h" has no rule and no recorded shape; Gelu's output "y" is recorded in value_info.
  assert.throws(
    () => inferShapes(model.graph.clone(), new Map()),
    (e: unknown) => e instanceof WhittleError && e.code === 'UNSUPPORTED_OP' && e.message.includes('HardSigmoid "hs"'),
  );
  const shapes = inferShapes(model.graph.clone(), new Map(), undefined, { unknown: 'skip' });
  assert.equal(shapes.has('h'), false);
  assert.deepEqual(shapes.get('y'), { dtype: 'float32', shape: ['N', 2] });
  const told = inferShapes(model.graph.clone(), new Map(), undefined, {
    known: new Map([
      ['h', { dtype: 'float32', shape: ['N', 2] }],
      ['z', { dtype: 'float32', shape: ['N', 2] }],
      ['s', { dtype: 'float32', shape: [] }],
      ['w', { dtype: 'float32', shape: [] }],
      ['n', { dtype: 'float32', shape: [] }],
    ]),
  });
  assert.deepEqual(told.get('h')?.shape, ['N', 2]);
});

test('every typed TensorProto field reads to the same values as raw_data', () => {
  const cases: [number, Record<string, unknown>, number[]][] = [
    [10, { int32Data: [0x3c00, 0xc000] }, [0x3c00, 0xc000]], // float16 bit patterns
    [16, { int32Data: [0x3f80] }, [0x3f80]], // bfloat16
    [5, { int32Data: [-3, 7] }, [-3, 7]], // int16
    [4, { int32Data: [65535, 1] }, [65535, 1]], // uint16
    [3, { int32Data: [-128, 5] }, [-128, 5]], // int8
    [9, { int32Data: [1, 0] }, [1, 0]], // bool
    [12, { uint64Data: [4294967295n, 2n] }, [4294967295, 2]], // uint32
    [11, { doubleData: [0.1, -2] }, [0.1, -2]],
  ];
  for (const [dataType, field, want] of cases) {
    const t = decodeTensor(toBinary(TensorProtoSchema, create(TensorProtoSchema, { dims: [BigInt(want.length)], dataType, ...field })));
    assert.deepEqual(Array.from(t.data as ArrayLike<number>, Number), want, `type ${dataType}`);
  }
  const u64 = decodeTensor(toBinary(TensorProtoSchema, create(TensorProtoSchema, { dims: [1n], dataType: 13, uint64Data: [2n ** 63n + 5n] })));
  assert.equal(u64.dtype, 'uint64');
  assert.equal(u64.data[0], 2n ** 63n + 5n);
});

function smallModel(): ReturnType<typeof makeModel> {
  const g = new Graph('ext');
  g.inputs.push({ name: 'x', dtype: 'float32', shape: [1, 600] });
  g.initializers.set(
    'w',
    Tensor.fromArray(
      'float32',
      [600],
      Array.from({ length: 600 }, (_, i) => i / 7),
    ),
  );
  g.initializers.set('tiny', Tensor.fromArray('float32', [1], [2]));
  g.nodes.push({ name: 'add', opType: 'Add', domain: '', inputs: ['x', 'w'], outputs: ['y'], attributes: {} });
  g.nodes.push({ name: 'mul', opType: 'Mul', domain: '', inputs: ['y', 'tiny'], outputs: ['z'], attributes: {} });
  g.outputs.push({ name: 'z', dtype: 'float32', shape: [1, 600] });
  return makeModel(g);
}

test('external data: written beside the model, read back; a location outside the folder is refused', () => {
  const dir = mkdtempSync(join(tmpdir(), 'whittle-ext-'));
  try {
    const path = join(dir, 'm.onnx');
    saveModel(smallModel(), path, { externalData: 'always' });
    const written = fromBinary(ModelProtoSchema, new Uint8Array(readFileSync(path)));
    const w = written.graph?.initializer.find((t) => t.name === 'w');
    assert.equal(w?.dataLocation, 1, 'the 2,400-byte weight is external');
    assert.equal(written.graph?.initializer.find((t) => t.name === 'tiny')?.dataLocation, 0, 'a 4-byte one stays inside');
    const back = loadModelFile(path);
    assert.deepEqual(back.graph.initializers.get('w')?.data, smallModel().graph.initializers.get('w')?.data);

    // The same file with its location pointing elsewhere.
    const escapeAttempt = (location: string, name: string): void => {
      const p = fromBinary(ModelProtoSchema, new Uint8Array(readFileSync(path)));
      for (const e of p.graph?.initializer.find((t) => t.name === 'w')?.externalData ?? []) if (e.key === 'location') e.value = location;
      writeFileSync(join(dir, name), toBinary(ModelProtoSchema, p));
      assert.throws(
        () => loadModelFile(join(dir, name)),
        (e: unknown) => e instanceof WhittleError && e.code === 'BAD_ONNX' && e.message.includes('"w"'),
        location,
      );
    };
    mkdirSync(join(dir, 'sub'));
    writeFileSync(join(dir, 'outside.data'), new Uint8Array(4096 + 2400));
    escapeAttempt('../outside.data', 'sub/up.onnx');
    escapeAttempt(join(dir, 'outside.data'), 'abs.onnx');
    symlinkSync(join(dir, 'outside.data'), join(dir, 'sub', 'link.data'));
    const p = fromBinary(ModelProtoSchema, new Uint8Array(readFileSync(path)));
    for (const e of p.graph?.initializer.find((t) => t.name === 'w')?.externalData ?? []) if (e.key === 'location') e.value = 'link.data';
    writeFileSync(join(dir, 'sub', 'link.onnx'), toBinary(ModelProtoSchema, p));
    assert.throws(
      () => loadModelFile(join(dir, 'sub', 'link.onnx')),
      (e: unknown) => e instanceof WhittleError && e.message.includes('"w"') && e.message.includes('link'),
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
