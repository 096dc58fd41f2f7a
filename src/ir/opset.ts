// Opset upgrade: rewrites a model's default-domain nodes from their older forms into the forms of
// a newer opset — same math, one coherent opset. Quantization needs it (QLinear ops exist from
// opset 10, per-channel DequantizeLinear from 13) and so does training (its rules emit opset-17
// nodes). Each rule below says at which opset the new form starts and how to rewrite the old one;
// a node goes through every rule whose opset lies in (from, target], oldest first.
import { WhittleError } from './errors.js';
import type { Attribute, Graph, Model, Node } from './graph.js';
import { attr, getFloat, getInt, getInts, getString, GraphBuilder, opsetOf } from './graph.js';
import type { ShapeRule, TypeShape } from './shape.js';
import { constantValues, inferShapes, typeShapeOf } from './shape.js';
import type { DType } from './tensor.js';
import { Tensor } from './tensor.js';

/** The oldest default-domain opset upgradeOpset rewrites from. */
export const OLDEST_UPGRADABLE_OPSET = 7;
/** The newest opset upgradeOpset rewrites to. */
export const NEWEST_UPGRADE_TARGET = 21;

/** The IR version each opset needs (ONNX's versioning table). */
function irVersionFor(opset: number): number {
  if (opset <= 10) return 5;
  if (opset === 11) return 6;
  if (opset <= 14) return 7;
  if (opset <= 18) return 8;
  if (opset <= 20) return 9;
  return 10;
}

export interface UpgradeOptions {
  /**
   * Shape rules (ops/ SHAPE_RULES): the ranks and element types they infer let Softmax keep a single
   * node when its axis is the last one, and give Clip/Pad their bounds in the input's type. Without
   * them the file's value_info is used, and the general forms.
   */
  rules?: ReadonlyMap<string, ShapeRule>;
}

/** What a rule may use: fresh names, constants in the graph being rewritten, known types. */
interface RewriteContext {
  readonly from: number;
  readonly target: number;
  fresh(hint: string): string;
  constant(t: Tensor, hint: string): string;
  typeOf(value: string): TypeShape | undefined;
  /** The value of a constant (initializer or Constant node) of the graph being rewritten. */
  constantValue(value: string): Tensor | undefined;
}

interface UpgradeRule {
  op: string;
  /** The opset whose form the rule produces. */
  at: number;
  rewrite(node: Node, cx: RewriteContext): Node[];
}

/**
 * `model` with its default-domain nodes (If/Loop/Scan bodies included) in their forms at opset
 * `target` (7 < target ≤ 21) and that opset imported; a model already at `target` or newer is
 * returned as it is. A node whose old form has no equivalent at `target` is an UNSUPPORTED_OPSET
 * error naming it.
 *
 * ```ts
 * const m17 = upgradeOpset(await loadModel('paddle-ocr-cls.onnx'), 17, { rules: SHAPE_RULES });
 * ```
 */
export function upgradeOpset(model: Model, target: number, options: UpgradeOptions = {}): Model {
  if (!Number.isInteger(target) || target < OLDEST_UPGRADABLE_OPSET || target > NEWEST_UPGRADE_TARGET)
    throw new WhittleError(
      'BAD_ARGUMENT',
      `options.opset ${target} is not an opset Whittle upgrades to; choose one from ${OLDEST_UPGRADABLE_OPSET + 1} to ${NEWEST_UPGRADE_TARGET}`,
    );
  const from = opsetOf(model);
  if (from >= target) return model;
  if (from < OLDEST_UPGRADABLE_OPSET)
    throw new WhittleError(
      'UNSUPPORTED_OPSET',
      `the model is at opset ${from}; Whittle upgrades models from opset ${OLDEST_UPGRADABLE_OPSET} on, so re-export it at opset ${OLDEST_UPGRADABLE_OPSET} or newer (torch.onnx.export(..., opset_version=17))`,
    );
  const graph = model.graph.clone();
  const known = knownTypes(graph, options.rules);
  const b = new GraphBuilder(graph, 'opset');
  const rules = RULES.filter((r) => r.at > from && r.at <= target).sort((x, y) => x.at - y.at);
  upgradeGraph(graph, rules, { from, target, fresh: (h) => b.fresh(h), known });
  const opsetImports = model.opsetImports.map((o) => (o.domain === '' || o.domain === 'ai.onnx' ? { domain: o.domain, version: target } : o));
  return { ...model, graph, opsetImports, irVersion: Math.max(model.irVersion, irVersionFor(target)) };
}

