// Models exported by real PyTorch (test/fixtures/export_fixtures.py, torch 1.13, opsets 13 and
// 17): Whittle must read them losslessly, fold their shape subgraphs, and run them to PyTorch's
// own logits.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { fromBinary } from '@bufbuild/protobuf';
import { ModelProtoSchema } from './proto/onnx_pb.js';
import { SHAPE_RULES } from '../ops/index.js';
import { Session } from '../runtime/session.js';
import { foldConstants } from './fold.js';
import type { Graph, Model } from './graph.js';
import { decodeModel, encodeModel } from './onnx.js';
import { inferShapes } from './shape.js';
import { Tensor } from './tensor.js';
import { validateGraph } from './validate.js';

const FIXTURES = new URL('../../../test/fixtures/', import.meta.url);
const MODELS = ['mlp', 'cnn'] as const;
const OPSETS = [13, 17] as const;
const TOLERANCE = 1e-4;

interface Reference {
  input: Tensor;
  output: Tensor;
}

function reference(model: string): Reference {
  const io = JSON.parse(readFileSync(new URL(`${model}.io.json`, FIXTURES), 'utf8')) as Record<'input' | 'output', { dims: number[]; data: number[] }>;
  return { input: Tensor.fromArray('float32', io.input.dims, io.input.data), output: Tensor.fromArray('float32', io.output.dims, io.output.data) };
}

function fixture(model: string, opset: number): { bytes: Uint8Array; model: Model } {
  const bytes = new Uint8Array(readFileSync(new URL(`${model}.opset${opset}.onnx`, FIXTURES)));
  return { bytes, model: decodeModel(bytes, `${model}.opset${opset}.onnx`) };
}

function bytesOf(t: Tensor): Uint8Array {
  return new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
}

/** Everything the IR holds about a graph, in a form deepEqual compares byte for byte. */
function snapshot(g: Graph): unknown {
  return {
    name: g.name,
    nodes: g.nodes,
    inputs: g.inputs,
    outputs: g.outputs,
    initializers: [...g.initializers].map(([k, t]) => [k, t.dtype, t.dims, [...bytesOf(t)]]),
    valueInfo: [...g.valueInfo],
  };
}

async function maxError(model: Model | Uint8Array, ref: Reference): Promise<number> {
  const s = await Session.create(model, { threads: 1 });
  try {
    const { logits } = await s.run({ input: ref.input });
    assert.deepEqual(logits?.dims, ref.output.dims);
    return Math.max(...Array.from(logits?.data as Float32Array, (v, i) => Math.abs(v - (ref.output.data[i] as number))));
  } finally {
    await s.release();
  }
}

for (const name of MODELS) {
  for (const opset of OPSETS) {
    const label = `${name} opset ${opset}`;

    test(`${label}: decode reads every node, attribute and initializer byte of the PyTorch file`, () => {
      const { bytes, model } = fixture(name, opset);
      const proto = fromBinary(ModelProtoSchema, bytes);
      assert.deepEqual(model.opsetImports, [{ domain: '', version: opset }]);
      assert.equal(model.producerName, 'pytorch');
      const g = proto.graph;
      assert.ok(g !== undefined);
      assert.deepEqual(
        model.graph.nodes.map((n) => [n.opType, n.inputs, n.outputs, Object.keys(n.attributes)]),
        g.node.map((n) => [n.opType, n.input, n.output, n.attribute.map((a) => a.name)]),
      );
      assert.equal(model.graph.initializers.size, g.initializer.length);
      for (const t of g.initializer) {
        const mine = model.graph.initializers.get(t.name);
        assert.ok(mine !== undefined, t.name);
        assert.deepEqual(mine.dims, t.dims.map(Number), t.name);
        assert.deepEqual(bytesOf(mine), t.rawData, `${t.name} bytes`);
      }
    });

    test(`${label}: decode → encode → decode is lossless`, () => {
      const { model } = fixture(name, opset);
      const once = encodeModel(model);
      const back = decodeModel(once);
      assert.deepEqual(snapshot(back.graph), snapshot(model.graph));
      assert.deepEqual({ ...back, graph: undefined }, { ...model, graph: undefined });
      assert.deepEqual(encodeModel(back), once);
    });

    test(`${label}: folding leaves no shape subgraph and a valid graph`, (t) => {
      const { model } = fixture(name, opset);
      const folded = foldConstants(model.graph, SHAPE_RULES);
      const left = folded.nodes.map((n) => n.opType).filter((op) => ['Shape', 'Gather', 'Unsqueeze', 'Concat', 'Constant', 'Dropout'].includes(op));
      assert.deepEqual(left, []);
      assert.deepEqual(folded.outputs, model.graph.outputs);
      validateGraph(folded);
      const missing = [...new Set(folded.nodes.map((n) => n.opType))].filter((op) => !SHAPE_RULES.has(op));
      if (missing.length > 0) {
        t.skip(`shape rules still missing in ops/ for ${missing.join(', ')}`);
        return;
      }
      validateGraph(folded, SHAPE_RULES);
      const known = inferShapes(folded.clone(), SHAPE_RULES);
      const logits = known.get('logits');
      assert.equal(logits?.dtype, 'float32');
      assert.equal(logits?.shape.length, 2);
      assert.equal(logits?.shape[1], 10);
    });

    test(`${label}: onnxruntime reproduces PyTorch's logits, before and after folding`, async () => {
      const { bytes, model } = fixture(name, opset);
      const ref = reference(name);
      assert.ok((await maxError(bytes, ref)) <= TOLERANCE, 'the file as PyTorch wrote it');
      assert.ok((await maxError(model, ref)) <= TOLERANCE, 're-encoded by Whittle');
      const folded: Model = { ...model, graph: foldConstants(model.graph, SHAPE_RULES) };
      const error = await maxError(decodeModel(encodeModel(folded)), ref);
      assert.ok(error <= TOLERANCE, `folded: max |Δ| = ${error}`);
    });
  }
}

test('the CNN fixture really exercises the shape subgraph that folding removes', () => {
  const { model } = fixture('cnn', 17);
  const ops = model.graph.nodes.map((n) => n.opType);
  for (const op of ['Shape', 'Gather', 'Unsqueeze', 'Concat', 'Reshape', 'Conv', 'Add', 'MaxPool', 'GlobalAveragePool']) assert.ok(ops.includes(op), op);
  const folded = foldConstants(model.graph, SHAPE_RULES);
  const reshape = folded.nodes.find((n) => n.opType === 'Reshape');
  assert.deepEqual(folded.initializers.get(reshape?.inputs[1] ?? '')?.toNumbers(), [0, -1]);
});
