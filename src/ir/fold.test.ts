import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SHAPE_RULES } from '../ops/index.js';
import { Session } from '../runtime/session.js';
import { EVALUATORS } from './fold-eval.js';
import { foldConstants } from './fold.js';
import type { Attribute, Node } from './graph.js';
import { attr, Graph, makeModel } from './graph.js';
import { Tensor } from './tensor.js';
import { validateGraph } from './validate.js';

const INT64_MAX = 9223372036854775807n;

function node(name: string, opType: string, inputs: string[], outputs: string[], attributes: Record<string, Attribute> = {}): Node {
  return { name, opType, domain: '', inputs, outputs, attributes };
}

function constant(name: string, t: Tensor): Node {
  return node(name, 'Constant', [], [name], { value: attr.tensor(t) });
}

function evaluate(opType: string, inputs: Tensor[], attributes: Record<string, Attribute> = {}): Tensor {
  const out = EVALUATORS.get(opType)?.(
    node(
      'n',
      opType,
      inputs.map((_, i) => `i${i}`),
      ['o'],
      attributes,
    ),
    inputs,
  )?.[0];
  assert.ok(out !== undefined, `${opType} should evaluate`);
  return out;
}

const ops = (g: Graph): string[] => g.nodes.map((n) => n.opType);

test('evaluators: Gather, Slice, Concat, Squeeze/Unsqueeze, Cast, int arithmetic, ConstantOfShape', () => {
  const m = Tensor.fromArray('float32', [2, 3], [1, 2, 3, 4, 5, 6]);
  const g = evaluate('Gather', [m, Tensor.int64([-1, 0])], { axis: attr.int(1) });
  assert.deepEqual(
    [g.dims, g.toNumbers()],
    [
      [2, 2],
      [3, 1, 6, 4],
    ],
  );
  const scalarIdx = evaluate('Gather', [Tensor.int64([7, 8, 9]), Tensor.fromArray('int64', [], [1])]);
  assert.deepEqual([scalarIdx.dims, scalarIdx.toNumbers()], [[], [8]]);
  const s = evaluate('Slice', [m, Tensor.int64([-1]), Tensor.fromArray('int64', [1], [-INT64_MAX]), Tensor.int64([1]), Tensor.int64([-2])]);
  assert.deepEqual(
    [s.dims, s.toNumbers()],
    [
      [2, 2],
      [3, 1, 6, 4],
    ],
  );
  const old = evaluate('Slice', [m], { starts: attr.ints([1]), ends: attr.ints([1000]), axes: attr.ints([0]) });
  assert.deepEqual(
    [old.dims, old.toNumbers()],
    [
      [1, 3],
      [4, 5, 6],
    ],
  );
  const c = evaluate('Concat', [m, Tensor.fromArray('float32', [2, 1], [7, 8])], { axis: attr.int(-1) });
  assert.deepEqual(
    [c.dims, c.toNumbers()],
    [
      [2, 4],
      [1, 2, 3, 7, 4, 5, 6, 8],
    ],
  );
  const u = evaluate('Unsqueeze', [Tensor.fromArray('int64', [], [5]), Tensor.int64([0])]);
  assert.deepEqual([u.dims, u.toNumbers()], [[1], [5]]);
  assert.deepEqual(evaluate('Unsqueeze', [m], { axes: attr.ints([0, -1]) }).dims, [1, 2, 3, 1]);
  assert.deepEqual(evaluate('Squeeze', [Tensor.fromArray('int64', [1, 2, 1], [4, 5])]).dims, [2]);
  assert.deepEqual(evaluate('Squeeze', [Tensor.fromArray('int64', [1, 2, 1], [4, 5]), Tensor.int64([2])]).dims, [1, 2]);
  const cast = evaluate('Cast', [Tensor.fromArray('float32', [3], [-1.5, 2.7, 3])], { to: attr.int(7) });
  assert.deepEqual([cast.dtype, cast.toNumbers()], ['int64', [-1, 2, 3]]);
  assert.deepEqual(evaluate('Div', [Tensor.int64([-7, 7]), Tensor.fromArray('int64', [], [2])]).toNumbers(), [-3, 3]);
  assert.deepEqual(evaluate('Mul', [Tensor.int64([2, 3]), Tensor.fromArray('int64', [2, 1], [10, 100])]).toNumbers(), [20, 30, 200, 300]);
  assert.deepEqual(evaluate('Add', [Tensor.int64([1]), Tensor.int64([2])]).data, new BigInt64Array([3n]));
  const filled = evaluate('ConstantOfShape', [Tensor.int64([2, 2])], { value: attr.tensor(Tensor.int64([9])) });
  assert.deepEqual([filled.dtype, filled.dims, filled.toNumbers()], ['int64', [2, 2], [9, 9, 9, 9]]);
  assert.equal(evaluate('ConstantOfShape', [Tensor.int64([3])]).dtype, 'float32');
  assert.deepEqual(evaluate('Constant', [], { value_ints: attr.ints([1, -1]) }).toNumbers(), [1, -1]);
});

