// The search space per layer, by target: the discrete values each decision can take, the dense
// starting point, a stable key for a candidate, and the seeded mutation the population uses.
import type { Rng } from '../data/index.js';
import type { Model } from '../ir/graph.js';
import { isLinearLayer, prunableLayers } from '../compress/prune/index.js';
import { thinnableLayers } from './compress.js';
import type { Candidate, LayerPolicy, SparsityMode, Target, WeightFormat } from './types.js';

export interface LayerSpace {
  name: string;
  /** Weights in the layer (for size estimates). */
  params: number;
  widths: readonly number[];
  sparsities: readonly number[];
  formats: readonly WeightFormat[];
}

export interface SearchSpace {
  target: Target;
  layers: LayerSpace[];
  lrs: readonly number[];
  /** How trials sparsify (size target); the first is the greedy path's. */
  modes: readonly SparsityMode[];
}

export const SIZE_SPARSITIES = [0, 0.5, 0.7, 0.8, 0.85, 0.9, 0.93, 0.95, 0.97, 0.98, 0.99] as const;
export const WIDTHS = [1, 0.875, 0.75, 0.625, 0.5, 0.375, 0.25] as const;
const SIZE_FORMATS: readonly WeightFormat[] = ['fp16', 'k8', 'k7', 'k6', 'k5', 'k4', 'int4', 'k3', 'k2', 'ternary'];

/**
 * The space for a model and target. size: sparsity × k-means bits (or float16) per layer, width
 * where channels can be thinned; latency: width × float/int8; flops: width.
 *
 * ```ts
 * const space = searchSpace(model, 'size');
 * ```
 */
export function searchSpace(model: Model, target: Target, lrs: readonly number[] = [0.01], modes: readonly SparsityMode[] = ['magnitude']): SearchSpace {
  const thin = thinnableLayers(model);
  // Recurrent weights (an LSTM's NODE.W and NODE.R) take sparsity and k-means bits (size); they are
  // never thinned, and latency's int8 and the FLOPs target act on Gemm/MatMul/Conv layers only.
  const layers = prunableLayers(model.graph)
    .filter((l) => target === 'size' || isLinearLayer(l))
    .map((l): LayerSpace => {
      const params = l.dims.reduce((a, d) => a * d, 1);
      const widths = thin.has(l.name) ? [...WIDTHS] : [1];
      if (target === 'size') return { name: l.name, params, widths, sparsities: [...SIZE_SPARSITIES], formats: SIZE_FORMATS };
      if (target === 'latency') return { name: l.name, params, widths, sparsities: [0], formats: ['float', 'int8'] };
      return { name: l.name, params, widths, sparsities: [0], formats: ['float'] };
    });
  return { target, layers, lrs, modes: target === 'size' ? modes : ['magnitude'] };
}

/** The starting point: every layer whole, dense, at its first format (float16 / float). */
export function denseCandidate(space: SearchSpace): Candidate {
  return {
    layers: Object.fromEntries(space.layers.map((l) => [l.name, { width: 1, sparsity: 0, format: l.formats[0] as WeightFormat }])),
    lr: space.lrs[0] as number,
    ...(space.modes[0] === 'variational' ? { mode: 'variational' as const } : {}),
  };
}

/** A stable string for a candidate: the same decisions give the same key. */
export function candidateKey(c: Candidate): string {
  const layers = Object.keys(c.layers)
    .sort()
    .map((k) => {
      const p = c.layers[k] as LayerPolicy;
      return `${k}:${p.width}/${p.sparsity}/${p.format}`;
    });
  return `${layers.join(',')}|lr${c.lr}${c.mode === 'variational' ? '|vd' : ''}${c.exact === true ? '|exact' : ''}`;
}

function step<T>(values: readonly T[], current: T, delta: number): T {
  const i = Math.max(0, values.indexOf(current));
  return values[Math.min(values.length - 1, Math.max(0, i + delta))] as T;
}

/** Candidate with one or more decisions moved one notch (seeded). */
export function mutate(c: Candidate, space: SearchSpace, rng: Rng, rate = 0.35): Candidate {
  const out: Candidate = { ...c, layers: structuredClone(c.layers) };
  let changed = false;
  const pick = (n: number): number => Math.floor(rng.next() * n);
  for (let attempt = 0; !changed && attempt < 20; attempt++) {
    for (const l of space.layers) {
      if (rng.next() > rate) continue;
      const p = out.layers[l.name] as LayerPolicy;
      const dims = ['width', 'sparsity', 'format'].filter((d) => (d === 'width' ? l.widths : d === 'sparsity' ? l.sparsities : l.formats).length > 1);
      if (dims.length === 0) continue;
      const dim = dims[pick(dims.length)];
      const delta = rng.next() < 0.5 ? -1 : 1;
      if (dim === 'width') p.width = step(l.widths, p.width, delta);
      else if (dim === 'sparsity') p.sparsity = step(l.sparsities, p.sparsity, delta);
      else p.format = step(l.formats, p.format, delta);
      changed ||= candidateKey(out) !== candidateKey(c);
    }
    if (!changed && space.lrs.length > 1 && rng.next() < 0.2) {
      out.lr = step(space.lrs, out.lr, rng.next() < 0.5 ? -1 : 1);
      changed = out.lr !== c.lr;
    }
    if (!changed && space.modes.length > 1 && rng.next() < 0.2) {
      const mode = space.modes[pick(space.modes.length)];
      if (mode === 'variational') out.mode = mode;
      else delete out.mode;
      changed = (out.mode ?? 'magnitude') !== (c.mode ?? 'magnitude');
    }
  }
  return out;
}

/** Uniform crossover of two parents, layer by layer (seeded). */
export function crossover(a: Candidate, b: Candidate, rng: Rng): Candidate {
  const layers: Record<string, LayerPolicy> = {};
  for (const k of Object.keys(a.layers)) layers[k] = { ...((rng.next() < 0.5 ? a.layers[k] : b.layers[k]) ?? (a.layers[k] as LayerPolicy)) };
  const child: Candidate = { layers, lr: rng.next() < 0.5 ? a.lr : b.lr };
  const mode = rng.next() < 0.5 ? a.mode : b.mode;
  return mode === 'variational' ? { ...child, mode } : child;
}
