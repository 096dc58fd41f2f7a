// Weight sharing on a model: k-means per layer over the weights that survived pruning, the
// training graph in which each centroid is one trainable parameter, and back to dense weights.
import { WhittleError } from '../../ir/errors.js';
import type { Model } from '../../ir/graph.js';
import { attr, GraphBuilder } from '../../ir/graph.js';
import { Tensor } from '../../ir/tensor.js';
import type { SharedWeight } from '../codec/container.js';
import { MAX_INDEX_BITS, sharedValues } from '../codec/container.js';
import type { PrunableLayer } from '../prune/layers.js';
import { resolveLayers } from '../prune/layers.js';
import { kmeans1d } from './kmeans.js';

/** Suffix of the trainable codebook initializer in the shared-weight training model. */
export const CODEBOOK_SUFFIX = '.codebook';

/**
 * Clusters each listed weight's nonzero values into 2^bits centroids (zeros stay pruned).
 * Returns the model with the quantized values and the shared form of each weight.
 *
 * ```ts
 * const { model: q, shared } = kmeansShareWeights(pruned, new Map([['fc1.weight', 6]]));
 * ```
 */
export function kmeansShareWeights(
  model: Model,
  bits: ReadonlyMap<string, number>,
  options: { maxIterations?: number } = {},
): { model: Model; shared: Map<string, SharedWeight> } {
  const shared = new Map<string, SharedWeight>();
  for (const [name, b] of bits) {
    const t = model.graph.initializers.get(name);
    if (t === undefined)
      throw new WhittleError('BAD_ARGUMENT', `cannot share "${name}": no such weight (weights: ${[...model.graph.initializers.keys()].join(', ')})`);
    if (t.dtype !== 'float32') throw new WhittleError('BAD_ARGUMENT', `cannot share "${name}": it is ${t.dtype}, k-means sharing needs float32`);
    if (!(Number.isInteger(b) && b >= 1 && b <= MAX_INDEX_BITS))
      throw new WhittleError('BAD_ARGUMENT', `"${name}": ${b} bits is unsupported for k-means sharing; use 1–${MAX_INDEX_BITS}`);
    const data = t.data as Float32Array;
    const kept: number[] = [];
    for (let i = 0; i < data.length; i++) if (data[i] !== 0) kept.push(i);
    const { centroids, assignment } = kmeans1d(
      Float32Array.from(kept, (i) => data[i] as number),
      2 ** b,
      options,
    );
    const full = new Int32Array(data.length).fill(-1);
    kept.forEach((i, j) => (full[i] = assignment[j] as number));
    shared.set(name, { dims: [...t.dims], bits: b, codebook: centroids.length > 0 ? centroids : new Float32Array(1), assignment: full });
  }
  return { model: withSharedValues(model, shared), shared };
}

/** The model with each shared weight replaced by its dense values. */
export function withSharedValues(model: Model, shared: ReadonlyMap<string, SharedWeight>): Model {
  const g = model.graph.clone();
  for (const [name, w] of shared) g.initializers.set(name, new Tensor('float32', w.dims, sharedValues(w)));
  return { ...model, graph: g, metadata: { ...model.metadata } };
}

/**
 * The model in which each shared weight W is computed as Gather([0, ...codebook], index):
 * the codebook `W.codebook` is the trainable parameter, so training sums the gradients of each
 * cluster's members into its centroid (Gather's gradient is a ScatterND add) and pruned weights
 * (index 0, a constant scalar zero) stay zero.
 *
 * ```ts
 * const trainable = sharedTrainingModel(quantized, shared); // train it, then readCodebooks(...)
 * ```
 */
export function sharedTrainingModel(model: Model, shared: ReadonlyMap<string, SharedWeight>): Model {
  const g = model.graph.clone();
  const b = new GraphBuilder(g, 'share');
  const nodes = g.nodes;
  g.nodes = [];
  for (const [name, w] of shared) {
    if (!g.initializers.delete(name)) throw new WhittleError('BAD_ARGUMENT', `shared weight "${name}" is not an initializer of the model`);
    const codebook = `${name}${CODEBOOK_SUFFIX}`;
    g.initializers.set(codebook, new Tensor('float32', [w.codebook.length], w.codebook.slice()));
    const zero = b.op1('Unsqueeze', [b.constant(Tensor.scalar('float32', 0), `${name}.zero`), b.constant(Tensor.int64([0]), 'axis0')]);
    const table = b.op1('Concat', [zero, codebook], { axis: attr.int(0) });
    const index = b.constant(
      Tensor.fromArray(
        'int64',
        w.dims,
        Array.from(w.assignment, (c) => c + 1),
      ),
      `${name}.index`,
    );
    b.op('Gather', [table, index], { axis: attr.int(0) }, [name]);
  }
  g.nodes.push(...nodes);
  return { ...model, graph: g, metadata: { ...model.metadata } };
}

/** The shared weights with the codebooks a trained `sharedTrainingModel` holds. */
export function readCodebooks(trained: Model, shared: ReadonlyMap<string, SharedWeight>): Map<string, SharedWeight> {
  const out = new Map<string, SharedWeight>();
  for (const [name, w] of shared) {
    const t = trained.graph.initializers.get(`${name}${CODEBOOK_SUFFIX}`);
    if (t === undefined || t.size !== w.codebook.length)
      throw new WhittleError('BAD_ARGUMENT', `the trained model has no codebook "${name}${CODEBOOK_SUFFIX}" of ${w.codebook.length} entries`);
    out.set(name, { ...w, codebook: Float32Array.from(t.data as Float32Array) });
  }
  return out;
}

/** Replaces a shared-training model's Gather nodes by the dense weights: a plain model again. */
export function denseFromShared(trained: Model, original: Model, shared: ReadonlyMap<string, SharedWeight>): Model {
  const g = original.graph.clone();
  for (const [k, t] of trained.graph.initializers) if (g.initializers.has(k)) g.initializers.set(k, t);
  return withSharedValues({ ...original, graph: g }, readCodebooks(trained, shared));
}

/**
 * The weight initializer a plan entry names: a layer as pruning names it (a Gemm/Conv/MatMul node,
 * whose weight is input 1; a recurrent node's `NODE.W` or `NODE.R`; an embedding's Gather node,
 * whose table is input 0) or an initializer itself.
 */
export function resolveWeight(model: Model, layer: string): { weight: string; layer: string } {
  if (model.graph.initializers.has(layer)) {
    const node = model.graph.nodes.find((n) => n.inputs.includes(layer));
    return { weight: layer, layer: node?.name ?? layer };
  }
  // A layer name: the same lookup (and message listing the layers) as pruning's.
  const l = resolveLayers(model.graph, [layer])[0] as PrunableLayer;
  return { weight: l.weight, layer: l.name };
}
