// What a Whittle pipeline records in the model it writes, so that later commands (eval, decode,
// a further compression) feed it the same way it was trained.
import type { Normalization, SplitRecord } from '../data/index.js';
import { parseSplitRecord } from '../data/index.js';
import type { Model } from '../ir/graph.js';

/** Metadata key of the input normalization a model was trained with. */
export const NORMALIZE_KEY = 'whittle.normalize';

/** `model` with its input normalization recorded in its metadata. */
export function withNormalization(model: Model, normalization: Normalization): Model {
  return { ...model, metadata: { ...model.metadata, [NORMALIZE_KEY]: normalization } };
}

/** Metadata key of the training/validation split a model was trained with (a JSON `SplitRecord`). */
export const SPLIT_KEY = 'whittle.split';

/** The split recorded in `model`, if any (and if readable). */
export function recordedSplit(model: Model): SplitRecord | undefined {
  const text = model.metadata[SPLIT_KEY];
  return text === undefined ? undefined : parseSplitRecord(text);
}

/**
 * `model` with `record` as its split; with `undefined`, without any recorded split (a model that
 * has now seen training samples of more than one split has none that later commands could trust).
 */
export function withSplit(model: Model, record: SplitRecord | undefined): Model {
  const { [SPLIT_KEY]: _old, ...rest } = model.metadata;
  return { ...model, metadata: record === undefined ? rest : { ...rest, [SPLIT_KEY]: JSON.stringify(record) } };
}
