import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { modelFingerprint } from './fingerprint.js';
import { attr, Graph, makeModel } from './graph.js';
import type { Model } from './graph.js';
import { decodeModel, encodeModel } from './onnx.js';
import { Tensor } from './tensor.js';

function small(): Model {
  const g = new Graph('t');
  g.inputs.push({ name: 'x', dtype: 'float32', shape: ['N', 3] });
  g.initializers.set('w', Tensor.fromArray('float32', [2, 3], [1, 2, 3, 4, 5, 6]));
  g.nodes.push({ name: 'fc', opType: 'Gemm', domain: '', inputs: ['x', 'w'], outputs: ['y'], attributes: { transB: attr.int(1), alpha: attr.float(1) } });
  g.nodes.push({ name: 'act', opType: 'Relu', domain: '', inputs: ['y'], outputs: ['z'], attributes: {} });
  g.outputs.push({ name: 'z', dtype: 'float32', shape: ['N', 2] });
  return makeModel(g, { note: 'a' });
}

// Each edit changes what encodeModel writes; the fingerprint must see every one of them.
const edits: [string, (m: Model) => void][] = [
  ['a weight value, in place', (m) => ((m.graph.initializers.get('w')?.data as Float32Array)[5] = 7)],
  ['an int attribute', (m) => (m.graph.nodes[0]!.attributes['transB'] = attr.int(0))],
  ['a float attribute, 0 to -0', (m) => (m.graph.nodes[0]!.attributes['alpha'] = attr.float(-0))],
  ['an attribute kind (int → float)', (m) => (m.graph.nodes[0]!.attributes['transB'] = attr.float(1))],
  ['an op type', (m) => (m.graph.nodes[1]!.opType = 'Sigmoid')],
  ['a node name', (m) => (m.graph.nodes[1]!.name = 'act2')],
  ['an input name split differently', (m) => (m.graph.nodes[0]!.inputs = ['x', 'w', ''])],
  ['a node order', (m) => m.graph.nodes.reverse()],
  ['a graph output shape', (m) => (m.graph.outputs[0]!.shape = ['N', 3])],
  ['an input dtype', (m) => (m.graph.inputs[0]!.dtype = 'float64')],
  ['a value info', (m) => m.graph.valueInfo.set('y', { name: 'y', dtype: 'float32', shape: ['N', 2] })],
  ['the opset', (m) => (m.opsetImports[0]!.version = 13)],
  ['a weight shape', (m) => m.graph.initializers.set('w', Tensor.fromArray('float32', [3, 2], [1, 2, 3, 4, 5, 6]))],
];

test('modelFingerprint: equal models hash equal; every edit that changes the file changes the hash', () => {
  const base = modelFingerprint(small());
  assert.equal(modelFingerprint(small()), base);
  for (const [what, edit] of edits) {
    const m = small();
    edit(m);
    assert.notDeepEqual(encodeModel(m), encodeModel(small()), `${what}: the edit changes the file`);
    assert.notEqual(modelFingerprint(m), base, `${what}: the fingerprint changes`);
    assert.notEqual(modelFingerprint(m, { computeOnly: true }), modelFingerprint(small(), { computeOnly: true }), `${what}: computeOnly too`);
  }
});

test('modelFingerprint computeOnly: metadata and producer do not count; without it they do', () => {
  const a = small();
  const b = { ...small(), metadata: { note: 'b', 'whittle.normalize': 'x/255' }, producerName: 'other' };
  assert.notEqual(modelFingerprint(a), modelFingerprint(b));
  assert.equal(modelFingerprint(a, { computeOnly: true }), modelFingerprint(b, { computeOnly: true }));
});

test('modelFingerprint: a model read back from its own bytes hashes like the original (corpus file with subgraphs)', () => {
  const bytes = readFileSync(new URL('../../../test/fixtures/corpus/loop.opset17.onnx', import.meta.url));
  const m = decodeModel(bytes);
  const again = decodeModel(encodeModel(m));
  assert.equal(modelFingerprint(again), modelFingerprint(m));
  // A change inside the Loop body is seen.
  const body = m.graph.nodes.flatMap((n) => Object.values(n.attributes)).find((a) => a.type === 'graph');
  assert.ok(body?.type === 'graph', 'the fixture has a subgraph');
  body.value.nodes[0]!.name += '_x';
  assert.notEqual(modelFingerprint(m), modelFingerprint(again));
});
