import assert from 'node:assert/strict';
import { test } from 'node:test';
import { addGradients } from '../autodiff/gradients.js';
import { attr, Graph, GraphBuilder, makeModel } from '../ir/graph.js';
import type { Attribute, Dim } from '../ir/graph.js';
import { Tensor } from '../ir/tensor.js';
import type { DType } from '../ir/tensor.js';
import { Session } from '../runtime/session.js';
import { gradCheck, randomTensor } from '../../test/gradcheck.js';

// ORT runs BatchNormalization (both forms) in float64, so these checks need no reference:
// finite differences run through ORT's own forward.

interface Spec {
  dtype: DType;
  xDims: number[];
  /** Declared input shape (may name the batch symbolically). */
  declared?: Dim[];
  attributes: Record<string, Attribute>;
  /** Graph outputs: Y only, or Y and the running statistics. */
  outputs: string[];
}

function bnGraph(s: Spec): Graph {
  const c = s.xDims[1]!;
  const g = new Graph('bn');
  g.inputs.push({ name: 'x', dtype: s.dtype, shape: s.declared ?? s.xDims });
  for (const p of ['scale', 'bias', 'mean', 'var']) g.inputs.push({ name: p, dtype: s.dtype, shape: [c] });
  const training = s.attributes['training_mode'] !== undefined;
  g.nodes.push({
    name: 'bn',
    opType: 'BatchNormalization',
    domain: '',
    inputs: ['x', 'scale', 'bias', 'mean', 'var'],
    outputs: training ? ['y', 'running_mean', 'running_var'] : ['y'],
    attributes: s.attributes,
  });
  for (const o of s.outputs) g.outputs.push({ name: o, dtype: s.dtype, shape: o === 'y' ? s.xDims : [c] });
  return g;
}

function bnFeeds(s: Spec): Record<string, Tensor> {
  const c = s.xDims[1]!;
  return {
    x: randomTensor(s.dtype, s.xDims, 41, -2, 2),
    scale: randomTensor(s.dtype, [c], 42, 0.5, 1.5),
    bias: randomTensor(s.dtype, [c], 43),
    mean: randomTensor(s.dtype, [c], 44, -0.5, 0.5),
    var: randomTensor(s.dtype, [c], 45, 0.5, 1.5),
  };
}

const INFERENCE: Spec = { dtype: 'float64', xDims: [2, 3, 4, 5], attributes: { epsilon: attr.float(1e-3) }, outputs: ['y'] };
const TRAINING: Spec = { dtype: 'float64', xDims: [2, 3, 4, 5], attributes: { training_mode: attr.int(1), epsilon: attr.float(1e-3) }, outputs: ['y'] };

test('BatchNormalization inference form: gradients wrt X, scale, B, mean and var match finite differences', async () => {
  const r = await gradCheck({ graph: bnGraph(INFERENCE), feeds: bnFeeds(INFERENCE), wrt: ['x', 'scale', 'bias', 'mean', 'var'] });
  assert.equal(r.checked, 120 + 4 * 3);
});

test('BatchNormalization training form: gradients through the batch statistics match finite differences', async () => {
  const r = await gradCheck({ graph: bnGraph(TRAINING), feeds: bnFeeds(TRAINING), wrt: ['x', 'scale', 'bias'] });
  assert.equal(r.checked, 120 + 2 * 3);
});

test('BatchNormalization training form: running_mean / running_var outputs are differentiated too', async () => {
  const spec: Spec = { ...TRAINING, attributes: { training_mode: attr.int(1), momentum: attr.float(0.7) }, outputs: ['y', 'running_mean', 'running_var'] };
  const g = bnGraph(spec);
  // ORT writes the running statistics into the mean/var input buffers when those outputs are
  // not graph outputs (as in gradCheck's loss graph): feed them through a Mul so the fed
  // arrays stay untouched between finite-difference runs.
  g.inputs.push({ name: 'unit', dtype: 'float64', shape: [] });
  for (const p of ['mean', 'var']) {
    g.inputs.find((v) => v.name === p)!.name = `${p}_in`;
    g.nodes.unshift({ name: `${p}_copy`, opType: 'Mul', domain: '', inputs: [`${p}_in`, 'unit'], outputs: [p], attributes: {} });
  }
  const { mean, var: variance, ...rest } = bnFeeds(spec);
  const feeds = { ...rest, mean_in: mean!, var_in: variance!, unit: Tensor.scalar('float64', 1) };
  const r = await gradCheck({ graph: g, feeds, wrt: ['x', 'scale', 'bias', 'mean_in', 'var_in'] });
  assert.equal(r.checked, 120 + 4 * 3);
});

test('onnxruntime writes BatchNormalization running statistics into the fed mean/var unless they are graph outputs', async () => {
  // Pins the runtime behaviour the note on batchNormalization describes.
  for (const asOutputs of [false, true]) {
    const g = bnGraph({ ...TRAINING, outputs: asOutputs ? ['y', 'running_mean', 'running_var'] : ['y'] });
    const feeds = bnFeeds(TRAINING);
    const before = Float64Array.from(feeds['mean']!.data as Float64Array);
    const s = await Session.create(makeModel(g), { threads: 1 });
    await s.run(feeds);
    await s.release();
    const changed = [...(feeds['mean']!.data as Float64Array)].some((v, i) => v !== before[i]);
    assert.equal(changed, !asOutputs);
  }
});

test('BatchNormalization training form on [N, C] (BatchNorm1d) with a symbolic batch', async () => {
  const spec: Spec = { dtype: 'float64', xDims: [5, 4], declared: ['N', 4], attributes: { training_mode: attr.int(1) }, outputs: ['y'] };
  const r = await gradCheck({ graph: bnGraph(spec), feeds: bnFeeds(spec), wrt: ['x', 'scale', 'bias'] });
  assert.equal(r.checked, 20 + 2 * 4);
});

test('BatchNormalization training form with a symbolic batch computes the count at run time', async () => {
  const spec: Spec = { ...TRAINING, declared: ['N', 3, 4, 5] };
  const r = await gradCheck({ graph: bnGraph(spec), feeds: bnFeeds(spec), wrt: ['x', 'scale'] });
  assert.equal(r.checked, 120 + 3);
});

test('BatchNormalization training form in float32 gives the float64 gradients (within float32 precision)', async () => {
  const grads = async (dtype: DType): Promise<Float64Array[]> => {
    const spec: Spec = { ...TRAINING, dtype };
    const g = bnGraph(spec);
    const b = new GraphBuilder(g, 'loss');
    const r = randomTensor(dtype, spec.xDims, 46);
    const loss = b.op1('ReduceSum', [b.op1('Mul', ['y', b.constant(r, 'r')])], { keepdims: attr.int(0) });
    const wrt = ['x', 'scale', 'bias'];
    const names = addGradients(g, loss, wrt);
    g.outputs = wrt.map((w) => ({ name: names.get(w)!, dtype, shape: [] }));
    const s = await Session.create(makeModel(g), { threads: 1 });
    const out = await s.run(bnFeeds(spec));
    await s.release();
    return wrt.map((w) => Float64Array.from(out[names.get(w)!]!.data as ArrayLike<number>));
  };
  const [f32, f64] = [await grads('float32'), await grads('float64')];
  f64.forEach((ref, k) =>
    ref.forEach((v, i) => assert.ok(Math.abs(v - f32[k]![i]!) < 1e-4 * Math.max(1, Math.abs(v)), `gradient ${k}[${i}]: float32 ${f32[k]![i]} vs float64 ${v}`)),
  );
});