/** Types and shapes by value name: the rules' inference where given, the file's value_info, inputs, initializers. */
function knownTypes(graph: Graph, rules: ReadonlyMap<string, ShapeRule> | undefined): Map<string, TypeShape> {
  const out = new Map<string, TypeShape>();
  for (const [k, v] of graph.valueInfo) {
    const ts = typeShapeOf(v);
    if (ts !== undefined) out.set(k, ts);
  }
  if (rules !== undefined) {
    try {
      const probe = graph.clone();
      for (const [k, v] of inferShapes(probe, rules, constantValues(probe), { unknown: 'skip' })) out.set(k, v);
    } catch {
      // Without inferred types the rules take their general forms.
    }
  }
  return out;
}

interface Walk {
  from: number;
  target: number;
  fresh(hint: string): string;
  known: ReadonlyMap<string, TypeShape>;
}

function upgradeGraph(graph: Graph, rules: readonly UpgradeRule[], w: Walk): void {
  const constants = constantValues(graph);
  const cx: RewriteContext = {
    from: w.from,
    target: w.target,
    fresh: w.fresh,
    constant: (t, hint) => {
      const name = w.fresh(hint);
      graph.initializers.set(name, t);
      return name;
    },
    typeOf: (v) => {
      const t = graph.initializers.get(v);
      if (t !== undefined) return { dtype: t.dtype, shape: [...t.dims] };
      const input = graph.inputs.find((i) => i.name === v);
      return w.known.get(v) ?? typeShapeOf(graph.valueInfo.get(v)) ?? typeShapeOf(input);
    },
    constantValue: (v) => constants.get(v),
  };
  const out: Node[] = [];
  for (const node of graph.nodes) {
    // Subgraphs (If, Loop, Scan bodies) are at the model's opset.
    for (const [k, a] of Object.entries(node.attributes)) {
      if (a.type !== 'graph') continue;
      const body = a.value.clone();
      upgradeGraph(body, rules, w);
      node.attributes[k] = attr.graph(body);
    }
    if (node.domain !== '' && node.domain !== 'ai.onnx') {
      out.push(node);
      continue;
    }
    let nodes = [node];
    for (const rule of rules) nodes = nodes.flatMap((n) => (n.opType === rule.op ? rule.rewrite(n, cx) : [n]));
    out.push(...nodes);
  }
  graph.nodes = out;
}

function unsupported(node: Node, cx: RewriteContext, form: string): WhittleError {
  return new WhittleError(
    'UNSUPPORTED_OPSET',
    `${node.opType} "${node.name}" ${form}, which has no equivalent at opset ${cx.target}; keep the model at opset ${cx.from} or re-export it at opset ${cx.target}`,
  );
}

/** The node without attribute `name`. */
function without(node: Node, ...names: string[]): Node {
  const attributes = { ...node.attributes };
  for (const n of names) delete attributes[n];
  return { ...node, attributes };
}

/** Sets input `slot` (padding skipped optional inputs with ''). */
function withInput(node: Node, slot: number, value: string): Node {
  const inputs = [...node.inputs];
  while (inputs.length < slot) inputs.push('');
  inputs[slot] = value;
  return { ...node, inputs };
}

