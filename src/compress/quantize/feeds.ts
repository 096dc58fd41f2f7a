// Model inputs for calibration and agreement: any number of named inputs per batch. The old form,
// one float32 [N, ...] tensor for the model's only input, is wrapped into batches of the same kind.
import type { TensorDataset } from '../../data/index.js';
import { rowSource, runBatches, tensorSource } from '../../data/index.js';
import { WhittleError } from '../../ir/errors.js';
import type { Model } from '../../ir/graph.js';
import { Tensor } from '../../ir/tensor.js';
import type { Feeds } from '../../runtime/session.js';

/**
 * Sample inputs for a model: one float32 [N, ...] tensor for a single-input model, a
 * `TensorDataset` (what `loadDataForModel` reads from .npy/.npz/JSONL/images), or batches of
 * named inputs (a list, or any sync or async iterable, read once).
 */
export type ModelData = Tensor | TensorDataset | readonly Feeds[] | Iterable<Feeds> | AsyncIterable<Feeds>;

function isTensorDataset(d: ModelData): d is TensorDataset {
  return typeof (d as TensorDataset).count === 'number' && Array.isArray((d as TensorDataset).inputs);
}

/** Throws SHAPE_MISMATCH naming the input, what the model wants and what the batch holds. */
export function checkFeeds(model: Model, feeds: Feeds): void {
  for (const info of model.graph.inputs) {
    const t = feeds[info.name];
    const want = `${info.dtype} [${info.shape.join(', ')}]`;
    if (t === undefined)
      throw new WhittleError(
        'SHAPE_MISMATCH',
        `the data has no value for model input "${info.name}" (${want}); it holds ${
          Object.keys(feeds)
            .map((k) => `"${k}"`)
            .join(', ') || 'nothing'
        }`,
      );
    const fits = t.dims.length === info.shape.length && info.shape.every((d, i) => typeof d !== 'number' || d === t.dims[i]);
    if (!fits || t.dtype !== info.dtype)
      throw new WhittleError(
        'SHAPE_MISMATCH',
        `model input "${info.name}" expects ${want}, the data has ${t.dtype} [${t.dims.join(', ')}]; pass data shaped like the model's input`,
      );
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
    if (model.graph.inputs.length > 1)
      throw new WhittleError(
        'BAD_ARGUMENT',
        `the model has ${model.graph.inputs.length} inputs (${model.graph.inputs.map((i) => i.name).join(', ')}); pass batches of named inputs instead of one tensor`,
      );
    await runBatches(rowSource(data, info.name), { batchSize }, ({ feeds }) => {
      out.push(feeds);
    });
  } else if (isTensorDataset(data)) {
    await runBatches(tensorSource(data), { batchSize }, ({ feeds }) => {
      out.push(feeds);
    });
  } else {
    for await (const f of data as AsyncIterable<Feeds>) out.push(f);
  }
  if (out.length === 0) throw new WhittleError('BAD_DATA', 'the sample data is empty; pass at least one batch');
  for (const f of out) checkFeeds(model, f);
  return out;
}
