// The training graph's opset. Gradient rules, the in-graph optimizer and the training Loop emit
// opset-17 nodes (axes as inputs, BatchNormalization's training_mode, LayerNormalization), so a
// model exported at an older opset (PyTorch's default was 11–14 for years) has its forward nodes
// rewritten to their opset-17 forms first — same math, one coherent opset for the whole graph.
import { WhittleError } from '../ir/errors.js';
import type { Graph, Model, Node } from '../ir/graph.js';
import { attr, getInt, getInts, GraphBuilder, opsetOf } from '../ir/graph.js';
import { inferShapes } from '../ir/shape.js';
import { Tensor } from '../ir/tensor.js';
import { SHAPE_RULES } from '../ops/index.js';

/** The default-domain opset training graphs are built at. */
export const TRAINING_OPSET = 17;
/** The IR version that opset needs. */
const TRAINING_IR_VERSION = 8;
/** The oldest opset whose models this upgrade understands (Resize, Pad, Clip take inputs from 11 on). */
export const OLDEST_TRAINABLE_OPSET = 11;

/**
 * Returns `model` with its default-domain nodes (subgraphs included) in their opset-17 forms and
 * opset 17 imported; a model at 17 or newer is returned as it is. Older forms rewritten: axes and
 * split attributes that became inputs (Squeeze, Unsqueeze, ReduceSum, Split at 13), Softmax,
 * LogSoftmax and Hardmax's flatten-to-2-D semantics (13), Dropout's ratio attribute (12) and
 * RoiAlign's default coordinate mode (16).
 *
 * ```ts
 * const m17 = upgradeToTrainingOpset(await loadModel('resnet.opset13.onnx'));
 * ```
 */
export function upgradeToTrainingOpset(model: Model): Model {
  const from = opsetOf(model);
  // Newer models keep their opset: the rules' nodes are the same there except the Reduce* axes.
  if (from >= TRAINING_OPSET) return model;
  if (from < OLDEST_TRAINABLE_OPSET) {
    throw new WhittleError(
      'UNSUPPORTED_OPSET',
      `the model is at opset ${from}; training needs opset ${OLDEST_TRAINABLE_OPSET} or newer, so re-export it (torch.onnx.export(..., opset_version=${TRAINING_OPSET}))`,
    );
  }
  const graph = model.graph.clone();
  const b = new GraphBuilder(graph, 'opset');
  let ranks: Map<string, number> = new Map();
  try {
    ranks = new Map([...inferShapes(graph, SHAPE_RULES, undefined, { unknown: 'skip' })].map(([k, v]) => [k, v.shape.length]));
  } catch {
    // Without ranks, every Softmax not on axis −1 takes the general Flatten/Reshape form.
  }
  upgradeGraph(graph, from, b, ranks);
  const opsetImports = model.opsetImports.map((o) => (o.domain === '' || o.domain === 'ai.onnx' ? { domain: o.domain, version: TRAINING_OPSET } : o));
  return { ...model, graph, opsetImports, irVersion: Math.max(model.irVersion, TRAINING_IR_VERSION) };
}

function upgradeGraph(graph: Graph, from: number, b: GraphBuilder, ranks: ReadonlyMap<string, number>): void {
  const out: Node[] = [];
  const constant = (t: Tensor, hint: string): string => {
    const name = b.fresh(hint);
    graph.initializers.set(name, t);
    return name;
  };
  for (const node of graph.nodes) {
    // Subgraphs (If, Loop, Scan bodies) are at the same opset.
    for (const [k, a] of Object.entries(node.attributes)) {
      if (a.type !== 'graph') continue;
      const body = a.value.clone();
      upgradeGraph(body, from, b, ranks);
      node.attributes[k] = attr.graph(body);
    }
    if (node.domain !== '' && node.domain !== 'ai.onnx') {
      out.push(node);
      continue;
    }
    out.push(...upgradeNode(node, from, constant, b, ranks));
  }
  graph.nodes = out;
}

/** Moves an ints attribute to an int64 input at `slot` (padding skipped optional inputs with ''). */
function attributeToInput(node: Node, name: string, slot: number, constant: (t: Tensor, hint: string) => string): Node {
  const values = getInts(node, name);
  if (values === undefined) return node;
  const { [name]: _, ...attributes } = node.attributes;
  const inputs = [...node.inputs];
  while (inputs.length < slot) inputs.push('');
  inputs[slot] = constant(Tensor.int64(values), name);
  return { ...node, inputs, attributes };
}

