// Shape rules of the tensor, data-movement and shape-only ops, through the same inferShapes
// driver that autodiff and import use.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { attr, Graph } from '../ir/graph.js';
import type { Attribute, Dim } from '../ir/graph.js';
import { inferShapes } from '../ir/shape.js';
import type { TypeShape } from '../ir/shape.js';
import { Tensor } from '../ir/tensor.js';
import type { DType } from '../ir/tensor.js';
import { SHAPE_RULES } from './index.js';

interface Spec {
  inputs?: Record<string, [DType, Dim[]]>;
  init?: Record<string, Tensor>;
  /** [opType, inputs, outputs, attributes]; node names are the first output's. */
  nodes: [string, string[], string[], Record<string, Attribute>?][];
}

function infer(spec: Spec): Map<string, TypeShape> {
  const g = new Graph('shapes');
  for (const [name, [dtype, shape]] of Object.entries(spec.inputs ?? {})) g.inputs.push({ name, dtype, shape });
  for (const [name, t] of Object.entries(spec.init ?? {})) g.initializers.set(name, t);
  for (const [opType, inputs, outputs, attributes] of spec.nodes)
    g.nodes.push({ name: outputs[0] ?? opType, opType, domain: '', inputs, outputs, attributes: attributes ?? {} });
  return inferShapes(g, SHAPE_RULES);
}

/** Type and shape of `value` after inferring `spec`. */
function ts(spec: Spec, value: string): TypeShape {
  const r = infer(spec).get(value);
  assert.ok(r, `no shape for ${value}`);
  return r;
}

const i64 = Tensor.int64;
const scalar64 = (v: number): Tensor => Tensor.fromArray('int64', [], [v]);
const shapeError = (node: string): { code: string; message: RegExp } => ({ code: 'SHAPE_MISMATCH', message: new RegExp(`"${node}"`) });

test('Shape gives int64 [rank]; Gather of it gives a scalar or a vector of dims', () => {
  const spec: Spec = {
    inputs: { x: ['float32', ['N', 3, 4]] },
    init: { zero: scalar64(0), last2: i64([1, 2]) },
    nodes: [
      ['Shape', ['x'], ['s']],
      ['Gather', ['s', 'zero'], ['batch']],
      ['Gather', ['s', 'last2'], ['tail']],
      ['Shape', ['x'], ['s1'], { start: attr.int(1), end: attr.int(-1) }],
      ['Size', ['x'], ['n']],
    ],
  };
  const r = infer(spec);
  assert.deepEqual(r.get('s'), { dtype: 'int64', shape: [3] });
  assert.deepEqual(r.get('batch'), { dtype: 'int64', shape: [] });
  assert.deepEqual(r.get('tail'), { dtype: 'int64', shape: [2] });
  assert.deepEqual(r.get('s1'), { dtype: 'int64', shape: [1] });
  assert.deepEqual(r.get('n'), { dtype: 'int64', shape: [] });
});

test('Gather along axis 1 and -1 splices the indices shape into the data shape', () => {
  const spec: Spec = {
    inputs: { x: ['float32', ['N', 5, 6]], idx: ['int64', [2, 3]] },
    nodes: [
      ['Gather', ['x', 'idx'], ['a'], { axis: attr.int(1) }],
      ['Gather', ['x', 'idx'], ['b'], { axis: attr.int(-1) }],
    ],
  };
  const r = infer(spec);
  assert.deepEqual(r.get('a')?.shape, ['N', 2, 3, 6]);
  assert.deepEqual(r.get('b')?.shape, ['N', 5, 2, 3]);
  assert.throws(() => infer({ ...spec, nodes: [['Gather', ['x', 'idx'], ['bad'], { axis: attr.int(3) }]] }), shapeError('bad'));
});

