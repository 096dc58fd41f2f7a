import assert from 'node:assert/strict';
import { test } from 'node:test';
import { WhittleError } from './errors.js';
import type { Node } from './graph.js';
import { attr, Graph } from './graph.js';
import { Tensor } from './tensor.js';
import { topologicalSort, validateGraph } from './validate.js';

function node(name: string, opType: string, inputs: string[], outputs: string[]): Node {
  return { name, opType, domain: '', inputs, outputs, attributes: {} };
}

/** x → fc (Gemm with w) → h → relu → y */
function mlp(): Graph {
  const g = new Graph('t');
  g.inputs.push({ name: 'x', dtype: 'float32', shape: ['N', 3] });
  g.initializers.set('w', Tensor.fromArray('float32', [2, 3], [1, 2, 3, 4, 5, 6]));
  g.nodes.push({ ...node('fc', 'Gemm', ['x', 'w'], ['h']), attributes: { transB: attr.int(1) } });
  g.nodes.push(node('relu', 'Relu', ['h'], ['y']));
  g.outputs.push({ name: 'y', dtype: 'float32', shape: ['N', 2] });
  return g;
}

function rejects(g: Graph, code: string, ...fragments: string[]): (rules?: ReadonlyMap<string, unknown>) => void {
  return (rules) =>
    assert.throws(
      () => validateGraph(g, rules),
      (e: unknown) => {
        assert.ok(e instanceof WhittleError, `expected a WhittleError, got ${String(e)}`);
        assert.equal(e.code, code, e.message);
        for (const f of fragments) assert.ok(e.message.includes(f), `message "${e.message}" should mention ${f}`);
        return true;
      },
    );
}

const RULES = new Map<string, unknown>([
  ['Gemm', 1],
  ['Relu', 1],
  ['Identity', 1],
  ['Loop', 1],
  ['Add', 1],
]);

test('a well-formed graph passes, with and without a rule table', () => {
  validateGraph(mlp());
  validateGraph(mlp(), RULES);
});

test('a node input that nothing produces is dangling', () => {
  const g = mlp();
  g.nodes[1] = node('relu', 'Relu', ['hh'], ['y']);
  rejects(g, 'INVALID_GRAPH', 'Relu "relu" reads "hh"', 'graph input or initializer')();
});

test('two producers of one value are refused', () => {
  const g = mlp();
  g.nodes.push(node('again', 'Relu', ['x'], ['h']));
  rejects(g, 'INVALID_GRAPH', '"h" is produced by both Gemm "fc" and Relu "again"', 'rename')();
});

test('a node output may not shadow a graph input or an initializer', () => {
  const a = mlp();
  a.nodes.push(node('shadow', 'Relu', ['h'], ['x']));
  rejects(a, 'INVALID_GRAPH', 'Relu "shadow" writes "x", which is already a graph input')();
  const b = mlp();
  b.nodes.push(node('shadow', 'Relu', ['h'], ['w']));
  rejects(b, 'INVALID_GRAPH', 'Relu "shadow" writes "w", which is already an initializer')();
});

test('graph outputs must be produced', () => {
  const g = mlp();
  g.outputs.push({ name: 'z', dtype: 'float32', shape: ['N', 2] });
  rejects(g, 'INVALID_GRAPH', 'graph output "z" is not produced')();
});

test('out-of-order nodes are reported with the fix, and topologicalSort is that fix', () => {
  const g = mlp();
  g.nodes.reverse();
  rejects(g, 'INVALID_GRAPH', 'not in topological order', 'Relu "relu" (#0) reads "h"', 'Gemm "fc" (#1)', 'topologicalSort(graph)')();
  const sorted = topologicalSort(g);
  assert.deepEqual(
    sorted.nodes.map((n) => n.name),
    ['fc', 'relu'],
  );
  assert.deepEqual(
    g.nodes.map((n) => n.name),
    ['relu', 'fc'],
    'the input graph is not mutated',
  );
  validateGraph(sorted, RULES);
});