/** x:[N,3,4] → Reshape(x, Concat([-1], Unsqueeze(Gather(Shape(x),1) * Gather(Shape(x),2)))) */
function staticShapeGraph(): Graph {
  const g = new Graph('static');
  g.inputs.push({ name: 'x', dtype: 'float32', shape: ['N', 3, 4] });
  g.nodes.push(
    node('shape', 'Shape', ['x'], ['s']),
    constant('one', Tensor.fromArray('int64', [], [1])),
    constant('two', Tensor.fromArray('int64', [], [2])),
    node('g1', 'Gather', ['s', 'one'], ['d1'], { axis: attr.int(0) }),
    node('g2', 'Gather', ['s', 'two'], ['d2'], { axis: attr.int(0) }),
    node('mul', 'Mul', ['d1', 'd2'], ['d12']),
    constant('axes', Tensor.int64([0])),
    node('unsq', 'Unsqueeze', ['d12', 'axes'], ['u']),
    constant('minus1', Tensor.int64([-1])),
    node('cat', 'Concat', ['minus1', 'u'], ['target'], { axis: attr.int(0) }),
    node('reshape', 'Reshape', ['x', 'target'], ['y']),
  );
  g.outputs.push({ name: 'y', dtype: 'float32', shape: ['N', 12] });
  return g;
}

test('static dims gathered from Shape fold to a constant Reshape target, with the same results in onnxruntime', async () => {
  const g = staticShapeGraph();
  const before = ops(g);
  const folded = foldConstants(g, SHAPE_RULES);
  assert.deepEqual(ops(folded), ['Reshape']);
  assert.deepEqual(ops(g), before, 'the input graph is not mutated');
  const target = folded.initializers.get(folded.nodes[0]?.inputs[1] ?? '');
  assert.deepEqual(target?.toNumbers(), [-1, 12]);
  assert.equal(folded.initializers.size, 1, 'dead constants are not kept');
  validateGraph(folded);
  const x = Tensor.fromArray(
    'float32',
    [2, 3, 4],
    Array.from({ length: 24 }, (_, i) => i * 0.5 - 3),
  );
  for (const graph of [g, folded]) {
    const s = await Session.create(makeModel(graph), { threads: 1 });
    const { y } = await s.run({ x });
    assert.deepEqual(y?.dims, [2, 12]);
    assert.deepEqual([...(y?.data ?? [])], [...x.data]);
    await s.release();
  }
});

/** Reshape(data, Concat(Unsqueeze(Gather(Shape(src), 0)), [-1])): PyTorch's x.view(x.size(0), -1). */
function batchViewGraph(src: string, data: string, dataShape: (string | number)[]): Graph {
  const g = new Graph('view');
  g.inputs.push({ name: 'x', dtype: 'float32', shape: ['N', 2, 3] });
  if (data !== 'x' && data !== 'h') g.inputs.push({ name: data, dtype: 'float32', shape: dataShape });
  g.nodes.push(
    node('act', 'Sigmoid', ['x'], ['h']),
    node('shape', 'Shape', [src], ['s']),
    constant('zero', Tensor.fromArray('int64', [], [0])),
    node('gather', 'Gather', ['s', 'zero'], ['batch'], { axis: attr.int(0) }),
    node('unsq', 'Unsqueeze', ['batch'], ['u'], { axes: attr.ints([0]) }),
    constant('minus1', Tensor.int64([-1])),
    node('cat', 'Concat', ['u', 'minus1'], ['target'], { axis: attr.int(0) }),
    node('reshape', 'Reshape', [data, 'target'], ['y']),
  );
  g.outputs.push({ name: 'y', dtype: 'float32', shape: ['N', 6] });
  return g;
}

