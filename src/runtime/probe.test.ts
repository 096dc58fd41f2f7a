import assert from 'node:assert/strict';
import { test } from 'node:test';
import { WhittleError } from '../ir/errors.js';
import { attr, Graph, makeModel } from '../ir/graph.js';
import { inferShapes } from '../ir/shape.js';
import { Tensor } from '../ir/tensor.js';
import { SHAPE_RULES } from '../ops/index.js';
import { inferShapesWithRuntime, probeShapes, runtimeShapes } from './probe.js';

/** x[N,4] → Shrink and ThresholdedRelu (no Whittle rules) → Gemm (a rule, reading their shapes). */
function model(): ReturnType<typeof makeModel> {
  const g = new Graph('probe');
  g.inputs.push({ name: 'x', dtype: 'float32', shape: ['N', 4] });
  g.initializers.set(
    'w',
    Tensor.fromArray(
      'float32',
      [3, 4],
      Array.from({ length: 12 }, (_, i) => i),
    ),
  );
  g.nodes.push({ name: 'hs', opType: 'Shrink', domain: '', inputs: ['x'], outputs: ['h'], attributes: {} });
  g.nodes.push({ name: 'erf', opType: 'ThresholdedRelu', domain: '', inputs: ['h'], outputs: ['e'], attributes: {} });
  g.nodes.push({ name: 'fc', opType: 'Gemm', domain: '', inputs: ['e', 'w'], outputs: ['y'], attributes: { transB: attr.int(1) } });
  g.outputs.push({ name: 'y', dtype: 'float32', shape: ['N', 3] });
  return makeModel(g);
}

test('onnxruntime supplies the shapes of ops without rules, the batch dim keeping its name', async () => {
  const m = model();
  assert.throws(
    () => inferShapes(m.graph.clone(), SHAPE_RULES),
    (e: unknown) => e instanceof WhittleError && e.code === 'UNSUPPORTED_OP' && e.message.includes('Shrink "hs"'),
  );
  const probed = await probeShapes(m);
  assert.deepEqual(probed.get('h'), { dtype: 'float32', shape: ['N', 4] });
  const shapes = await inferShapesWithRuntime(m, SHAPE_RULES);
  assert.deepEqual(shapes.get('e'), { dtype: 'float32', shape: ['N', 4] });
  // Gemm's own rule ran on the probed input shape.
  assert.deepEqual(shapes.get('y'), { dtype: 'float32', shape: ['N', 3] });
  // Only the outputs of the ops without a rule were asked of onnxruntime.
  assert.deepEqual([...(await runtimeShapes(m, SHAPE_RULES)).keys()].sort(), ['e', 'h']);
});