test('Unsqueeze with negative axes counts from the end of the output; Squeeze rejects a dim that is not 1', () => {
  const spec: Spec = {
    inputs: { x: ['float32', [3, 4]] },
    init: { axes: i64([-1, 0]), one: i64([1]) },
    nodes: [
      ['Unsqueeze', ['x', 'axes'], ['u']],
      ['Squeeze', ['u', 'axes'], ['s']],
    ],
  };
  assert.deepEqual(ts(spec, 'u').shape, [1, 3, 4, 1]);
  assert.deepEqual(ts(spec, 's').shape, [3, 4]);
  assert.throws(() => infer({ ...spec, nodes: [['Squeeze', ['x', 'one'], ['sq']]] }), { code: 'SHAPE_MISMATCH', message: /"sq".*axis 1 of \[3, 4\]/ });
  assert.deepEqual(ts({ inputs: { x: ['float32', [1, 'N', 1]] }, nodes: [['Squeeze', ['x'], ['all']]] }, 'all').shape, ['N']);
});

test('Concat of constants adds up the axis; mismatched other dims name the node', () => {
  const spec: Spec = {
    init: { a: new Tensor('float32', [2, 3]), b: new Tensor('float32', [2, 5]), dims: i64([1, 2]), minus1: i64([-1]) },
    nodes: [
      ['Concat', ['a', 'b'], ['ab'], { axis: attr.int(-1) }],
      ['Concat', ['dims', 'minus1'], ['target'], { axis: attr.int(0) }],
    ],
  };
  assert.deepEqual(ts(spec, 'ab'), { dtype: 'float32', shape: [2, 8] });
  assert.deepEqual(ts(spec, 'target'), { dtype: 'int64', shape: [3] });
  assert.throws(() => infer({ ...spec, nodes: [['Concat', ['a', 'b'], ['bad'], { axis: attr.int(0) }]] }), {
    code: 'SHAPE_MISMATCH',
    message: /"bad".*\[2, 5\].*\[2, 3\].*is the axis right/,
  });
  assert.deepEqual(
    ts({ inputs: { a: ['float32', ['N', 3]], b: ['float32', [2, 3]] }, nodes: [['Concat', ['a', 'b'], ['y'], { axis: attr.int(0) }]] }, 'y').shape,
    ['N+2', 3],
  );
});

test('Reshape: 0 copies, -1 infers (cancelling symbolic dims), bad targets are SHAPE_MISMATCH', () => {
  const spec = (target: number[], x: Dim[] = ['N', 1, 28, 28]): Spec => ({
    inputs: { x: ['float32', x] },
    init: { t: i64(target) },
    nodes: [['Reshape', ['x', 't'], ['y']]],
  });
  assert.deepEqual(ts(spec([0, -1]), 'y').shape, ['N', 784]);
  assert.deepEqual(ts(spec([-1, 784]), 'y').shape, ['N', 784]);
  assert.deepEqual(ts(spec([-1, 28, 28]), 'y').shape, ['N', 28, 28]);
  assert.deepEqual(ts(spec([2, -1], [4, 6]), 'y').shape, [2, 12]);
  assert.throws(() => infer(spec([5, -1], [4, 6])), shapeError('y'));
  assert.throws(() => infer(spec([5, 5], [4, 6])), { code: 'SHAPE_MISMATCH', message: /"y".*\[4, 6\] \(24 elements\).*\[5, 5\]/ });
  assert.throws(() => infer(spec([-1, -1], [4, 6])), shapeError('y'));
  // A shape computed in the graph (PyTorch's Shape → Gather → Concat): the rank is still known.
  const computed = ts({ inputs: { x: ['float32', ['N', 3, 4]], s: ['int64', [2]] }, nodes: [['Reshape', ['x', 's'], ['y']]] }, 'y');
  assert.equal(computed.shape.length, 2);
});