/** Moves an ints attribute to an int64 input at `slot`; unchanged when the attribute is absent. */
function attributeToInput(node: Node, name: string, slot: number, cx: RewriteContext): Node {
  const values = getInts(node, name);
  if (values === undefined) return node;
  return withInput(without(node, name), slot, cx.constant(Tensor.int64(values), name));
}

/** The element type of input 0, for bounds that must match it (float32 when unknown: the old forms are float-only). */
function inputDtype(node: Node, cx: RewriteContext): DType {
  return cx.typeOf(node.inputs[0] as string)?.dtype ?? 'float32';
}

function renamed(op: string, at: number, to: string): UpgradeRule {
  return { op, at, rewrite: (n) => [{ ...n, opType: to }] };
}

function axesToInput(op: string, at: number): UpgradeRule {
  return { op, at, rewrite: (n, cx) => [attributeToInput(n, 'axes', 1, cx)] };
}

/** Ops an old opset had that no later one knows (ONNX's experimental ops, removed at 10). */
const REMOVED_AT_10 = ['Affine', 'Crop', 'GRUUnit', 'GivenTensorFill', 'ParametricSoftplus', 'ScaledTanh', 'DynamicSlice'];

const RULES: UpgradeRule[] = [
  {
    op: 'BatchNormalization',
    at: 9,
    rewrite: (n, cx) => {
      if (getInt(n, 'spatial', 1) !== 1) throw unsupported(n, cx, 'normalizes per element (spatial = 0)');
      return [without(n, 'spatial', 'consumed_inputs', 'is_test')];
    },
  },
  {
    op: 'BatchNormalization',
    at: 14,
    rewrite: (n, cx) => {
      // From 14 on the extra outputs exist only with training_mode = 1, which also changes the output.
      if (n.outputs.slice(1).some((o) => o !== '')) throw unsupported(n, cx, 'has its training-mode outputs (mean, var, saved mean, saved var)');
      return [n];
    },
  },
  { op: 'Scan', at: 9, rewrite: (n, cx) => throwOn(n, cx, 'is in its opset-8 form (batch axis, sequence_lens input)') },
  {
    op: 'Upsample',
    at: 9,
    rewrite: (n, cx) => {
      const scales = n.attributes['scales'];
      if (scales?.type !== 'floats') return [n];
      return [withInput(without(n, 'scales'), 1, cx.constant(Tensor.fromArray('float32', [scales.value.length], scales.value), 'scales'))];
    },
  },
  {
    op: 'Upsample',
    at: 10,
    // Upsample(X, scales) is Resize-10(X, scales): same modes and coordinates; it only enlarges.
    rewrite: (n, cx) => [cx.target >= 11 ? resizeFrom10({ ...n, opType: 'Resize' }, cx, true) : { ...n, opType: 'Resize' }],
  },
  { op: 'Slice', at: 10, rewrite: (n, cx) => [['starts', 'ends', 'axes'].reduce((m, a, i) => attributeToInput(m, a, i + 1, cx), n)] },
  {
    op: 'TopK',
    at: 10,
    rewrite: (n, cx) => [withInput(without(n, 'k'), 1, cx.constant(Tensor.int64([getInt(n, 'k', 1)]), 'k'))],
  },
  {
    op: 'ImageScaler',
    at: 10,
    rewrite: (n, cx) => {
      // x · scale + bias[c], the experimental op's definition, in standard ops.
      const bias = n.attributes['bias']?.type === 'floats' ? (n.attributes['bias'].value as number[]) : [];
      const scaled = cx.fresh(`${n.name}/scaled`);
      return [
        {
          name: cx.fresh(`${n.name}/Mul`),
          opType: 'Mul',
          domain: '',
          inputs: [n.inputs[0] as string, cx.constant(Tensor.scalar('float32', getFloat(n, 'scale', 1)), 'scale')],
          outputs: [scaled],
          attributes: {},
        },
        {
          name: cx.fresh(`${n.name}/Add`),
          opType: 'Add',
          domain: '',
          inputs: [scaled, cx.constant(Tensor.fromArray('float32', [1, bias.length, 1, 1], bias), 'bias')],
          outputs: [n.outputs[0] as string],
          attributes: {},
        },
      ];
    },
  },
  ...REMOVED_AT_10.map((op) => ({ op, at: 10, rewrite: (n: Node, cx: RewriteContext) => throwOn(n, cx, 'is an experimental op ONNX removed at opset 10') })),
  {
    op: 'Clip',
    at: 11,
    rewrite: (n, cx) => {
      const dtype = inputDtype(n, cx);
      let m = without(n, 'min', 'max');
      for (const [slot, a] of [
        [1, 'min'],
        [2, 'max'],
      ] as const) {
        const v = n.attributes[a];
        if (v?.type === 'float') m = withInput(m, slot, cx.constant(Tensor.scalar(dtype, v.value), a));
      }
      return [m];
    },
  },
  {
    op: 'Pad',
    at: 11,
    rewrite: (n, cx) => {
      const pads = getInts(n, 'pads') ?? [];
      let m = withInput(without(n, 'pads', 'value'), 1, cx.constant(Tensor.int64(pads), 'pads'));
      const value = getFloat(n, 'value', 0);
      if (getString(n, 'mode', 'constant') === 'constant' && value !== 0)
        m = withInput(m, 2, cx.constant(Tensor.scalar(inputDtype(n, cx), value), 'pad_value'));
      return [m];
    },
  },
  renamed('Scatter', 11, 'ScatterElements'),
  // Resize-10 (two inputs; Upsample's rule above may already have written the opset-11 form).
  { op: 'Resize', at: 11, rewrite: (n, cx) => (n.inputs.length === 2 ? [resizeFrom10(n, cx, undefined)] : [n]) },
  {
    op: 'Dropout',
    at: 12,
    rewrite: (n, cx) => {
      const ratio = getFloat(n, 'ratio', 0.5);
      return [withInput(without(n, 'ratio'), 1, cx.constant(Tensor.scalar('float32', ratio), 'ratio'))];
    },
  },
  axesToInput('Squeeze', 13),
  axesToInput('Unsqueeze', 13),
  axesToInput('ReduceSum', 13),
  { op: 'Split', at: 13, rewrite: (n, cx) => [attributeToInput(n, 'split', 1, cx)] },
  ...['Softmax', 'LogSoftmax', 'Hardmax'].map((op) => ({ op, at: 13, rewrite: upgradeSoftmax })),
  // Resize-11's 'tf_half_pixel_for_nn' is deprecated from 13 on, not removed: onnxruntime still runs it.
  {
    op: 'RoiAlign',
    at: 16,
    rewrite: (n) =>
      n.attributes['coordinate_transformation_mode'] !== undefined
        ? [n]
        : [{ ...n, attributes: { ...n.attributes, coordinate_transformation_mode: attr.string('output_half_pixel') } }],
  },
  ...['ReduceMean', 'ReduceMax', 'ReduceMin', 'ReduceProd', 'ReduceL1', 'ReduceL2', 'ReduceLogSum', 'ReduceLogSumExp', 'ReduceSumSquare'].map((op) =>
    axesToInput(op, 18),
  ),
  {
    op: 'Split',
    at: 18,
    // From 18 an even Split (no `split` input) says how many parts it makes.
    rewrite: (n) =>
      n.inputs[1] || n.attributes['num_outputs'] !== undefined ? [n] : [{ ...n, attributes: { ...n.attributes, num_outputs: attr.int(n.outputs.length) } }],
  },
  {
    op: 'GridSample',
    at: 20,
    rewrite: (n) => {
      const mode = getString(n, 'mode', 'bilinear');
      const renamedMode = mode === 'bilinear' ? 'linear' : mode === 'bicubic' ? 'cubic' : mode;
      return [{ ...n, attributes: { ...n.attributes, mode: attr.string(renamedMode) } }];
    },
  },
  {
    op: 'DFT',
    at: 20,
    rewrite: (n, cx) => [withInput(without(n, 'axis'), 2, cx.constant(Tensor.fromArray('int64', [], [getInt(n, 'axis', 1)]), 'axis'))],
  },
  { op: 'GroupNormalization', at: 21, rewrite: (n, cx) => throwOn(n, cx, 'has per-group scale and bias (opset 18), where opset 21 takes them per channel') },
];