test('topologicalSort is stable: independent nodes keep their relative order', () => {
  const g = new Graph('t');
  g.inputs.push({ name: 'x', dtype: 'float32', shape: [2] });
  // c and a are independent of each other; d needs b, which comes last.
  g.nodes.push(node('c', 'Relu', ['x'], ['c']), node('d', 'Add', ['b', 'c'], ['d']), node('a', 'Relu', ['x'], ['a']), node('b', 'Relu', ['a'], ['b']));
  g.outputs.push({ name: 'd', dtype: 'float32', shape: [2] });
  assert.deepEqual(
    topologicalSort(g).nodes.map((n) => n.name),
    ['c', 'a', 'b', 'd'],
  );
  const ordered = mlp();
  assert.deepEqual(topologicalSort(ordered).nodes, ordered.nodes);
});

test('a cycle is named as such, by validateGraph and by topologicalSort', () => {
  const g = mlp();
  g.nodes = [node('p', 'Relu', ['q'], ['p']), node('q', 'Relu', ['p'], ['q']), node('y', 'Relu', ['p'], ['y'])];
  rejects(g, 'INVALID_GRAPH', 'cycle', 'Relu "p"', 'Relu "q"')();
  assert.throws(() => topologicalSort(g), /cycle/);
});

test('an op outside the rule table is UNSUPPORTED_OP, listing what is supported', () => {
  const g = mlp();
  g.nodes.push(node('sig', 'Sigmoid', ['y'], ['s']), { ...node('ms', 'FusedGemm', ['y'], ['t']), domain: 'com.microsoft' });
  rejects(g, 'UNSUPPORTED_OP', 'FusedGemm (domain com.microsoft), Sigmoid', 'supported: Add, Gemm, Identity, Loop, Relu')(RULES);
  validateGraph(g); // without a table, ops are not checked
});

test('the first output must be named; trailing optional outputs may be empty', () => {
  const a = mlp();
  a.nodes.push(node('drop', 'Dropout', ['y'], ['d', '']));
  validateGraph(a);
  const b = mlp();
  b.nodes.push(node('drop', 'Dropout', ['y'], ['', 'mask']));
  rejects(b, 'INVALID_GRAPH', 'Dropout "drop" leaves its first output unnamed')();
  const c = mlp();
  c.nodes.push(node('void', 'Relu', ['y'], []));
  rejects(c, 'INVALID_GRAPH', 'Relu "void" has no named output')();
  const d = mlp();
  d.nodes.push(node('lstm', 'LSTM', ['y', 'w', 'w'], ['', 'h_last']));
  validateGraph(d); // LSTM's Y is optional
});

test('subgraphs may read the enclosing scope, and are checked themselves', () => {
  const body = new Graph('body');
  body.inputs.push({ name: 'i', dtype: 'int64', shape: [] }, { name: 'cond', dtype: 'bool', shape: [] }, { name: 'acc', dtype: 'float32', shape: ['N', 2] });
  body.nodes.push(node('c', 'Identity', ['cond'], ['cond_out']), node('step', 'Add', ['acc', 'y'], ['acc_out']));
  body.outputs.push({ name: 'cond_out', dtype: 'bool', shape: [] }, { name: 'acc_out', dtype: 'float32', shape: ['N', 2] });
  const g = mlp();
  g.initializers.set('trip', Tensor.fromArray('int64', [], [3]));
  g.nodes.push({ ...node('loop', 'Loop', ['trip', '', 'y'], ['z']), attributes: { body: attr.graph(body) } });
  g.outputs.push({ name: 'z', dtype: 'float32', shape: ['N', 2] });
  validateGraph(g, RULES);
  // Moving the Loop before the producer of the value its body reads breaks the order.
  const early = g.clone();
  early.nodes = [early.nodes[0] as Node, early.nodes[2] as Node, early.nodes[1] as Node];
  rejects(early, 'INVALID_GRAPH', 'Loop "loop" (#1) reads "y"')();
  assert.deepEqual(
    topologicalSort(early).nodes.map((n) => n.name),
    ['fc', 'relu', 'loop'],
  );
  body.nodes[1] = node('step', 'Add', ['acc', 'nowhere'], ['acc_out']);
  rejects(g, 'INVALID_GRAPH', 'Loop "loop" reads "nowhere" inside a subgraph')();
  // A subgraph's own structure is checked in its scope.
  body.nodes[1] = node('step', 'Add', ['acc', 'y'], ['acc_out']);
  body.nodes.push(node('dup', 'Identity', ['cond'], ['cond_out']));
  rejects(g, 'INVALID_GRAPH', 'Loop "loop" attribute body', '"cond_out" is produced by both')();
});
