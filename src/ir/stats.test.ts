import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SHAPE_RULES } from '../ops/index.js';
import { attr, Graph, makeModel } from './graph.js';
import type { Node } from './graph.js';
import { modelStats, parameterStats } from './stats.js';
import { Tensor } from './tensor.js';

const node = (name: string, opType: string, inputs: string[], outputs: string[], attributes: Node['attributes'] = {}): Node => ({
  name,
  opType,
  domain: '',
  inputs,
  outputs,
  attributes,
});
const weights = (rows: number, cols: number): Tensor =>
  Tensor.fromArray(
    'float32',
    [rows, cols],
    Array.from({ length: rows * cols }, (_, i) => (i % 7) - 3),
  );

test('If: the costlier branch is counted, and the output says so', () => {
  const g = new Graph('if');
  g.inputs.push({ name: 'x', dtype: 'float32', shape: [1, 16] }, { name: 'cond', dtype: 'bool', shape: [] });
  g.initializers.set('w1', weights(8, 16));
  g.initializers.set('w2', weights(32, 16));
  const then = new Graph('then');
  then.nodes.push(node('small', 'Gemm', ['x', 'w1'], ['a'], { transB: attr.int(1) }));
  then.outputs.push({ name: 'a', dtype: 'float32', shape: [] });
  const other = new Graph('else');
  other.nodes.push(node('large', 'Gemm', ['x', 'w2'], ['b0'], { transB: attr.int(1) }), node('act', 'Relu', ['b0'], ['b']));
  other.outputs.push({ name: 'b', dtype: 'float32', shape: [] });
  g.nodes.push(node('choose', 'If', ['cond'], ['y'], { then_branch: attr.graph(then), else_branch: attr.graph(other) }));
  g.outputs.push({ name: 'y', dtype: 'float32', shape: [] });
  const s = modelStats(makeModel(g), SHAPE_RULES);
  // else: 32·16 multiply-adds (2 FLOPs each) + 32 ReLUs; then: 8·16.
  assert.equal(s.macs, 32 * 16);
  assert.equal(s.flops, 2 * 32 * 16 + 32);
  assert.equal(s.unknownShapeNodes, 0);
  assert.equal(s.flopAssumptions.length, 1);
  assert.match(s.flopAssumptions[0] ?? '', /If "choose": the costlier branch, else_branch \(0\.00 MFLOPs; then_branch 0\.00 MFLOPs\)/);
  assert.equal(s.ops['Gemm'], 2, 'ops inside the branches are counted');
});

/** A Loop whose body multiplies the carried [1, 8] state by an 8×8 weight; M given or read from an input. */
function loopModel(tripCount: 'constant' | 'input' | 'while'): ReturnType<typeof makeModel> {
  const g = new Graph('loop');
  g.inputs.push({ name: 'h0', dtype: 'float32', shape: [1, 8] });
  if (tripCount === 'input') g.inputs.push({ name: 'M', dtype: 'int64', shape: [] });
  else g.initializers.set('M', Tensor.fromArray('int64', [], [tripCount === 'constant' ? 5n : 9223372036854775807n]));
  g.initializers.set('keep', Tensor.fromArray('bool', [], [1]));
  g.initializers.set('w', weights(8, 8));
  const body = new Graph('body');
  // Exporters name a carried value's dims (h_dim_0, h_dim_1): the Loop's input tells them.
  body.inputs.push(
    { name: 'i', dtype: 'int64', shape: [] },
    { name: 'c', dtype: 'bool', shape: [] },
    { name: 'h', dtype: 'float32', shape: ['h_dim_0', 'h_dim_1'] },
  );
  body.nodes.push(node('step', 'MatMul', ['h', 'w'], ['h2']), node('go', 'Identity', ['c'], ['c2']));
  body.outputs.push({ name: 'c2', dtype: 'bool', shape: [] }, { name: 'h2', dtype: 'float32', shape: [] });
  g.nodes.push(node('repeat', 'Loop', ['M', 'keep', 'h0'], ['y'], { body: attr.graph(body) }));
  g.outputs.push({ name: 'y', dtype: 'float32', shape: [1, 8] });
  return makeModel(g);
}

test('Loop: the body × a constant trip count; one iteration, said so, when M is unknown or a while-loop bound', () => {
  const s = modelStats(loopModel('constant'), SHAPE_RULES);
  assert.equal(s.macs, 5 * 8 * 8);
  assert.equal(s.flops, 2 * 5 * 8 * 8);
  assert.match(s.flopAssumptions[0] ?? '', /Loop "repeat": body × 5 iterations \(trip count M; cond may end it sooner\)/);
  for (const kind of ['input', 'while'] as const) {
    const u = modelStats(loopModel(kind), SHAPE_RULES);
    assert.equal(u.macs, 8 * 8, kind);
    assert.match(
      u.flopAssumptions[0] ?? '',
      kind === 'input' ? /trip count unknown, one iteration counted/ : /M = 9223372036854776000 \(a while-loop bound\), one iteration counted/,
    );
  }
});

test("a body's own weights count as parameters", () => {
  const g = new Graph('inner');
  g.inputs.push({ name: 'x', dtype: 'float32', shape: [1, 4] }, { name: 'cond', dtype: 'bool', shape: [] });
  const then = new Graph('then');
  then.initializers.set('wt', weights(4, 4));
  then.nodes.push(node('mm', 'MatMul', ['x', 'wt'], ['a']));
  then.outputs.push({ name: 'a', dtype: 'float32', shape: [] });
  const other = new Graph('else');
  other.nodes.push(node('id', 'Identity', ['x'], ['b']));
  other.outputs.push({ name: 'b', dtype: 'float32', shape: [] });
  g.nodes.push(node('choose', 'If', ['cond'], ['y'], { then_branch: attr.graph(then), else_branch: attr.graph(other) }));
  g.outputs.push({ name: 'y', dtype: 'float32', shape: [1, 4] });
  const s = modelStats(makeModel(g), SHAPE_RULES);
  assert.equal(s.params, 16);
  assert.equal(s.parameterBytes, 64);
  assert.equal(s.macs, 16);
});

test("parameterStats gives modelStats' parameter counts without the shape pass: float, int8-coded and zero weights", () => {
  const g = new Graph('p');
  g.inputs.push({ name: 'x', dtype: 'float32', shape: ['N', 3] });
  g.initializers.set('w', Tensor.fromArray('float32', [3, 2], [0, 1, 2, 0, 0, 3]));
  g.initializers.set('q', Tensor.fromArray('int8', [2, 2], [5, 5, 1, 5]));
  g.initializers.set('s', Tensor.scalar('float32', 0.1));
  g.initializers.set('z', Tensor.fromArray('int8', [], [5]));
  g.nodes.push(node('deq', 'DequantizeLinear', ['q', 's', 'z'], ['qf']), node('mm', 'MatMul', ['x', 'w'], ['h']), node('mm2', 'MatMul', ['h', 'qf'], ['y']));
  g.outputs.push({ name: 'y', dtype: 'float32', shape: ['N', 2] });
  const m = makeModel(g);
  const full = modelStats(m, SHAPE_RULES);
  // 6 float weights (3 nonzero) + the scale; 4 int8 codes, 1 off its zero point.
  assert.deepEqual(parameterStats(m), { params: 11, nonzeroParams: 5, parameterBytes: 33 });
  assert.deepEqual(parameterStats(m), { params: full.params, nonzeroParams: full.nonzeroParams, parameterBytes: full.parameterBytes });
});
