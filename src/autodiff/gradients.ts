// Reverse-mode differentiation of an ONNX graph: walks the nodes backwards from the loss and
// appends each op's gradient rule (standard ONNX nodes) to the same graph.
import { WhittleError } from '../ir/errors.js';
import type { Graph, Node } from '../ir/graph.js';
import { GraphBuilder } from '../ir/graph.js';
import { constantValues, inferShapes, opKey } from '../ir/shape.js';
import type { TypeShape } from '../ir/shape.js';
import { Tensor } from '../ir/tensor.js';
import { OPS, SHAPE_RULES } from '../ops/index.js';

const FLOAT_TYPES = new Set(['float32', 'float64', 'float16']);

export interface GradientOptions {
  /** Prefix for the names of gradient nodes and values. */
  prefix?: string;
}

/**
 * Appends to `graph` the nodes computing d`loss`/d`w` for every `w` in `wrt` (graph inputs or
 * initializers); returns a map from each `w` to its gradient's value name. `loss` must be a
 * scalar. Gradients of values used several times are summed.
 *
 * ```ts
 * const grads = addGradients(graph, 'loss', ['fc1.weight', 'fc1.bias']);
 * graph.outputs.push({ name: grads.get('fc1.weight')!, dtype: 'float32', shape: [300, 784] });
 * ```
 */
export function addGradients(graph: Graph, loss: string, wrt: readonly string[], options: GradientOptions = {}): Map<string, string> {
  const constants = constantValues(graph);
  const shapes = inferShapes(graph, SHAPE_RULES, constants);
  const lossShape = shapes.get(loss);
  if (lossShape === undefined) throw new WhittleError('INVALID_GRAPH', `loss value "${loss}" is not produced by the graph`);
  if (lossShape.shape.length !== 0 && !(lossShape.shape.length === 1 && lossShape.shape[0] === 1)) {
    throw new WhittleError('INVALID_GRAPH', `loss "${loss}" must be a scalar, got shape [${lossShape.shape.join(', ')}]; reduce it with ReduceMean first`);
  }

  // Values that depend on a parameter (forward reachable) …
  const dependsOnWrt = new Set<string>(wrt);
  for (const n of graph.nodes) {
    if (n.inputs.some((i) => dependsOnWrt.has(i))) for (const o of n.outputs) if (FLOAT_TYPES.has(shapes.get(o)?.dtype ?? '')) dependsOnWrt.add(o);
  }
  // … and nodes whose outputs reach the loss (backward reachable).
  const reachesLoss = new Set<string>([loss]);
  const relevant: Node[] = [];
  for (let i = graph.nodes.length - 1; i >= 0; i--) {
    const n = graph.nodes[i] as Node;
    if (!n.outputs.some((o) => reachesLoss.has(o))) continue;
    if (!n.inputs.some((x) => dependsOnWrt.has(x))) continue;
    relevant.push(n);
    for (const x of n.inputs) reachesLoss.add(x);
  }

  const b = new GraphBuilder(graph, options.prefix ?? 'grad');
  const contributions = new Map<string, string[]>();
  const push = (value: string, g: string): void => {
    const list = contributions.get(value);
    if (list === undefined) contributions.set(value, [g]);
    else list.push(g);
  };
  const total = (value: string): string | undefined => {
    const list = contributions.get(value);
    if (list === undefined || list.length === 0) return undefined;
    if (list.length === 1) return list[0];
    const s = b.op1('Sum', list);
    contributions.set(value, [s]);
    return s;
  };

  const lossOne = b.constant(Tensor.fromArray(lossShape.dtype, lossShape.shape as number[], [1]), 'dloss');
  push(loss, lossOne);

  for (const node of relevant) {
    const dy = node.outputs.map((o) => (o === '' ? undefined : total(o)));
    if (dy.every((d) => d === undefined)) continue;
    const def = OPS.get(opKey(node));
    if (def?.gradient === undefined) throw noGradient(graph, node, wrt);
    const info = (name: string): TypeShape | undefined => (name === '' ? undefined : shapes.get(name));
    const dx = def.gradient({
      node,
      b,
      dy,
      inputs: node.inputs.map(info),
      outputs: node.outputs.map(info),
      needs: node.inputs.map((x) => x !== '' && dependsOnWrt.has(x)),
      constant: (i) => constants.get(node.inputs[i] ?? ''),
    });
    node.inputs.forEach((x, i) => {
      const g = dx[i];
      if (g !== undefined && dependsOnWrt.has(x)) push(x, g);
    });
  }

  const result = new Map<string, string>();
  for (const w of wrt) {
    const g = total(w);
    if (g === undefined) {
      throw new WhittleError('INVALID_GRAPH', `"${w}" does not influence the loss "${loss}", so it has no gradient; is it connected to the model's output?`);
    }
    result.set(w, g);
  }
  return result;
}

/** Ops without a gradient rule, and the nearest op that has one. */
const ALTERNATIVES: Record<string, string> = {
  Floor: 'Round (straight-through gradient)',
  Ceil: 'Round (straight-through gradient)',
  ReduceMax: 'ReduceMean, or MaxPool for spatial maxima',
  ReduceMin: 'ReduceMean',
  ReduceProd: 'ReduceSum of Log',
  ReduceL2: 'Sqrt of ReduceSum of Mul',
  GlobalMaxPool: 'GlobalAveragePool, or MaxPool with the full kernel',
  GatherElements: 'Gather',
  Upsample: 'Resize',
  Resize: 'ConvTranspose (learned upsampling) or a Reshape/Expand nearest-neighbour upsampling',
  Mod: 'Sub and Div',
  ArgMax: 'Softmax (a differentiable soft arg-max)',
  TopK: 'Softmax',
  Hardmax: 'Softmax',
  Celu: 'Elu',
  ThresholdedRelu: 'Relu',
  Mish: 'Mul of X and Tanh of Softplus',
  CumSum: 'MatMul with a triangular constant',
};

/** The parameters (of `wrt`) that `node`'s inputs are computed from. */
function parametersBefore(graph: Graph, node: Node, wrt: readonly string[]): string[] {
  const want = new Set(wrt);
  const seen = new Set<string>();
  const found = new Set<string>();
  const stack = [...node.inputs];
  while (stack.length > 0) {
    const v = stack.pop() as string;
    if (v === '' || seen.has(v)) continue;
    seen.add(v);
    if (want.has(v)) found.add(v);
    const producer = graph.nodes.find((n) => n.outputs.includes(v));
    if (producer !== undefined) stack.push(...producer.inputs);
  }
  return wrt.filter((w) => found.has(w));
}

/**
 * NO_GRADIENT for `node`: names the op and the node, the nearest op that has a gradient rule,
 * and the parameters before it (freezing them leaves nothing to differentiate through it).
 */
function noGradient(graph: Graph, node: Node, wrt: readonly string[]): WhittleError {
  const before = parametersBefore(graph, node, wrt);
  const alternative = ALTERNATIVES[node.opType];
  const shown = before.slice(0, 3).join(', ') + (before.length > 3 ? `, … ${before.length} in all` : '');
  return new WhittleError(
    'NO_GRADIENT',
    `${node.opType} "${node.name}" has no gradient rule, so the layers before it cannot be trained; ${
      alternative !== undefined ? `replace it with ${alternative}, or ` : ''
    }freeze the parameters before it (${shown}) and train the layers after it`,
  );
}