function throwOn(n: Node, cx: RewriteContext, form: string): never {
  throw unsupported(n, cx, form);
}

/**
 * Resize-10 in its opset-11 form. Resize-10 (and Upsample) map coordinates asymmetrically, and
 * onnxruntime's nearest pixel for them is floor on an enlarged axis, ceil on a shrunk one
 * (`enlarges`: known by the caller, else read from constant scales).
 */
function resizeFrom10(n: Node, cx: RewriteContext, enlarges: boolean | undefined): Node {
  const scales = n.inputs[1] ?? '';
  const attributes: Record<string, Attribute> = { ...n.attributes, coordinate_transformation_mode: attr.string('asymmetric') };
  if (getString(n, 'mode', 'nearest') === 'nearest') {
    let up = enlarges;
    if (up === undefined) {
      const t = cx.constantValue(scales);
      if (t === undefined) throw unsupported(n, cx, 'is a nearest Resize-10 whose scales are not constant (its pixel rounding depends on them)');
      const s = Array.from(t.data as Float32Array, Number);
      if (s.every((v) => v >= 1)) up = true;
      else if (s.every((v) => v <= 1)) up = false;
      else throw unsupported(n, cx, 'is a nearest Resize-10 that enlarges some axes and shrinks others');
    }
    attributes['nearest_mode'] = attr.string(up ? 'floor' : 'ceil');
  }
  // roi is optional from 13 on; at 11 and 12 an empty one.
  const roi = cx.target >= 13 ? '' : cx.constant(Tensor.fromArray('float32', [0], []), 'roi');
  return { ...n, inputs: [n.inputs[0] as string, roi, scales], attributes };
}

