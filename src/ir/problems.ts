// What makes a well-formed model unusable: an opset onnxruntime cannot run, no outputs, input
// shapes no batch could have, non-finite weights. Every command refuses such a model with these
// messages; `info` shows it anyway and lists them.
import { WhittleError } from './errors.js';
import type { Graph, Model } from './graph.js';
import { readLimits } from './limits.js';
import { printable } from './text.js';

/** The ai.onnx opsets onnxruntime-node 1.30 loads (it refuses newer ones; ONNX's own opset-1 and -6 node tests run in it). */
export const MIN_OPSET = 1;
export const MAX_OPSET = 26;

/** One float initializer holding NaN or ±Infinity. */
export interface NonFiniteTensor {
  name: string;
  nan: number;
  infinite: number;
  size: number;
}

/**
 * The float initializers holding NaN or ±Infinity (subgraphs included), with counts.
 *
 * ```ts
 * nonFiniteWeights(model.graph); // [{ name: 'fc1.weight', nan: 12, infinite: 0, size: 235200 }]
 * ```
 */
export function nonFiniteWeights(graph: Graph): NonFiniteTensor[] {
  const out: NonFiniteTensor[] = [];
  const walk = (g: Graph): void => {
    for (const [name, t] of g.initializers) {
      if (t.dtype !== 'float32' && t.dtype !== 'float64') continue;
      const d = t.data as Float32Array | Float64Array;
      let nan = 0;
      let infinite = 0;
      for (let i = 0; i < d.length; i++) {
        const v = d[i] as number;
        // v - v is NaN exactly for NaN and ±Infinity: one test in the common case.
        if (v - v !== 0) {
          if (Number.isNaN(v)) nan++;
          else infinite++;
        }
      }
      if (nan + infinite > 0) out.push({ name, nan, infinite, size: d.length });
    }
    for (const n of g.nodes) for (const a of Object.values(n.attributes)) if (a.type === 'graph') walk(a.value);
  };
  walk(graph);
  return out;
}

/**
 * Everything that makes `model` unusable by Whittle's commands, as errors (empty when none).
 *
 * ```ts
 * for (const p of modelProblems(model)) console.warn(p.message);
 * ```
 */
export function modelProblems(model: Model, source = 'the model'): WhittleError[] {
  const problems: WhittleError[] = [];
  const opset = model.opsetImports.find((o) => o.domain === '' || o.domain === 'ai.onnx')?.version;
  if (opset !== undefined && (opset < MIN_OPSET || opset > MAX_OPSET))
    problems.push(
      new WhittleError(
        'BAD_ONNX',
        `${source} uses ai.onnx opset ${opset}; onnxruntime runs opsets ${MIN_OPSET}–${MAX_OPSET}: convert it (onnx.version_converter.convert_version(model, 17))`,
      ),
    );
  if (model.graph.outputs.length === 0)
    problems.push(new WhittleError('INVALID_GRAPH', `${source} has no graph outputs, so nothing can be computed from it; re-export it with its outputs`));
  const { maxElements } = readLimits();
  for (const v of model.graph.inputs) {
    if (model.graph.initializers.has(v.name) || v.shape === undefined) continue;
    const fixed = v.shape.filter((d): d is number => typeof d === 'number');
    const size = fixed.reduce((a, d) => a * d, 1);
    if (fixed.some((d) => !Number.isSafeInteger(d) || d < 0) || size > maxElements)
      problems.push(
        new WhittleError(
          'BAD_ONNX',
          `${source}: input "${printable(v.name)}" has shape [${v.shape.join(', ')}], which no tensor can have (negative, or past ${maxElements} elements); the file is damaged`,
        ),
      );
  }
  const bad = nonFiniteWeights(model.graph);
  if (bad.length > 0) {
    const total = bad.reduce((a, t) => a + t.nan + t.infinite, 0);
    const list = bad
      .slice(0, 5)
      .map((t) => `"${printable(t.name)}" ${t.nan + t.infinite} of ${t.size}${t.nan > 0 ? ` (${t.nan} NaN)` : ''}`)
      .join(', ');
    problems.push(
      new WhittleError(
        'BAD_ONNX',
        `${source} has ${total} non-finite weight values (NaN/Infinity) in ${bad.length} tensor(s): ${list}${bad.length > 5 ? ', ...' : ''}; the training that wrote it diverged or the file is damaged: retrain it, or resume from a checkpoint before the divergence (quantizing or pruning would hide the damage)`,
      ),
    );
  }
  return problems;
}
