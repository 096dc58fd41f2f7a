// One trial: a candidate applied to the input model with a short fine-tune, measured on the
// validation split (never the test set). Pure function of the task: the same task gives the same
// result in any process (one ORT thread, seeded order), which is what makes the front repeatable.
import { readFileSync } from 'node:fs';
import { WhittleError } from '../ir/errors.js';
import type { Model } from '../ir/graph.js';
import { decodeModel } from '../ir/onnx.js';
import { modelStats } from '../ir/stats.js';
import { SHAPE_RULES } from '../ops/index.js';
import { evaluate } from '../train/evaluate.js';
import { compressCandidate } from './compress.js';
import { searchData, trialData } from './data.js';
import type { TrialResult, TrialTask } from './types.js';
import { WHITTLE_VERSION } from './version.js';

/** Fetches the bytes of a model the queue stores (`{ blob }`); the local pool passes paths. */
export type BlobReader = (key: string) => Promise<Uint8Array>;

const models = new Map<string, Model>();

async function taskModel(task: TrialTask, readBlob?: BlobReader): Promise<Model> {
  const id = 'path' in task.model ? `path:${task.model.path}` : `blob:${task.model.blob}`;
  let m = models.get(id);
  if (m === undefined) {
    let bytes: Uint8Array;
    if ('path' in task.model) bytes = readFileSync(task.model.path);
    else {
      if (readBlob === undefined) throw new WhittleError('BAD_ARGUMENT', `trial ${task.key} names a stored model but this worker has no store to read it from`);
      bytes = await readBlob(task.model.blob);
    }
    m = decodeModel(bytes, id);
    models.set(id, m);
  }
  return m;
}

/**
 * Runs one trial.
 *
 * ```ts
 * const r = await runTrial(task); // r.valAccuracy, r.bytes
 * ```
 */
export async function runTrial(task: TrialTask, readBlob?: BlobReader): Promise<TrialResult> {
  if (task.version !== WHITTLE_VERSION)
    throw new WhittleError(
      'BAD_ARGUMENT',
      `trial ${task.key} comes from Whittle ${task.version}, this worker runs ${WHITTLE_VERSION}; run workers of the same version as the search`,
    );
  const t0 = performance.now();
  const model = await taskModel(task, readBlob);
  const data = await trialData(task.data, model);
  const r = await compressCandidate(model, task.candidate, data.train, {
    epochs: task.epochs,
    batchSize: task.batchSize,
    normalization: task.normalization,
    seed: task.seed,
    threads: 1,
    ...(task.roundTo !== undefined ? { roundTo: task.roundTo } : {}),
    klWeight: 1 / (await searchData(task.data, model)).train.count,
  });
  const { accuracy } = await evaluate(r.model, data.validation, { normalization: task.normalization, threads: 1 });
  const stats = modelStats(r.model, SHAPE_RULES);
  return {
    key: task.key,
    valAccuracy: accuracy,
    bytes: r.file.length,
    flops: stats.flops,
    params: stats.params,
    nonzeroParams: stats.nonzeroParams,
    seconds: (performance.now() - t0) / 1000,
  };
}
