import { WhittleError } from '../ir/errors.js';
import { attr, getString } from '../ir/graph.js';
import type { Dim, Node } from '../ir/graph.js';
import { Tensor } from '../ir/tensor.js';
import { shapeError } from './dims.js';
import type { OpDef } from './types.js';
import { input } from './util.js';

interface Equation {
  terms: string[];
  output: string;
}

/** Letters no equation uses for themselves, for what an ellipsis stands for. */
const SPARE = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ';

/** Parses `equation` with every '...' spelled out as letters for the given operand ranks. */
function parseEquation(node: Node, ranks: readonly number[]): Equation {
  const eq = getString(node, 'equation', '').replace(/\s+/g, '');
  const [lhs, rhs] = eq.split('->') as [string, string | undefined];
  const raw = lhs.split(',');
  if (raw.length !== ranks.length) throw shapeError(node, `equation "${eq}" names ${raw.length} operands but the node has ${ranks.length}`);
  const used = new Set(eq.replace(/[^a-zA-Z]/g, ''));
  const spare = [...SPARE].filter((c) => !used.has(c));
  let ellipsis = 0;
  raw.forEach((t, i) => {
    if (t.includes('...')) ellipsis = Math.max(ellipsis, (ranks[i] as number) - (t.length - 3));
  });
  const fill = spare.slice(0, ellipsis).join('');
  const expand = (t: string, rank?: number): string => {
    if (!t.includes('...')) return t;
    const n = rank === undefined ? ellipsis : rank - (t.length - 3);
    return t.replace('...', fill.slice(ellipsis - n));
  };
  const terms = raw.map((t, i) => expand(t, ranks[i]));
  let output: string;
  if (rhs !== undefined) output = expand(rhs);
  else {
    // Implicit output: the ellipsis letters, then the letters used once, in alphabetical order.
    const counts = new Map<string, number>();
    for (const c of terms.join('')) counts.set(c, (counts.get(c) ?? 0) + 1);
    output =
      fill +
      [...counts]
        .filter(([c, n]) => n === 1 && !fill.includes(c))
        .map(([c]) => c)
        .sort()
        .join('');
  }
  return { terms, output };
}

function render(e: Equation): string {
  return `${e.terms.join(',')}->${e.output}`;
}

/**
 * Einsum: shape from the letters' sizes. Gradient of operand i: the einsum of dY with the other
 * operands back to operand i's letters (dA of 'bhqd,bhkd->bhqk' is 'bhqk,bhkd->bhqd'); letters
 * only operand i has (summed inside it) come back by Unsqueeze + Expand. Repeated letters within
 * one operand (diagonals) have no gradient rule.
 */
export const einsum: OpDef = {
  op: 'Einsum',
  inferShape({ node, inputs }) {
    const xs = node.inputs.map((_, i) => input(node, inputs, i));
    const e = parseEquation(
      node,
      xs.map((x) => x.shape.length),
    );
    const size = new Map<string, Dim>();
    e.terms.forEach((t, i) => {
      const shape = input(node, inputs, i).shape;
      if (t.length !== shape.length) throw shapeError(node, `operand ${i} is [${shape.join(', ')}] but the equation gives it ${t.length} letters ("${t}")`);
      [...t].forEach((c, k) => {
        const d = shape[k] as Dim;
        const prev = size.get(c);
        if (prev === undefined || prev === 1) size.set(c, d);
      });
    });
    return [{ dtype: input(node, inputs, 0).dtype, shape: [...e.output].map((c) => size.get(c) ?? 1) }];
  },
  gradient({ node, b, dy, inputs, needs }) {
    const g = dy[0];
    if (g === undefined) return [];
    const e = parseEquation(
      node,
      inputs.map((x) => x?.shape.length ?? 0),
    );
    return e.terms.map((term, i) => {
      if (!needs[i]) return undefined;
      if (new Set(term).size !== term.length) {
        throw new WhittleError(
          'NO_GRADIENT',
          `Einsum "${node.name}": operand ${i} repeats a letter ("${term}", a diagonal), which has no gradient rule; write it with explicit ops`,
        );
      }
      const others = e.terms.filter((_, k) => k !== i);
      const elsewhere = new Set([...e.output, ...others.join('')]);
      const kept = [...term].filter((c) => elsewhere.has(c)).join('');
      const operands = [g, ...node.inputs.filter((_, k) => k !== i)];
      let d = b.op1('Einsum', operands, { equation: attr.string(render({ terms: [e.output, ...others], output: kept })) });
      if (kept.length !== term.length) {
        const missing = [...term].flatMap((c, k) => (elsewhere.has(c) ? [] : [k]));
        d = b.op1('Expand', [b.op1('Unsqueeze', [d, b.constant(Tensor.int64(missing), 'axes')]), b.op1('Shape', [node.inputs[i] as string])]);
      }
      return d;
    });
  },
};
