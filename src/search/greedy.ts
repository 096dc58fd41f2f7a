// The greedy sensitivity-driven allocator: from the dense model, repeatedly take the one-notch
// move (a layer's sparsity up, bits down, int8, width down) that costs the least prior accuracy
// per unit of cost saved. The moves it takes, in order, form a path from dense to extreme; the
// search then spends trials along that path to find where fine-tuned accuracy stops holding.
import type { Prior } from './prior.js';
import { priorDrop } from './prior.js';
import type { SearchSpace } from './space.js';
import { candidateKey } from './space.js';
import type { Candidate, LayerPolicy } from './types.js';
import { sharedBits } from './types.js';

/** The cost the search lowers, estimated from a candidate's decisions (bytes, ms or FLOPs). */
export type CostEstimate = (c: Candidate) => number;

/** Estimated container bytes: dense float16, or nonzeros × (cluster bits + relative-index bits) plus codebook. */
export function estimateBytes(space: SearchSpace): CostEstimate {
  return (c) => {
    let bytes = 0;
    let widthIn = 1;
    for (const l of space.layers) {
      const p = c.layers[l.name] as LayerPolicy;
      const n = l.params * p.width * widthIn;
      widthIn = p.width;
      const b = sharedBits(p.format);
      if (b === undefined) bytes += (p.format === 'fp16' ? 2 : p.format === 'int8' ? 1 : 4) * n;
      else {
        const nnz = n * (1 - p.sparsity);
        const gapBits = p.sparsity > 0 ? Math.max(1, Math.log2(1 / (1 - p.sparsity)) + 1.5) : 0;
        bytes += (nnz * (0.85 * b + gapBits)) / 8 + 2 * 2 ** b;
      }
    }
    return bytes;
  };
}

/** FLOPs-proportional estimate: each layer's weights × its output width × its input width. */
export function estimateFlops(space: SearchSpace): CostEstimate {
  return (c) => {
    let total = 0;
    let widthIn = 1;
    for (const l of space.layers) {
      const p = c.layers[l.name] as LayerPolicy;
      total += l.params * p.width * widthIn;
      widthIn = p.width;
    }
    return total;
  };
}

/** The summed prior accuracy drop of a candidate's decisions (taken as additive). */
export function estimatedDrop(prior: Prior, c: Candidate): number {
  let d = 0;
  for (const [name, p] of Object.entries(c.layers)) {
    d += priorDrop(prior, name, 'sparsity', p.sparsity) + priorDrop(prior, name, 'width', p.width) + priorDrop(prior, name, 'format', p.format);
  }
  return d;
}

function neighbours(c: Candidate, space: SearchSpace): Candidate[] {
  const out: Candidate[] = [];
  for (const l of space.layers) {
    const p = c.layers[l.name] as LayerPolicy;
    const next = (values: readonly (number | string)[], v: number | string): number | string | undefined => values[values.indexOf(v) + 1];
    const s = next(l.sparsities, p.sparsity);
    const w = next(l.widths, p.width);
    const f = next(l.formats, p.format);
    if (s !== undefined && sharedBits(p.format) !== undefined) out.push({ ...c, layers: { ...c.layers, [l.name]: { ...p, sparsity: s as number } } });
    if (w !== undefined) out.push({ ...c, layers: { ...c.layers, [l.name]: { ...p, width: w as number } } });
    if (f !== undefined) out.push({ ...c, layers: { ...c.layers, [l.name]: { ...p, format: f as LayerPolicy['format'] } } });
  }
  return out;
}

/**
 * The greedy path from `start`: each step the neighbour with the least prior drop per unit of
 * estimated cost saved, until no move lowers the cost.
 *
 * ```ts
 * const path = greedyPath(denseCandidate(space), space, prior, estimateBytes(space));
 * ```
 */
export function greedyPath(start: Candidate, space: SearchSpace, prior: Prior, cost: CostEstimate, maxSteps = 500): Candidate[] {
  const path = [start];
  let current = start;
  for (let i = 0; i < maxSteps; i++) {
    const c0 = cost(current);
    const d0 = estimatedDrop(prior, current);
    let best: { c: Candidate; score: number } | undefined;
    for (const n of neighbours(current, space)) {
      const saved = c0 - cost(n);
      if (!(saved > 0)) continue;
      // A small floor on the drop keeps free moves ordered by how much they save.
      const score = (Math.max(0, estimatedDrop(prior, n) - d0) + 1e-6) / saved;
      if (best === undefined || score < best.score || (score === best.score && candidateKey(n) < candidateKey(best.c))) best = { c: n, score };
    }
    if (best === undefined) break;
    current = best.c;
    path.push(current);
  }
  return path;
}