test('a gathered batch dim of the reshaped tensor itself becomes 0 ("copy this dim")', () => {
  for (const [src, data] of [
    ['h', 'h'],
    ['x', 'x'],
  ] as const) {
    const folded = foldConstants(batchViewGraph(src, data, []), SHAPE_RULES);
    assert.deepEqual(
      ops(folded).filter((o) => o !== 'Sigmoid'),
      ['Reshape'],
      `${src} → ${data}`,
    );
    assert.deepEqual(folded.initializers.get(folded.nodes.at(-1)?.inputs[1] ?? '')?.toNumbers(), [0, -1]);
  }
  // Another tensor with the same symbolic batch dim may copy it too.
  const same = foldConstants(batchViewGraph('x', 'z', ['N', 6]), SHAPE_RULES);
  assert.deepEqual(ops(same), ['Reshape']);
});

test('a run-time dim of a different tensor is not folded', () => {
  const g = batchViewGraph('x', 'z', ['M', 6]);
  const folded = foldConstants(g, SHAPE_RULES);
  assert.deepEqual(ops(folded), ['Shape', 'Gather', 'Unsqueeze', 'Concat', 'Reshape']);
  assert.ok(folded.initializers.has('zero') && folded.initializers.has('minus1'), 'Constant nodes still become initializers');
  validateGraph(folded);
});

function dropoutGraph(dropInputs: string[], dropOutputs: string[], extra: (g: Graph) => void = () => {}): Graph {
  const g = new Graph('drop');
  g.inputs.push({ name: 'x', dtype: 'float32', shape: ['N', 4] });
  g.initializers.set('ratio', Tensor.scalar('float32', 0.5));
  g.initializers.set('no', Tensor.fromArray('bool', [], [0]));
  g.initializers.set('yes', Tensor.fromArray('bool', [], [1]));
  g.nodes.push(node('relu', 'Relu', ['x'], ['h']), node('drop', 'Dropout', dropInputs, dropOutputs), node('out', 'Relu', ['d'], ['y']));
  g.outputs.push({ name: 'y', dtype: 'float32', shape: ['N', 4] });
  extra(g);
  return g;
}

test('inference-form Dropout is bypassed; training Dropout and a used mask are kept', () => {
  for (const inputs of [['h'], ['h', 'ratio'], ['h', 'ratio', 'no'], ['h', '', '']]) {
    const folded = foldConstants(dropoutGraph(inputs, ['d']), SHAPE_RULES);
    assert.deepEqual(ops(folded), ['Relu', 'Relu'], inputs.join(','));
    assert.deepEqual(folded.nodes[1]?.inputs, ['h']);
    assert.equal(folded.initializers.size, 0, 'the ratio and mode constants are dead');
    validateGraph(folded);
  }
  const masked = dropoutGraph(['h', 'ratio', 'no'], ['d', ''], (g) =>
    g.nodes.push(node('c', 'Constant', [], ['noc'], { value: attr.tensor(Tensor.fromArray('bool', [], [0])) })),
  );
  assert.deepEqual(ops(foldConstants(masked, SHAPE_RULES)), ['Relu', 'Relu']);
  assert.deepEqual(ops(foldConstants(dropoutGraph(['h', 'ratio', 'yes'], ['d']), SHAPE_RULES)), ['Relu', 'Dropout', 'Relu']);
  const fed = dropoutGraph(['h', 'ratio', 'train'], ['d'], (g) => g.inputs.push({ name: 'train', dtype: 'bool', shape: [] }));
  assert.deepEqual(ops(foldConstants(fed, SHAPE_RULES)), ['Relu', 'Dropout', 'Relu']);
  const maskUsed = dropoutGraph(['h'], ['d', 'mask'], (g) => g.outputs.push({ name: 'mask', dtype: 'bool', shape: ['N', 4] }));
  assert.deepEqual(ops(foldConstants(maskUsed, SHAPE_RULES)), ['Relu', 'Dropout', 'Relu']);
});

