// Dimension arithmetic and constant-input helpers shared by the shape rules of the data-movement
// ops (Reshape, Slice, Concat, ...), where dims may be symbolic.
import { WhittleError } from '../ir/errors.js';
import { getInts } from '../ir/graph.js';
import type { Dim, Node } from '../ir/graph.js';
import type { TypeShape } from '../ir/shape.js';
import type { Tensor } from '../ir/tensor.js';
import { normAxis } from './util.js';

/** A fresh symbolic dim for output `out`, axis `axis`, named like the ONNX reader names anonymous dims. */
export function unknownDim(node: Node, axis: number, out = 0): string {
  return `${node.outputs[out] ?? node.name}_d${axis}`;
}

export function formatShape(shape: readonly Dim[]): string {
  return `[${shape.join(', ')}]`;
}

export function shapeError(node: Node, message: string): WhittleError {
  return new WhittleError('SHAPE_MISMATCH', `${node.opType} "${node.name}": ${message}`);
}

/**
 * A product of dims kept as a numeric factor times a multiset of symbols, so that
 * ['N', 3, 4] / ['N', 12] can be simplified to 1.
 */
export interface DimProduct {
  factor: number;
  symbols: string[];
}

export function dimProduct(dims: readonly Dim[]): DimProduct {
  let factor = 1;
  const symbols: string[] = [];
  for (const d of dims) {
    if (typeof d === 'number') factor *= d;
    else symbols.push(d);
  }
  return { factor, symbols: symbols.sort() };
}

/** The product as one Dim: a number, a lone symbol, or a readable expression such as 'N*C'. */
export function productDim(p: DimProduct): Dim {
  if (p.symbols.length === 0) return p.factor;
  if (p.factor === 0) return 0;
  const syms = p.symbols.join('*');
  return p.factor === 1 ? syms : `${syms}*${p.factor}`;
}

/** num / den when it simplifies exactly, else undefined. */
export function divideProducts(num: DimProduct, den: DimProduct): DimProduct | undefined {
  const rest = [...num.symbols];
  for (const s of den.symbols) {
    const i = rest.indexOf(s);
    if (i < 0) return undefined;
    rest.splice(i, 1);
  }
  if (den.factor === 0 || num.factor % den.factor !== 0) return undefined;
  return { factor: num.factor / den.factor, symbols: rest };
}

/** The integer values of constant input i (undefined when the input is absent or computed). */
export function constantInts(node: Node, constant: (i: number) => Tensor | undefined, i: number): number[] | undefined {
  if (!node.inputs[i]) return undefined;
  return constant(i)?.toNumbers();
}

/**
 * Axes given either as an attribute (older opsets) or as constant input `inputIndex` (newer
 * ones), normalized against `rank`; undefined when neither is present.
 */
export function axesOf(node: Node, constant: (i: number) => Tensor | undefined, inputIndex: number, rank: number): number[] | undefined {
  let axes = getInts(node, 'axes');
  if (axes === undefined && node.inputs[inputIndex]) {
    const t = constant(inputIndex);
    if (t === undefined)
      throw new WhittleError(
        'UNSUPPORTED_OP',
        `${node.opType} "${node.name}" takes its axes from a computed value; Whittle needs them constant (an initializer or a Constant node)`,
      );
    axes = t.toNumbers();
  }
  if (axes === undefined) return undefined;
  const norm = axes.map((a) => normAxis(node, a, rank));
  if (new Set(norm).size !== norm.length) throw shapeError(node, `axes [${axes.join(', ')}] repeat an axis for rank ${rank}`);
  return norm;
}

/** Dims that must agree (e.g. Concat's non-axis dims): the known one wins over a symbol; undefined when they conflict. */
export function unifyDim(a: Dim, b: Dim): Dim | undefined {
  if (a === b) return a;
  if (typeof a === 'number' && typeof b === 'number') return undefined;
  return typeof a === 'number' ? a : b;
}

/** Output shape of a unary elementwise op. */
export function sameShape(ts: TypeShape): TypeShape {
  return { dtype: ts.dtype, shape: [...ts.shape] };
}
