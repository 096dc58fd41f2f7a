// Running a model on data to read an intermediate value (calibration for activation-based
// merging) or to compare two models' outputs (the function-preservation check of merge and grow).
import type { Dataset, Normalization, TensorDataset } from '../../data/index.js';
import { runBatches } from '../../data/index.js';
import { WhittleError } from '../../ir/errors.js';
import type { Model } from '../../ir/graph.js';
import { inferShapes } from '../../ir/shape.js';
import type { Tensor } from '../../ir/tensor.js';
import { SHAPE_RULES } from '../../ops/index.js';
import { sharedSessions } from '../../runtime/session.js';
import { batchSource } from '../../train/evaluate.js';

export interface RunOptions {
  normalization: Normalization;
  /** Use the first `limit` samples; default all. */
  limit?: number;
  batchSize?: number;
  threads?: number;
}

/** Runs `model` on the first samples of `data`, fetching `value`; returns it flattened per sample. */
async function collect(
  model: Model,
  value: string,
  data: Dataset | TensorDataset,
  o: RunOptions,
): Promise<{ values: Float32Array; perSample: number; n: number }> {
  const input = model.graph.inputs[0];
  if (input === undefined) throw new WhittleError('INVALID_GRAPH', 'the model has no input');
  const g = model.graph.clone();
  if (!g.outputs.some((v) => v.name === value)) {
    if (g.producerOf(value) === undefined) {
      throw new WhittleError('BAD_ARGUMENT', `the model has no value "${value}"; values: ${g.nodes.flatMap((n) => n.outputs).join(', ')}`);
    }
    const shape = inferShapes(g.clone(), SHAPE_RULES).get(value)?.shape ?? ['N'];
    g.outputs = [...g.outputs, { name: value, dtype: 'float32', shape: [...shape] }];
  }
  // The same model probed again (before/after checks) reuses its session.
  const lease = await sharedSessions.acquire({ ...model, graph: g }, { threads: o.threads });
  const session = lease.session;
  const n = Math.min(o.limit ?? data.count, data.count);
  let values = new Float32Array(0);
  let perSample = 0;
  const source = batchSource(model, data, o.normalization);
  try {
    await runBatches(source, { batchSize: o.batchSize ?? 500, limit: n }, async ({ feeds, size }, { start }) => {
      const r = await session.run(feeds, [value]);
      const t = r[value] as Tensor;
      if (perSample === 0) {
        perSample = t.size / size;
        values = new Float32Array(n * perSample);
      }
      values.set(t.data as Float32Array, start * perSample);
    });
  } finally {
    await lease.release();
  }
  return { values, perSample, n };
}

/**
 * The values of `value` (e.g. a layer's ReLU output) on the first `limit` samples, as
 * [samples, features] row-major.
 *
 * ```ts
 * const h = await activationsOf(model, 'relu1', mnist.train, { normalization: 'x/255', limit: 1000 });
 * ```
 */
export async function activationsOf(model: Model, value: string, data: Dataset | TensorDataset, o: RunOptions): Promise<Float32Array> {
  return (await collect(model, value, data, o)).values;
}

/**
 * Largest absolute difference between the first outputs of two models on the same samples: the
 * check that a function-preserving transform preserved the function.
 *
 * ```ts
 * const d = await maxAbsOutputChange(before, after, mnist.test, { normalization: 'x/255', limit: 1000 });
 * ```
 */
export async function maxAbsOutputChange(a: Model, b: Model, data: Dataset | TensorDataset, o: RunOptions): Promise<number> {
  const oa = a.graph.outputs[0]?.name;
  const ob = b.graph.outputs[0]?.name;
  if (oa === undefined || ob === undefined) throw new WhittleError('INVALID_GRAPH', 'both models need an output');
  const ra = await collect(a, oa, data, o);
  const rb = await collect(b, ob, data, o);
  if (ra.values.length !== rb.values.length) {
    throw new WhittleError('SHAPE_MISMATCH', `the models' outputs differ in size (${ra.perSample} vs ${rb.perSample} per sample)`);
  }
  let max = 0;
  for (let i = 0; i < ra.values.length; i++) max = Math.max(max, Math.abs((ra.values[i] as number) - (rb.values[i] as number)));
  return max;
}
