// What a Whittle pipeline records in the model it writes, so that later commands (eval, decode,
// a further compression) feed it the same way it was trained.
import type { Normalization } from '../data/index.js';
import type { Model } from '../ir/graph.js';

/** Metadata key of the input normalization a model was trained with. */
export const NORMALIZE_KEY = 'whittle.normalize';

/** `model` with its input normalization recorded in its metadata. */
export function withNormalization(model: Model, normalization: Normalization): Model {
  return { ...model, metadata: { ...model.metadata, [NORMALIZE_KEY]: normalization } };
}
