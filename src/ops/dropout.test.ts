import assert from 'node:assert/strict';
import { test } from 'node:test';
import { addGradients } from '../autodiff/gradients.js';
import { attr, Graph, GraphBuilder, makeModel } from '../ir/graph.js';
import { Tensor } from '../ir/tensor.js';
import { Session } from '../runtime/session.js';
import { gradCheck, randomTensor } from '../../test/gradcheck.js';

const DIMS = [4, 3, 5];

interface DropoutGraph {
  graph: Graph;
  loss: string;
  dx: string;
  mask: string;
  r: Tensor;
}

/**
 * x → Dropout(x, ratio, training_mode) → y, loss = Σ y·r. `ratio` / `training` name constant
 * values or, as 'input', graph inputs fed at run time.
 */
function dropoutGraph(opts: { ratio: number | 'input'; training: boolean | 'input'; maskOutput: boolean }): DropoutGraph {
  const g = new Graph('dropout');
  g.inputs.push({ name: 'x', dtype: 'float32', shape: DIMS });
  if (opts.ratio === 'input') g.inputs.push({ name: 'ratio', dtype: 'float32', shape: [] });
  else g.initializers.set('ratio', Tensor.scalar('float32', opts.ratio));
  if (opts.training === 'input') g.inputs.push({ name: 'training', dtype: 'bool', shape: [] });
  else g.initializers.set('training', Tensor.fromArray('bool', [], [opts.training ? 1 : 0]));
  g.nodes.push({
    name: 'drop',
    opType: 'Dropout',
    domain: '',
    inputs: ['x', 'ratio', 'training'],
    outputs: opts.maskOutput ? ['y', 'mask'] : ['y'],
    attributes: { seed: attr.int(3) },
  });
  const b = new GraphBuilder(g, 'loss');
  const r = randomTensor('float32', DIMS, 51);
  const loss = b.op1('ReduceSum', [b.op1('Mul', ['y', b.constant(r, 'r')])], { keepdims: attr.int(0) });
  const dx = addGradients(g, loss, ['x']).get('x')!;
  const node = g.nodes.find((n) => n.name === 'drop')!;
  const mask = node.outputs[1] ?? '';
  g.outputs = [
    { name: 'y', dtype: 'float32', shape: DIMS },
    { name: dx, dtype: 'float32', shape: DIMS },
  ];
  if (mask) g.outputs.push({ name: mask, dtype: 'bool', shape: DIMS });
  return { graph: g, loss, dx, mask, r };
}

async function run(d: DropoutGraph, feeds: Record<string, Tensor>): Promise<Record<string, Tensor>> {
  const s = await Session.create(makeModel(d.graph), { threads: 1 });
  const out = await s.run(feeds);
  await s.release();
  return out;
}

/** Asserts y = x·mask/(1 − ratio) and dx = r·mask/(1 − ratio) with the mask of the same run. */
function assertTrainingGradient(d: DropoutGraph, out: Record<string, Tensor>, x: Tensor, ratio: number): void {
  const mask = out[d.mask]!.data as Uint8Array;
  const y = out['y']!.data as Float32Array;
  const dx = out[d.dx]!.data as Float32Array;
  const kept = mask.reduce((a, m) => a + (m ? 1 : 0), 0);
  assert.ok(kept > 0 && kept < mask.length, `mask should keep some and drop some, kept ${kept}/${mask.length}`);
  for (let i = 0; i < mask.length; i++) {
    const m = mask[i] ? 1 : 0;
    assert.ok(Math.abs(y[i]! - ((x.data[i] as number) * m) / (1 - ratio)) < 1e-6, `y[${i}]`);
    assert.ok(Math.abs(dx[i]! - ((d.r.data[i] as number) * m) / (1 - ratio)) < 1e-6, `dx[${i}] = ${dx[i]}, mask ${m}`);
  }
}

test('Dropout training mode: dX = dY·mask/(1 − ratio) with the mask output of the same run', async () => {
  const d = dropoutGraph({ ratio: 0.3, training: true, maskOutput: true });
  assert.equal(d.mask, 'mask');
  const x = randomTensor('float32', DIMS, 52);
  assertTrainingGradient(d, await run(d, { x }), x, 0.3);
});

test('Dropout training mode without a mask output: the gradient rule adds one to the forward node', async () => {
  const d = dropoutGraph({ ratio: 0.5, training: true, maskOutput: false });
  assert.ok(d.mask !== '', 'the forward Dropout now outputs its mask');
  const x = randomTensor('float32', DIMS, 53);
  assertTrainingGradient(d, await run(d, { x }), x, 0.5);
});

test('Dropout with ratio and training_mode fed at run time: masked when training, identity when not', async () => {
  const d = dropoutGraph({ ratio: 'input', training: 'input', maskOutput: true });
  const x = randomTensor('float32', DIMS, 54);
  const ratio = Tensor.scalar('float32', 0.25);
  assertTrainingGradient(d, await run(d, { x, ratio, training: Tensor.fromArray('bool', [], [1]) }), x, 0.25);
  const off = await run(d, { x, ratio, training: Tensor.fromArray('bool', [], [0]) });
  assert.deepEqual([...(off[d.dx]!.data as Float32Array)], [...(d.r.data as Float32Array)]);
});

for (const training of [undefined, false] as const) {
  test(`Dropout inference (training_mode ${training === undefined ? 'absent' : 'false'}): gradient is the identity (finite differences)`, async () => {
    const g = new Graph('dropout');
    g.inputs.push({ name: 'x', dtype: 'float64', shape: DIMS });
    g.initializers.set('ratio', Tensor.scalar('float64', 0.4));
    const inputs = ['x', 'ratio'];
    if (training === false) {
      g.initializers.set('training', Tensor.fromArray('bool', [], [0]));
      inputs.push('training');
    }
    g.nodes.push({ name: 'drop', opType: 'Dropout', domain: '', inputs, outputs: ['y'], attributes: {} });
    g.outputs.push({ name: 'y', dtype: 'float64', shape: DIMS });
    const r = await gradCheck({ graph: g, feeds: { x: randomTensor('float64', DIMS, 55) }, wrt: ['x'] });
    assert.equal(r.checked, 60);
  });
}