test('Flatten, Transpose, Expand, Cast, Where, Clip keep the right dims and types', () => {
  const r = infer({
    inputs: { x: ['float32', ['N', 3, 4]], c: ['bool', [3, 1]], y: ['float32', [4]] },
    init: { target: i64([2, 1, 1]), lo: Tensor.scalar('float32', 0) },
    nodes: [
      ['Flatten', ['x'], ['f1']],
      ['Flatten', ['x'], ['f0'], { axis: attr.int(0) }],
      ['Flatten', ['x'], ['f2'], { axis: attr.int(-1) }],
      ['Transpose', ['x'], ['t'], { perm: attr.ints([0, 2, 1]) }],
      ['Expand', ['y', 'target'], ['e']],
      ['Cast', ['x'], ['h'], { to: attr.int(10) }],
      ['Where', ['c', 'x', 'y'], ['w']],
      ['Clip', ['x', 'lo'], ['cl']],
    ],
  });
  assert.deepEqual(r.get('f1')?.shape, ['N', 12]);
  assert.deepEqual(r.get('f0')?.shape, [1, 'N*12']);
  assert.deepEqual(r.get('f2')?.shape, ['N*3', 4]);
  assert.deepEqual(r.get('t')?.shape, ['N', 4, 3]);
  assert.deepEqual(r.get('e')?.shape, [2, 1, 4]);
  assert.deepEqual(r.get('h'), { dtype: 'float16', shape: ['N', 3, 4] });
  assert.deepEqual(r.get('w'), { dtype: 'float32', shape: ['N', 3, 4] });
  assert.deepEqual(r.get('cl')?.shape, ['N', 3, 4]);
  assert.throws(() => infer({ inputs: { x: ['float32', [2, 3]] }, nodes: [['Transpose', ['x'], ['tt'], { perm: attr.ints([0, 0]) }]] }), shapeError('tt'));
});

test('MatMul broadcasts batch dims and names both shapes when inner dims differ', () => {
  const r = infer({
    inputs: { a: ['float32', ['B', 1, 3, 4]], b: ['float32', [5, 4, 6]], v: ['float32', [4]] },
    nodes: [
      ['MatMul', ['a', 'b'], ['ab']],
      ['MatMul', ['a', 'v'], ['av']],
      ['MatMul', ['v', 'b'], ['vb']],
      ['MatMul', ['v', 'v'], ['vv']],
    ],
  });
  assert.deepEqual(r.get('ab')?.shape, ['B', 5, 3, 6]);
  assert.deepEqual(r.get('av')?.shape, ['B', 1, 3]);
  assert.deepEqual(r.get('vb')?.shape, [5, 6]);
  assert.deepEqual(r.get('vv')?.shape, []);
  assert.throws(() => infer({ inputs: { a: ['float32', [3, 4]], b: ['float32', [5, 6]] }, nodes: [['MatMul', ['a', 'b'], ['mm']]] }), {
    code: 'SHAPE_MISMATCH',
    message: /"mm".*\(4 vs 5\).*\[3, 4\] @ \[5, 6\].*Transpose/,
  });
});

test('Comparisons give bool; Not/And take bool; Mod and Floor keep the type', () => {
  const r = infer({
    inputs: { a: ['float32', [2, 3, 4]], b: ['float32', [3, 1]], k: ['int64', [4]] },
    init: { three: scalar64(3) },
    nodes: [
      ['Greater', ['a', 'b'], ['gt']],
      ['Less', ['a', 'b'], ['lt']],
      ['Equal', ['k', 'three'], ['eq']],
      ['Not', ['gt'], ['ng']],
      ['And', ['gt', 'eq'], ['both']],
      ['Mod', ['k', 'three'], ['m']],
      ['Floor', ['a'], ['fl']],
    ],
  });
  assert.deepEqual(r.get('gt'), { dtype: 'bool', shape: [2, 3, 4] });
  assert.deepEqual(r.get('lt'), { dtype: 'bool', shape: [2, 3, 4] });
  assert.deepEqual(r.get('eq'), { dtype: 'bool', shape: [4] });
  assert.deepEqual(r.get('ng'), { dtype: 'bool', shape: [2, 3, 4] });
  assert.deepEqual(r.get('both'), { dtype: 'bool', shape: [2, 3, 4] });
  assert.deepEqual(r.get('m'), { dtype: 'int64', shape: [4] });
  assert.deepEqual(r.get('fl'), { dtype: 'float32', shape: [2, 3, 4] });
  assert.throws(() => infer({ inputs: { a: ['float32', [2]] }, nodes: [['Not', ['a'], ['n']]] }), shapeError('n'));
  assert.throws(() => infer({ inputs: { a: ['float32', [2, 3]], b: ['float32', [4]] }, nodes: [['Greater', ['a', 'b'], ['g']]] }), {
    code: 'SHAPE_MISMATCH',
    message: /"g".*\[2, 3\].*\[4\]/,
  });
});