/**
 * Before opset 13 these ops flattened the input to 2-D at `axis` (default 1) and normalized each
 * row; from 13 on they normalize along `axis` alone. The same when `axis` is the last one; else
 * Flatten → op(axis −1) → Reshape back to the input's shape.
 */
function upgradeSoftmax(node: Node, cx: RewriteContext): Node[] {
  const axis = getInt(node, 'axis', 1);
  const x = node.inputs[0] as string;
  const rank = cx.typeOf(x)?.shape.length;
  if (axis === -1 || (rank !== undefined && (axis === rank - 1 || axis + rank === rank - 1))) {
    return [{ ...node, attributes: { ...node.attributes, axis: attr.int(-1) } }];
  }
  const y = node.outputs[0] as string;
  const flat = cx.fresh(`${node.name}/flat`);
  const normed = cx.fresh(`${node.name}/rows`);
  const shape = cx.fresh(`${node.name}/shape`);
  return [
    { name: cx.fresh(`${node.name}/Flatten`), opType: 'Flatten', domain: '', inputs: [x], outputs: [flat], attributes: { axis: attr.int(axis) } },
    { ...node, inputs: [flat], outputs: [normed], attributes: { ...node.attributes, axis: attr.int(-1) } },
    { name: cx.fresh(`${node.name}/Shape`), opType: 'Shape', domain: '', inputs: [x], outputs: [shape], attributes: {} },
    { name: cx.fresh(`${node.name}/Reshape`), opType: 'Reshape', domain: '', inputs: [normed, shape], outputs: [y], attributes: {} },
  ];
}