test('a chain of Dropouts is bypassed to its source, with every reader rewired, in one pass', () => {
  // x → Relu → Dropout ×50 → Relu, and the middle of the chain read a second time: both readers see h.
  const g = new Graph('drops');
  g.inputs.push({ name: 'x', dtype: 'float32', shape: ['N', 4] });
  g.nodes.push(node('relu', 'Relu', ['x'], ['d0']));
  for (let i = 1; i <= 50; i++) g.nodes.push(node(`drop${i}`, 'Dropout', [`d${i - 1}`], [`d${i}`]));
  g.nodes.push(node('out', 'Relu', ['d50'], ['y']), node('side', 'Add', ['d25', 'd50'], ['z']));
  g.outputs.push({ name: 'y', dtype: 'float32', shape: ['N', 4] }, { name: 'z', dtype: 'float32', shape: ['N', 4] });
  const folded = foldConstants(g, SHAPE_RULES);
  assert.deepEqual(ops(folded), ['Relu', 'Relu', 'Add']);
  assert.deepEqual(folded.nodes[1]?.inputs, ['d0']);
  assert.deepEqual(folded.nodes[2]?.inputs, ['d0', 'd0']);
  validateGraph(folded);
  // A malformed cycle (a Dropout reading its own output) ends instead of looping.
  const cyc = new Graph('cycle');
  cyc.inputs.push({ name: 'x', dtype: 'float32', shape: [4] });
  cyc.nodes.push(node('a', 'Dropout', ['b'], ['a']), node('b', 'Dropout', ['a'], ['b']), node('out', 'Relu', ['a'], ['y']));
  cyc.outputs.push({ name: 'y', dtype: 'float32', shape: [4] });
  assert.deepEqual(ops(foldConstants(cyc, SHAPE_RULES)), ['Relu']);
});

test('a Dropout that produces a graph output becomes Identity, so the output keeps its name', async () => {
  const g = dropoutGraph(['h', 'ratio'], ['d'], (g) => g.outputs.push({ name: 'd', dtype: 'float32', shape: ['N', 4] }));
  const folded = foldConstants(g, SHAPE_RULES);
  assert.deepEqual(ops(folded), ['Relu', 'Identity', 'Relu']);
  assert.deepEqual(
    folded.outputs.map((v) => v.name),
    ['y', 'd'],
  );
  validateGraph(folded);
  const s = await Session.create(makeModel(folded), { threads: 1 });
  const { d } = await s.run({ x: Tensor.fromArray('float32', [1, 4], [-1, 2, -3, 4]) });
  assert.deepEqual([...(d?.data ?? [])], [0, 2, 0, 4]);
  await s.release();
});

test('a graph output computed from constants alone stays, as a Constant node', () => {
  const g = new Graph('c');
  g.inputs.push({ name: 'x', dtype: 'float32', shape: ['N', 3] });
  g.nodes.push(node('shape', 'Shape', ['x'], ['s'], { start: attr.int(1) }), node('id', 'Identity', ['s'], ['width']));
  g.outputs.push({ name: 'width', dtype: 'int64', shape: [1] });
  const folded = foldConstants(g, SHAPE_RULES);
  assert.deepEqual(ops(folded), ['Constant']);
  const value = folded.nodes[0]?.attributes['value'];
  assert.ok(value?.type === 'tensor');
  assert.deepEqual(value.value.toNumbers(), [3]);
  validateGraph(folded);
});

test('huge ConstantOfShape results are left to run time', () => {
  const g = new Graph('big');
  g.nodes.push(constant('dims', Tensor.int64([1024, 1024])), node('fill', 'ConstantOfShape', ['dims'], ['zeros']));
  g.outputs.push({ name: 'zeros', dtype: 'float32', shape: [1024, 1024] });
  const folded = foldConstants(g, SHAPE_RULES);
  assert.deepEqual(ops(folded), ['ConstantOfShape']);
  assert.deepEqual(folded.initializers.get('dims')?.toNumbers(), [1024, 1024]);
});

test('shapes recorded in the file stand in for ops without a shape rule', () => {
  const g = new Graph('recorded');
  g.inputs.push({ name: 'x', dtype: 'float32', shape: ['N', 6] });
  g.nodes.push(
    node('mystery', 'NoSuchOpAnywhere', ['x'], ['h']),
    node('shape', 'Shape', ['h'], ['s']),
    constant('idx', Tensor.int64([1, 2])),
    node('gather', 'Gather', ['s', 'idx'], ['hw']),
    constant('minus1', Tensor.int64([-1])),
    node('cat', 'Concat', ['minus1', 'hw'], ['target'], { axis: attr.int(0) }),
    node('reshape', 'Reshape', ['h', 'target'], ['y']),
  );
  g.valueInfo.set('h', { name: 'h', dtype: 'float32', shape: ['N', 2, 3] });
  g.outputs.push({ name: 'y', dtype: 'float32', shape: ['N', 2, 3] });
  const folded = foldConstants(g, SHAPE_RULES);
  assert.deepEqual(ops(folded), ['NoSuchOpAnywhere', 'Reshape']);
  assert.deepEqual(folded.initializers.get(folded.nodes[1]?.inputs[1] ?? '')?.toNumbers(), [-1, 2, 3]);
  assert.deepEqual([...folded.valueInfo.keys()], ['h'], 'value infos of removed values are dropped');
});
