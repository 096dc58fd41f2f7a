import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { WhittleError } from '../ir/errors.js';
import { attr, Graph, makeModel } from '../ir/graph.js';
import { decodeModel } from '../ir/onnx.js';
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

test("the probe's shapes are the same at 'basic' optimization as at 'disabled' (no probed value fused away)", async () => {
  // Conv + BatchNorm + Relu (fused at 'basic' unless a value is a graph output), Identity and
  // constant chains, If/Loop bodies, attention and LSTM: every value of each main graph asked for.
  const files = [
    'resnet-bn.opset17.onnx',
    'corpus/mnist_resnet20_bn.opset17.onnx',
    'corpus/mnist_mobilenet_v3.opset17.onnx',
    'corpus/mnist_vit.opset17.onnx',
    'corpus/mnist_lstm.opset17.onnx',
    'corpus/if_branch.opset17.onnx',
    'corpus/loop.opset17.onnx',
  ];
  for (const file of files) {
    const m = decodeModel(readFileSync(new URL(`../../../test/fixtures/${file}`, import.meta.url)), file);
    const basic = await probeShapes(m, { optimization: 'basic' });
    const disabled = await probeShapes(m, { optimization: 'disabled' });
    const values = m.graph.nodes.flatMap((n) => n.outputs).filter((o) => o !== '');
    assert.ok(disabled.size >= values.length / 2, `${file}: ${disabled.size} of ${values.length} values probed`);
    assert.deepEqual(basic, disabled, file);
  }
});
