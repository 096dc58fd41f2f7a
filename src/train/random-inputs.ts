// Random inputs that the model actually runs on: some models need their dynamic dimensions
// larger than the default (Silero VAD pads its audio by 96 samples with `reflect`, so a
// 16-sample window fails), which only running the model can tell.
import type { RandomDataOptions, TensorDataset } from '../data/index.js';
import { fixedBatchSize, randomTensorDataset, tensorBatch } from '../data/index.js';
import { WhittleError } from '../ir/errors.js';
import type { Model } from '../ir/graph.js';
import type { Backend } from '../runtime/session.js';
import { sharedSessions } from '../runtime/session.js';

/** Sizes tried for the dynamic dimensions, after the default, until the model runs. */
const LARGER_SIZES = [64, 256, 1024, 4096];

/**
 * `randomTensorDataset(model, options)` with the first size of the dynamic dimensions (the
 * default, then 64, 256, 1024, 4096) on which one sample runs in onnxruntime; throws the
 * default size's failure, with what to do, when none does.
 *
 * ```ts
 * const ds = await runnableRandomData(vad, { count: 8, threads: 1 }); // sequence 1024: the VAD runs
 * ```
 */
export async function runnableRandomData(
  model: Model,
  options: Omit<RandomDataOptions, 'dynamicSize'> & { threads?: number; backend?: Backend } = {},
): Promise<TensorDataset> {
  const { threads, backend, ...random } = options;
  const lease = await sharedSessions.acquire(model, { threads, backend });
  let first: unknown;
  try {
    for (const dynamicSize of [undefined, ...LARGER_SIZES]) {
      const ds = randomTensorDataset(model, { ...random, ...(dynamicSize !== undefined ? { dynamicSize } : {}) });
      try {
        await lease.session.run(tensorBatch(ds, 0, Math.min(ds.count, fixedBatchSize(model) ?? 1)).feeds);
        return ds;
      } catch (err) {
        first ??= err;
        // Only dynamic dimensions can change; a model without them fails the same way each time.
        if (!hasDynamicDims(model)) break;
      }
    }
  } finally {
    await lease.release();
  }
  const why = first instanceof Error ? first.message : String(first);
  throw new WhittleError('BAD_DATA', `random inputs do not run the model (${why}); pass data shaped like its inputs`);
}

function hasDynamicDims(model: Model): boolean {
  return model.graph.inputs.some((i) => i.shape.some((d) => typeof d === 'string'));
}
