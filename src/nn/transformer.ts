// Transformer layers on the ModelBuilder: a Linear over the last axis, LayerNorm, exact GELU (Erf
// form, opset 17 has no Gelu op) and multi-head self-attention laid out as PyTorch exports
// nn.MultiheadAttention (one in-projection to 3E, three Slices, Reshapes that fold the heads), so
// structured pruning's attention matcher finds its heads.
import type { Dim } from '../ir/graph.js';
import { attr } from '../ir/graph.js';
import { Tensor } from '../ir/tensor.js';
import { filled, initWeight } from './init.js';
import type { ModelBuilder } from './layers.js';

const scalar = (b: ModelBuilder, layer: string, role: string, v: number): string => b.parameter(layer, role, Tensor.scalar('float32', v));
const lastTo = (s: Dim[] | undefined, d: number): Dim[] | undefined => s && [...s.slice(0, -1), d];

/** x [..., inF] · W [inF, outF] + b: MatMul then Add, weights `${name}.weight` (Glorot) and `${name}.bias`. */
export function linear(b: ModelBuilder, x: string, inF: number, outF: number, name: string): string {
  const w = b.parameter(name, 'weight', initWeight(b.rng, [inF, outF], 'glorot'));
  const y = b.node('MatMul', [x, w], lastTo(b.shapeOf(x), outF), { name: `${name}.matmul` });
  return b.node('Add', [y, b.parameter(name, 'bias', filled([outF], 0))], b.shapeOf(y), { name });
}

/** LayerNormalization over the last axis, scale `${name}.weight` = 1 and shift `${name}.bias` = 0. */
export function layerNorm(b: ModelBuilder, x: string, features: number, name: string): string {
  const inputs = [x, b.parameter(name, 'weight', filled([features], 1)), b.parameter(name, 'bias', filled([features], 0))];
  return b.node('LayerNormalization', inputs, b.shapeOf(x), { name, attributes: { axis: attr.int(-1), epsilon: attr.float(1e-5) } });
}

/** Exact GELU: ½x(1 + erf(x/√2)). */
export function gelu(b: ModelBuilder, x: string, name: string): string {
  const s = b.shapeOf(x);
  const e = b.node('Erf', [b.node('Mul', [x, scalar(b, name, 'inv_sqrt2', Math.SQRT1_2)], s, { name: `${name}.times_inv_sqrt2` })], s, { name: `${name}.erf` });
  const onePlus = b.node('Add', [e, scalar(b, name, 'one', 1)], s, { name: `${name}.one_plus` });
  return b.node('Mul', [b.node('Mul', [x, scalar(b, name, 'half', 0.5)], s, { name: `${name}.times_half` }), onePlus], s, { name });
}

/**
 * Multi-head self-attention over x [N, T, E]: in-projection to [N, T, 3E], sliced into Q, K, V,
 * each Reshaped to [N, T, H, d] and Transposed to [N, H, T, d]; softmax(Q·Kᵀ/√d)·V; back to
 * [N, T, E] and the out-projection.
 */
export function selfAttention(b: ModelBuilder, x: string, dim: number, heads: number, name: string): string {
  const d = dim / heads;
  const s = b.shapeOf(x);
  const [n, t] = [s?.[0] ?? 'N', s?.[1] ?? 'T'];
  const qkv = linear(b, x, dim, 3 * dim, `${name}.in_proj`);
  const heads4 = [n, t, heads, d] as Dim[];
  const lastAxis = b.parameter(name, 'axes', Tensor.int64([-1]));
  const fold = ['q', 'k', 'v'].map((part, i) => {
    const p = `${name}.${part}`;
    const bound = (role: string, v: number): string => b.parameter(p, role, Tensor.int64([v]));
    const cut = b.node('Slice', [qkv, bound('start', i * dim), bound('end', (i + 1) * dim), lastAxis], lastTo(s, dim), { name: p });
    const r = b.node('Reshape', [cut, b.parameter(p, 'heads', Tensor.int64([0, 0, heads, d]))], heads4, { name: `${p}.reshape` });
    return b.node('Transpose', [r], [n, heads, t, d], { name: `${p}.transpose`, attributes: { perm: attr.ints([0, 2, 1, 3]) } });
  });
  const [q, k, v] = fold as [string, string, string];
  const kT = b.node('Transpose', [k], [n, heads, d, t], { name: `${name}.k_t`, attributes: { perm: attr.ints([0, 1, 3, 2]) } });
  const scores = b.node('MatMul', [q, kT], [n, heads, t, t], { name: `${name}.scores` });
  const scaled = b.node('Div', [scores, scalar(b, name, 'sqrt_d', Math.sqrt(d))], [n, heads, t, t], { name: `${name}.scaled` });
  const p = b.node('Softmax', [scaled], [n, heads, t, t], { name: `${name}.softmax`, attributes: { axis: attr.int(-1) } });
  const o = b.node('MatMul', [p, v], [n, heads, t, d], { name: `${name}.mix` });
  const back = b.node('Transpose', [o], heads4, { name: `${name}.merge_t`, attributes: { perm: attr.ints([0, 2, 1, 3]) } });
  const merged = b.node('Reshape', [back, b.parameter(name, 'merge_shape', Tensor.int64([0, 0, dim]))], [n, t, dim], { name: `${name}.merge` });
  return linear(b, merged, dim, dim, `${name}.out_proj`);
}
