// One-dimensional k-means for weight sharing (Deep Compression §3): centroids start evenly
// spaced over [min, max] (the paper's linear initialization, which keeps the rare large
// weights), then Lloyd iterations. In 1-D the clusters are runs of the sorted values, so each
// iteration is a sweep over sorted data.
import { WhittleError } from '../../ir/errors.js';

export interface KMeansResult {
  centroids: Float32Array;
  /** Cluster of each input value. */
  assignment: Int32Array;
  iterations: number;
}

/**
 * Clusters `values` into at most `k` centroids.
 *
 * ```ts
 * const { centroids, assignment } = kmeans1d(Float32Array.of(-1, -0.9, 0.5, 0.6), 2); // centroids ≈ [-0.95, 0.55]
 * ```
 */
export function kmeans1d(values: Float32Array, k: number, options: { maxIterations?: number } = {}): KMeansResult {
  if (!(Number.isInteger(k) && k >= 1)) throw new WhittleError('BAD_ARGUMENT', `k-means needs k ≥ 1 clusters, got ${k}`);
  const n = values.length;
  if (n === 0) return { centroids: new Float32Array(0), assignment: new Int32Array(0), iterations: 0 };
  const order = Uint32Array.from({ length: n }, (_, i) => i).sort((a, b) => (values[a] as number) - (values[b] as number));
  const sorted = Float64Array.from(order, (i) => values[i] as number);
  const lo = sorted[0] as number;
  const hi = sorted[n - 1] as number;
  let c = Float64Array.from({ length: k }, (_, j) => (k === 1 ? (lo + hi) / 2 : lo + ((hi - lo) * j) / (k - 1)));
  // Prefix sums make each cluster's mean O(1).
  const prefix = new Float64Array(n + 1);
  for (let i = 0; i < n; i++) prefix[i + 1] = (prefix[i] as number) + (sorted[i] as number);
  const starts = new Int32Array(k + 1);
  const maxIt = options.maxIterations ?? 50;
  let it = 0;
  for (; it < maxIt; it++) {
    // Cluster j holds the sorted values closer to c[j] than to its neighbours (c stays sorted).
    let i = 0;
    for (let j = 0; j < k; j++) {
      starts[j] = i;
      const bound = j === k - 1 ? Infinity : ((c[j] as number) + (c[j + 1] as number)) / 2;
      while (i < n && (sorted[i] as number) < bound) i++;
    }
    starts[k] = n;
    const next = new Float64Array(k);
    let moved = false;
    for (let j = 0; j < k; j++) {
      const a = starts[j] as number;
      const b = starts[j + 1] as number;
      next[j] = b > a ? ((prefix[b] as number) - (prefix[a] as number)) / (b - a) : (c[j] as number);
      if (Math.fround(next[j] as number) !== Math.fround(c[j] as number)) moved = true;
    }
    c = next;
    if (!moved) break;
  }
  const centroids = Float32Array.from(c);
  const assignment = new Int32Array(n);
  let j = 0;
  for (let i = 0; i < n; i++) {
    const v = sorted[i] as number;
    while (j < k - 1 && Math.abs(v - (centroids[j + 1] as number)) < Math.abs(v - (centroids[j] as number))) j++;
    assignment[order[i] as number] = j;
  }
  return { centroids, assignment, iterations: it };
}