function upgradeNode(node: Node, from: number, constant: (t: Tensor, hint: string) => string, b: GraphBuilder, ranks: ReadonlyMap<string, number>): Node[] {
  switch (node.opType) {
    case 'Squeeze':
    case 'Unsqueeze':
    case 'ReduceSum':
      return from < 13 ? [attributeToInput(node, 'axes', 1, constant)] : [node];
    case 'Split':
      return from < 13 ? [attributeToInput(node, 'split', 1, constant)] : [node];
    case 'Softmax':
    case 'LogSoftmax':
    case 'Hardmax':
      return from < 13 ? upgradeSoftmax(node, b, ranks) : [node];
    case 'Dropout': {
      if (from >= 12) return [node];
      const ratio = node.attributes['ratio'];
      const { ratio: _, ...attributes } = node.attributes;
      const value = ratio?.type === 'float' ? ratio.value : 0.5;
      return [{ ...node, inputs: [node.inputs[0] as string, constant(Tensor.scalar('float32', value), 'ratio')], attributes }];
    }
    case 'RoiAlign':
      if (from >= 16 || node.attributes['coordinate_transformation_mode'] !== undefined) return [node];
      return [{ ...node, attributes: { ...node.attributes, coordinate_transformation_mode: attr.string('output_half_pixel') } }];
    default:
      return [node];
  }
}

/**
 * Before opset 13 these ops flattened the input to 2-D at `axis` (default 1) and normalized each
 * row; from 13 on they normalize along `axis` alone. The same when `axis` is the last one; else
 * Flatten → op(axis −1) → Reshape back to the input's shape.
 */
function upgradeSoftmax(node: Node, b: GraphBuilder, ranks: ReadonlyMap<string, number>): Node[] {
  const axis = getInt(node, 'axis', 1);
  const x = node.inputs[0] as string;
  const rank = ranks.get(x);
  if (axis === -1 || (rank !== undefined && (axis === rank - 1 || axis + rank === rank - 1))) {
    return [{ ...node, attributes: { ...node.attributes, axis: attr.int(-1) } }];
  }
  const y = node.outputs[0] as string;
  const flat = b.fresh(`${node.name}/flat`);
  const normed = b.fresh(`${node.name}/rows`);
  const shape = b.fresh(`${node.name}/shape`);
  return [
    { name: b.fresh(`${node.name}/Flatten`), opType: 'Flatten', domain: '', inputs: [x], outputs: [flat], attributes: { axis: attr.int(axis) } },
    { ...node, inputs: [flat], outputs: [normed], attributes: { ...node.attributes, axis: attr.int(-1) } },
    { name: b.fresh(`${node.name}/Shape`), opType: 'Shape', domain: '', inputs: [x], outputs: [shape], attributes: {} },
    { name: b.fresh(`${node.name}/Reshape`), opType: 'Reshape', domain: '', inputs: [normed, shape], outputs: [y], attributes: {} },
  ];
}

/** Reductions whose `axes` became an input at opset 18 (ReduceSum's did at 13). */
const AXES_INPUT_AT_18 = new Set([
  'ReduceMean',
  'ReduceMax',
  'ReduceMin',
  'ReduceProd',
  'ReduceL1',
  'ReduceL2',
  'ReduceLogSum',
  'ReduceLogSumExp',
  'ReduceSumSquare',
]);

function raiseGraphTo18(graph: Graph, constant: (t: Tensor, hint: string) => string): void {
  graph.nodes = graph.nodes.map((node) => {
    const attributes = { ...node.attributes };
    for (const [k, a] of Object.entries(attributes)) {
      if (a.type !== 'graph') continue;
      const body = a.value.clone();
      raiseGraphTo18(body, constant);
      attributes[k] = attr.graph(body);
    }
    const n = { ...node, attributes };
    if (n.domain !== '' && n.domain !== 'ai.onnx') return n;
    if (AXES_INPUT_AT_18.has(n.opType)) return attributeToInput(n, 'axes', 1, constant);
    // From 18 an even Split (no `split` input) says how many parts it makes.
    if (n.opType === 'Split' && !n.inputs[1] && n.attributes['num_outputs'] === undefined)
      return { ...n, attributes: { ...n.attributes, num_outputs: attr.int(n.outputs.length) } };
    return n;
  });
}

/**
 * `model` (at opset 13–17) in its opset-18 form, for graphs that use an opset-18 op (Col2Im):
 * the reductions' `axes` attributes become inputs and an even Split names its part count; every
 * other op the training graphs use reads the same at 18. A model at 18 or newer is returned as
 * it is.
 *
 * ```ts
 * const m18 = raiseToOpset18(step.model);
 * ```
 */
export function raiseToOpset18(model: Model): Model {
  const from = opsetOf(model);
  if (from >= 18) return model;
  if (from < 13)
    throw new WhittleError(
      'UNSUPPORTED_OPSET',
      `raising a model to opset 18 needs opset 13 or newer, this one is at ${from}; upgrade it first (upgradeToTrainingOpset)`,
    );
  const graph = model.graph.clone();
  const b = new GraphBuilder(graph, 'opset18');
  raiseGraphTo18(graph, (t, hint) => b.constant(t, hint));
  const opsetImports = model.opsetImports.map((o) => (o.domain === '' || o.domain === 'ai.onnx' ? { domain: o.domain, version: 18 } : o));
  return { ...model, graph, opsetImports, irVersion: Math.max(model.irVersion, TRAINING_IR_VERSION) };
}
