// A graph input that takes raw bytes and normalizes them in the graph: the training loop then
// copies pixel bytes instead of converting every pixel to a float in JavaScript, which cost
// LeNet-300-100 a fifth of its step time.
import { WhittleError } from '../ir/errors.js';
import type { Graph } from '../ir/graph.js';
import { attr, GraphBuilder } from '../ir/graph.js';
import { ONNX_DTYPE, Tensor } from '../ir/tensor.js';

/** value = (byte / scale − mean) / std; the identity parts (scale 1, mean 0, std 1) emit no node. */
export interface ByteScaling {
  scale: number;
  mean: number;
  std: number;
}

/**
 * Replaces float32 input `input` of `graph` (mutated) by a uint8 input `${input}.bytes` and
 * computes `input` from it at the front of the graph, so every reader of `input` (subgraphs
 * included) is unchanged. Returns the new input's name.
 *
 * ```ts
 * const fed = byteInput(g, 'input.stacked', { scale: 255, mean: 0, std: 1 }); // feed uint8 pixels
 * ```
 */
export function byteInput(graph: Graph, input: string, s: ByteScaling): string {
  const at = graph.inputs.findIndex((v) => v.name === input);
  const info = graph.inputs[at];
  if (info === undefined || info.dtype !== 'float32')
    throw new WhittleError(
      'BAD_ARGUMENT',
      `byteInput: "${input}" is not a float32 input of graph "${graph.name}"; pass the name of the float32 input that takes the pixels`,
    );
  const bytes = `${input}.bytes`;
  graph.inputs[at] = { ...info, name: bytes, dtype: 'uint8' };
  const before = graph.nodes.length;
  const b = new GraphBuilder(graph, 'bytes');
  const c = (v: number, hint: string): string => b.constant(Tensor.scalar('float32', v), hint);
  const steps: [string, number, number][] = [
    ['Div', s.scale, 1],
    ['Sub', s.mean, 0],
    ['Div', s.std, 1],
  ];
  const kept = steps.filter(([, v, identity]) => v !== identity);
  let v = b.op('Cast', [bytes], { to: attr.int(ONNX_DTYPE.float32) }, kept.length === 0 ? [input] : 1)[0] as string;
  kept.forEach(([op, value], i) => {
    v = b.op(op, [v, c(value, op === 'Sub' ? 'mean' : 'divisor')], {}, i === kept.length - 1 ? [input] : 1)[0] as string;
  });
  // The new nodes first: they feed everything else.
  graph.nodes.unshift(...graph.nodes.splice(before));
  return bytes;
}