test('Constant from value, value_float(s) and value_int(s); ConstantOfShape from a constant shape', () => {
  const r = infer({
    init: { dims: i64([2, 3]) },
    inputs: { s: ['int64', [3]] },
    nodes: [
      ['Constant', [], ['t'], { value: attr.tensor(new Tensor('float64', [4, 1])) }],
      ['Constant', [], ['f'], { value_float: attr.float(0.5) }],
      ['Constant', [], ['fs'], { value_floats: attr.floats([1, 2]) }],
      ['Constant', [], ['i'], { value_int: attr.int(7) }],
      ['Constant', [], ['is'], { value_ints: attr.ints([1, 2, 3]) }],
      ['ConstantOfShape', ['dims'], ['z']],
      ['ConstantOfShape', ['dims'], ['zi'], { value: attr.tensor(Tensor.int64([1])) }],
      ['ConstantOfShape', ['s'], ['zs']],
    ],
  });
  assert.deepEqual(r.get('t'), { dtype: 'float64', shape: [4, 1] });
  assert.deepEqual(r.get('f'), { dtype: 'float32', shape: [] });
  assert.deepEqual(r.get('fs'), { dtype: 'float32', shape: [2] });
  assert.deepEqual(r.get('i'), { dtype: 'int64', shape: [] });
  assert.deepEqual(r.get('is'), { dtype: 'int64', shape: [3] });
  assert.deepEqual(r.get('z'), { dtype: 'float32', shape: [2, 3] });
  assert.deepEqual(r.get('zi'), { dtype: 'int64', shape: [2, 3] });
  assert.equal(r.get('zs')?.shape.length, 3);
});

test('ReduceProd/ReduceMax with attribute axes and keepdims; ArgMax gives int64', () => {
  const r = infer({
    inputs: { x: ['float32', ['N', 3, 4]] },
    nodes: [
      ['ReduceProd', ['x'], ['p'], { axes: attr.ints([-1]), keepdims: attr.int(0) }],
      ['ReduceMax', ['x'], ['m']],
      ['ReduceMax', ['x'], ['m1'], { axes: attr.ints([1, 2]) }],
      ['ArgMax', ['x'], ['am'], { axis: attr.int(-1), keepdims: attr.int(0) }],
      ['ArgMax', ['x'], ['am1'], { axis: attr.int(1) }],
    ],
  });
  assert.deepEqual(r.get('p'), { dtype: 'float32', shape: ['N', 3] });
  assert.deepEqual(r.get('m')?.shape, [1, 1, 1]);
  assert.deepEqual(r.get('m1')?.shape, ['N', 1, 1]);
  assert.deepEqual(r.get('am'), { dtype: 'int64', shape: ['N', 3] });
  assert.deepEqual(r.get('am1'), { dtype: 'int64', shape: ['N', 1, 4] });
});

test('OneHot inserts depth at the axis with the values type', () => {
  const spec = (axis: number): Spec => ({
    inputs: { labels: ['int64', ['N']] },
    init: { depth: i64([10]), values: Tensor.fromArray('float32', [2], [0, 1]) },
    nodes: [['OneHot', ['labels', 'depth', 'values'], ['y'], { axis: attr.int(axis) }]],
  });
  assert.deepEqual(ts(spec(-1), 'y'), { dtype: 'float32', shape: ['N', 10] });
  assert.deepEqual(ts(spec(0), 'y'), { dtype: 'float32', shape: [10, 'N'] });
});

