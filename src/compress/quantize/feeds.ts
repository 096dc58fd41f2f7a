// Model inputs for calibration and agreement: any number of named inputs per batch. The old form,
// one float32 [N, ...] tensor for the model's only input, is wrapped into batches of the same kind.
import { createRng } from '../../data/rng.js';
import { WhittleError } from '../../ir/errors.js';
import type { Model, ValueInfo } from '../../ir/graph.js';
import type { DType } from '../../ir/tensor.js';
import { Tensor } from '../../ir/tensor.js';
import type { Feeds } from '../../runtime/session.js';

/**
 * Sample inputs for a model: one float32 [N, ...] tensor for a single-input model, or batches of
 * named inputs (a list, or any sync or async iterable, read once).
 */
export type ModelData = Tensor | readonly Feeds[] | Iterable<Feeds> | AsyncIterable<Feeds>;

/** Rows [start, start + count) of a tensor along its first axis. */
export function sliceRows(t: Tensor, start: number, count: number): Tensor {
  const n = t.dims[0] ?? 1;
  const per = n === 0 ? 0 : t.size / n;
  return new Tensor(t.dtype, [count, ...t.dims.slice(1)], t.data.subarray(start * per, (start + count) * per) as Tensor['data']);
}

/** Throws SHAPE_MISMATCH naming the input, what the model wants and what the batch holds. */
export function checkFeeds(model: Model, feeds: Feeds): void {
  for (const info of model.graph.inputs) {
    const t = feeds[info.name];
    const want = `${info.dtype} [${info.shape.join(', ')}]`;
    if (t === undefined) throw new WhittleError('SHAPE_MISMATCH', `the data has no value for model input "${info.name}" (${want}); it holds ${Object.keys(feeds).map((k) => `"${k}"`).join(', ') || 'nothing'}`);
    const fits = t.dims.length === info.shape.length && info.shape.every((d, i) => typeof d !== 'number' || d === t.dims[i]);
    if (!fits || t.dtype !== info.dtype) throw new WhittleError('SHAPE_MISMATCH', `model input "${info.name}" expects ${want}, the data has ${t.dtype} [${t.dims.join(', ')}]; pass data shaped like the model's input`);
  }
}

/**
 * Every batch of `data` as named feeds, checked against the model's inputs; a single tensor is
 * cut into batches of `batchSize` rows for the model's first input.
 *
 * ```ts
 * const batches = await collectFeeds(model, samples); // [{ input: Tensor [256, 1, 28, 28] }, ...]
 * ```
 */
export async function collectFeeds(model: Model, data: ModelData, batchSize = 256): Promise<Feeds[]> {
  const out: Feeds[] = [];
  if (data instanceof Tensor) {
    const info = model.graph.inputs[0];
    if (info === undefined) throw new WhittleError('INVALID_GRAPH', 'the model has no input to feed');
    if (model.graph.inputs.length > 1) throw new WhittleError('BAD_ARGUMENT', `the model has ${model.graph.inputs.length} inputs (${model.graph.inputs.map((i) => i.name).join(', ')}); pass batches of named inputs instead of one tensor`);
    const n = data.dims[0] ?? 0;
    for (let s = 0; s < n; s += batchSize) out.push({ [info.name]: sliceRows(data, s, Math.min(batchSize, n - s)) });
  } else {
    for await (const f of data as AsyncIterable<Feeds>) out.push(f);
  }
  if (out.length === 0) throw new WhittleError('BAD_DATA', 'the sample data is empty; pass at least one batch');
  for (const f of out) checkFeeds(model, f);
  return out;
}

/** Random values for one input: normal floats; integers in [0, bound) (token ids stay valid). */
function randomTensor(info: ValueInfo, dims: number[], bound: number, next: () => number): Tensor {
  const t = new Tensor(info.dtype, dims);
  const d = t.data;
  const ints: readonly DType[] = ['int8', 'uint8', 'int32', 'int64'];
  for (let i = 0; i < d.length; i++) {
    if (info.dtype === 'float32' || info.dtype === 'float64') {
      // Box–Muller: standard normal, what a normalized input looks like.
      (d as Float32Array)[i] = Math.sqrt(-2 * Math.log(1 - next())) * Math.cos(2 * Math.PI * next());
    } else if (ints.includes(info.dtype)) {
      const v = Math.floor(next() * bound);
      if (d instanceof BigInt64Array) d[i] = BigInt(v);
      else (d as Int32Array)[i] = v;
    }
  }
  return t;
}

/** The largest valid index for an integer input read by Gather (an embedding), else 1 (zeros). */
function indexBound(model: Model, input: string): number {
  let bound = Infinity;
  for (const n of model.graph.nodes) {
    if (n.opType !== 'Gather' || n.inputs[1] !== input) continue;
    const table = model.graph.initializers.get(n.inputs[0] as string);
    const axis = n.attributes['axis']?.type === 'int' ? n.attributes['axis'].value : 0;
    const size = table?.dims[axis < 0 ? axis + table.dims.length : axis];
    if (size !== undefined) bound = Math.min(bound, size);
  }
  return Number.isFinite(bound) ? bound : 1;
}

/**
 * Random inputs shaped like the model's: `batches` batches of `batch` samples, symbolic dims after
 * the first set to `length`. For agreement figures when the user gives no data.
 *
 * ```ts
 * const feeds = randomFeeds(model, { batch: 16, seed: 0 });
 * ```
 */
export function randomFeeds(model: Model, o: { batch?: number; batches?: number; length?: number; seed?: number } = {}): Feeds[] {
  const rng = createRng(o.seed ?? 0);
  const next = (): number => rng.next();
  const out: Feeds[] = [];
  for (let b = 0; b < (o.batches ?? 1); b++) {
    const feeds: Feeds = {};
    for (const info of model.graph.inputs) {
      const dims = info.shape.map((d, i) => (typeof d === 'number' ? d : i === 0 ? (o.batch ?? 16) : (o.length ?? 8)));
      feeds[info.name] = randomTensor(info, dims, indexBound(model, info.name), next);
    }
    out.push(feeds);
  }
  return out;
}
