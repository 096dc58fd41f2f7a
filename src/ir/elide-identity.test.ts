import assert from 'node:assert/strict';
import { test } from 'node:test';
import { identityChainModel, identityCornersModel } from '../../test/chain-model.js';
import { withoutIdentities } from './elide-identity.js';
import { attr, Graph } from './graph.js';

test('withoutIdentities: a 1,000-Identity chain becomes its two computing nodes, writing the same graph output', () => {
  const model = identityChainModel(1000);
  const out = withoutIdentities(model);
  assert.deepEqual(
    out.graph.nodes.map((n) => [n.opType, n.inputs, n.outputs]),
    [
      ['MatMul', ['x', 'W'], ['h']],
      ['Add', ['h', 'B'], ['v1000']],
    ],
  );
  assert.deepEqual(
    out.graph.outputs.map((v) => v.name),
    ['v1000'],
  );
  assert.equal(model.graph.nodes.length, 1002, 'the input model is not changed');
});

test('withoutIdentities: Identities on inputs, initializers and shared values go; one per value that must stay stays', () => {
  const out = withoutIdentities(identityCornersModel());
  const ops = out.graph.nodes.map((n) => `${n.opType}(${n.inputs.join(',')})->${n.outputs.join(',')}`);
  assert.deepEqual(ops, [
    'Mul(x,w)->m',
    'Relu(m)->out_a',
    // out_b reads the same value as out_a, which now has that name: this Identity must stay.
    'Identity(out_a)->out_b',
    // n is a graph output itself, so Neg keeps writing it.
    'Neg(out_a)->n',
    // out_x copies a graph input: nothing computes it, the Identity stays.
    'Identity(x)->out_x',
    'Softmax(n)->out_s',
  ]);
});

test('withoutIdentities: a graph with a subgraph is left as it is', () => {
  const model = identityChainModel(3);
  const body = new Graph('body');
  model.graph.nodes.push({ name: 'if', opType: 'If', domain: '', inputs: ['c'], outputs: ['z'], attributes: { then_branch: attr.graph(body) } });
  assert.equal(withoutIdentities(model), model);
});
