// The library's loadModel gives the model every CLI command works on: sparse initializers
// densified, constants folded, structure validated.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { loadModel as cliLoadModel } from './cli/load.js';
import { magnitudePrune } from './compress/prune/magnitude.js';
import { encodeSparseOnnx } from './compress/prune/sparse-onnx.js';
import { WhittleError } from './ir/errors.js';
import { attr, Graph, makeModel } from './ir/graph.js';
import { encodeModel } from './ir/onnx.js';
import { Tensor } from './ir/tensor.js';
import { loadModel } from './load.js';
import { createModel } from './nn/index.js';

test('loadModel densifies sparse initializers and gives the CLI the same model', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'whittle-load-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const { model: pruned } = magnitudePrune(createModel('lenet-300-100', { seed: 3 }), { sparsity: 0.9 });
  const file = join(dir, 'sparse.onnx');
  writeFileSync(file, encodeSparseOnnx(pruned));
  const lib = loadModel(file);
  const w = lib.graph.initializers.get('fc1.weight');
  assert.ok(w !== undefined, 'the sparse fc1.weight comes back as a dense initializer');
  assert.deepEqual(w.dims, [300, 784]);
  assert.deepEqual(Array.from(w.data as Float32Array), Array.from(pruned.graph.initializers.get('fc1.weight')?.data as Float32Array));
  assert.deepEqual(encodeModel(cliLoadModel(file).model), encodeModel(lib));
});

test('loadModel folds constant subgraphs and refuses a broken graph', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'whittle-load-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  // y = x + (Constant 2 + Constant 3): the constant branch folds into one initializer.
  const g = new Graph('folds');
  g.inputs.push({ name: 'x', dtype: 'float32', shape: [1] });
  g.outputs.push({ name: 'y', dtype: 'float32', shape: [1] });
  g.nodes.push({
    name: 'a',
    opType: 'Constant',
    domain: '',
    inputs: [],
    outputs: ['a'],
    attributes: { value: attr.tensor(new Tensor('float32', [1], new Float32Array([2]))) },
  });
  g.nodes.push({
    name: 'b',
    opType: 'Constant',
    domain: '',
    inputs: [],
    outputs: ['b'],
    attributes: { value: attr.tensor(new Tensor('float32', [1], new Float32Array([3]))) },
  });
  g.nodes.push({ name: 'c', opType: 'Add', domain: '', inputs: ['a', 'b'], outputs: ['c'], attributes: {} });
  g.nodes.push({ name: 'y', opType: 'Add', domain: '', inputs: ['x', 'c'], outputs: ['y'], attributes: {} });
  const file = join(dir, 'fold.onnx');
  writeFileSync(file, encodeModel(makeModel(g)));
  const folded = loadModel(file);
  assert.deepEqual(
    folded.graph.nodes.map((n) => n.opType),
    ['Add'],
  );
  assert.deepEqual(Array.from(folded.graph.initializers.get('c')?.data as Float32Array), [5]);
  assert.equal(loadModel(file, { fold: false }).graph.nodes.length, 4);
  assert.deepEqual(encodeModel(cliLoadModel(file).model), encodeModel(folded));
  // A node reading a value nothing produces: refused at load, with the value named.
  g.nodes[3] = { name: 'y', opType: 'Add', domain: '', inputs: ['x', 'missing'], outputs: ['y'], attributes: {} };
  const broken = join(dir, 'broken.onnx');
  writeFileSync(broken, encodeModel(makeModel(g)));
  assert.throws(
    () => loadModel(broken),
    (e: unknown) => e instanceof WhittleError && /missing/.test(e.message),
  );
});