test('Split by sizes (input), evenly (no sizes), and uneven without sizes is an error', () => {
  const r = infer({
    inputs: { x: ['float32', [4, 5]] },
    init: { sizes: i64([2, 3]) },
    nodes: [
      ['Split', ['x', 'sizes'], ['a', 'b'], { axis: attr.int(-1) }],
      ['Split', ['x'], ['c', 'd']],
    ],
  });
  assert.deepEqual(r.get('a')?.shape, [4, 2]);
  assert.deepEqual(r.get('b')?.shape, [4, 3]);
  assert.deepEqual(r.get('c')?.shape, [2, 5]);
  assert.deepEqual(r.get('d')?.shape, [2, 5]);
  assert.throws(() => infer({ inputs: { x: ['float32', [4, 5]] }, nodes: [['Split', ['x'], ['e', 'f'], { axis: attr.int(1) }]] }), shapeError('e'));
});

test('Range, GatherElements, ScatterElements, Pad', () => {
  const r = infer({
    inputs: { x: ['float32', ['N', 3]], idx: ['int64', ['N', 1]], upd: ['float32', ['N', 1]] },
    init: {
      s: scalar64(2),
      l: scalar64(11),
      d: scalar64(3),
      fs: Tensor.scalar('float32', 0),
      fl: Tensor.scalar('float32', 1),
      fd: Tensor.scalar('float32', 0.25),
      pads: i64([1, 0, 1, 2]),
      pads2: i64([0, 1, 0, 1]),
    },
    nodes: [
      ['Range', ['s', 'l', 'd'], ['r']],
      ['Range', ['fs', 'fl', 'fd'], ['rf']],
      ['GatherElements', ['x', 'idx'], ['ge'], { axis: attr.int(1) }],
      ['ScatterElements', ['x', 'idx', 'upd'], ['se'], { axis: attr.int(1) }],
      ['Pad', ['x', 'pads'], ['p']],
      ['Pad', ['x', 'pads2'], ['p2']],
    ],
  });
  assert.deepEqual(r.get('r'), { dtype: 'int64', shape: [3] });
  assert.deepEqual(r.get('rf'), { dtype: 'float32', shape: [4] });
  assert.deepEqual(r.get('ge'), { dtype: 'float32', shape: ['N', 1] });
  assert.deepEqual(r.get('se'), { dtype: 'float32', shape: ['N', 3] });
  assert.deepEqual(r.get('p')?.shape, ['p_d0', 5]);
  assert.deepEqual(r.get('p2')?.shape, ['N', 5]);
});

test('Slice clamps like ONNX: negative starts, ends past the dim, negative steps', () => {
  const spec = (starts: number[], ends: number[], axes: number[], steps: number[], x: Dim[] = [10, 'N']): Spec => ({
    inputs: { x: ['float32', x] },
    init: { s: i64(starts), e: i64(ends), a: i64(axes), st: i64(steps) },
    nodes: [['Slice', ['x', 's', 'e', 'a', 'st'], ['y']]],
  });
  assert.deepEqual(ts(spec([2], [-1], [0], [1]), 'y').shape, [7, 'N']);
  assert.deepEqual(ts(spec([-1], [-(2 ** 53)], [0], [-1]), 'y').shape, [10, 'N']);
  assert.deepEqual(ts(spec([0], [2 ** 53], [-1], [1]), 'y').shape, [10, 'N']);
  assert.deepEqual(ts(spec([1], [100], [0], [3]), 'y').shape, [3, 'N']);
  assert.deepEqual(ts(spec([8], [2], [0], [1]), 'y').shape, [0, 'N']);
});

test('Softmax rejects an axis outside the rank, naming the node', () => {
  assert.throws(() => infer({ inputs: { x: ['float32', [2, 3]] }, nodes: [['Softmax', ['x'], ['sm'], { axis: attr.int(2) }]] }), shapeError('sm'));
});
