// K training steps per session.run: an ONNX Loop whose body is the training step, with the
// carried state (parameters, optimizer state, BatchNorm statistics) loop-carried inside ORT.
// Same kernels, same order of operations as K separate runs, without K round trips of the weights
// through JavaScript.
import type { Graph, Node } from '../ir/graph.js';
import { attr, GraphBuilder } from '../ir/graph.js';
import { Tensor } from '../ir/tensor.js';
import type { TrainStep } from './train-step.js';

export interface LoopTrainStep {
  step: TrainStep;
  /** Stacked inputs: [K, batch, ...sample], [K, batch], and [K] per scalar. */
  stackedInput: string;
  stackedLabels: string;
  stackedScalars: Record<string, string>;
  /** Per-step losses [K] and correct counts [K]. */
  losses: string;
  corrects: string | undefined;
}

const BODY = 'body/';

function renameInBody(keep: ReadonlySet<string>): (n: string) => string {
  return (n: string): string => (n === '' || keep.has(n) ? n : BODY + n);
}

/** Every value name `nodes` read, including from inside their subgraphs (outer-scope references). */
function namesRead(nodes: readonly Node[], into = new Set<string>()): Set<string> {
  for (const n of nodes) {
    for (const i of n.inputs) into.add(i);
    for (const a of Object.values(n.attributes)) if (a.type === 'graph') namesRead(a.value.nodes, into);
  }
  return into;
}

/**
 * Wraps a single training step into a Loop over the first axis of stacked batches. The result's
 * inputs are the step's carried values plus the stacked batch tensors; its outputs are the
 * carried values' next versions (same output names as the step's) plus [K] losses and corrects.
 */
export function buildLoopTrainStep(step: TrainStep): LoopTrainStep {
  const src = step.model.graph;
  const carriedInputs = new Set(step.carried.map((c) => c.input));
  const perStep = [step.input, step.labels, ...step.scalars];

  // Body: the step graph with every value renamed into its own scope; per-step inputs are sliced
  // from the stacked outer tensors by the iteration number.
  const body = src.clone();
  body.name = 'train_step_body';
  // Extra inputs (masks, teacher outputs) stay outer-scope values the body reads by name.
  const rn = renameInBody(new Set(step.extra.map((e) => e.name)));
  body.nodes = body.nodes.map((n): Node => ({ ...n, name: rn(n.name), inputs: n.inputs.map(rn), outputs: n.outputs.map(rn) }));
  const outer: Graph = src.clone();
  outer.nodes = [];
  outer.name = `${src.name}_loop`;
  outer.valueInfo = new Map();
  // Constants move to the outer graph under their body names, visible to the body by outer scope.
  // Only the ones the body reads: gradient rules may leave constants unused, and ORT warns about
  // every unused initializer it removes.
  const read = namesRead(body.nodes);
  outer.initializers = new Map([...src.initializers].map(([k, t]): [string, Tensor] => [rn(k), t]).filter(([k]) => read.has(k)));
  body.initializers = new Map();
  body.valueInfo = new Map();

  const ob = new GraphBuilder(outer, 'loop');
  const stacked: Record<string, string> = {};
  for (const name of perStep) stacked[name] = `${name}.stacked`;
  const iter = `${BODY}iter`;
  const condIn = `${BODY}cond_in`;
  const bb = new GraphBuilder(body, 'body/slice');
  const sliceNodes: Node[] = [];
  const bodyNodesBefore = body.nodes.length;
  for (const name of perStep) bb.op('Gather', [stacked[name] as string, iter], { axis: attr.int(0) }, [rn(name)]);
  sliceNodes.push(...body.nodes.splice(bodyNodesBefore));
  body.nodes.unshift(...sliceNodes);
  const condOut = bb.op1('Identity', [condIn]);

  const inputsByName = new Map(src.inputs.map((v) => [v.name, v]));
  body.inputs = [
    { name: iter, dtype: 'int64', shape: [] },
    { name: condIn, dtype: 'bool', shape: [] },
    ...step.carried.map((c) => ({ name: rn(c.input), dtype: c.dtype, shape: [...c.dims] })),
  ];
  body.outputs = [
    { name: condOut, dtype: 'bool', shape: [] },
    ...step.carried.map((c) => ({ name: rn(c.output), dtype: c.dtype, shape: [...c.dims] })),
    { name: rn(step.loss), dtype: 'float32', shape: [] },
    ...(step.correct !== undefined ? [{ name: rn(step.correct), dtype: 'float32' as const, shape: [] }] : []),
  ];

  const extraNames = new Set(step.extra.map((e) => e.name));
  outer.inputs = [
    ...src.inputs.filter((v) => carriedInputs.has(v.name) || extraNames.has(v.name)),
    ...perStep.map((name) => {
      const v = inputsByName.get(name);
      return { name: stacked[name] as string, dtype: v?.dtype ?? 'float32', shape: ['K', ...(v?.shape ?? [])] };
    }),
  ];
  const trip = ob.op1('Gather', [ob.op1('Shape', [stacked[step.input] as string]), ob.constant(Tensor.int64([0]).clone(), 'zero')], { axis: attr.int(0) });
  const tripScalar = ob.op1('Squeeze', [trip, ob.constant(Tensor.int64([0]), 'axis0')]);
  const losses = `${step.loss}.per_step`;
  const corrects = step.correct !== undefined ? `${step.correct}.per_step` : undefined;
  ob.op('Loop', [tripScalar, '', ...step.carried.map((c) => c.input)], { body: attr.graph(body) }, [
    ...step.carried.map((c) => c.output),
    losses,
    ...(corrects !== undefined ? [corrects] : []),
  ]);
  outer.outputs = [
    ...step.carried.map((c) => ({ name: c.output, dtype: c.dtype, shape: [...c.dims] })),
    { name: losses, dtype: 'float32', shape: ['K'] },
    ...(corrects !== undefined ? [{ name: corrects, dtype: 'float32' as const, shape: ['K'] }] : []),
  ];
  return {
    step: { ...step, model: { ...step.model, graph: outer } },
    stackedInput: stacked[step.input] as string,
    stackedLabels: stacked[step.labels] as string,
    stackedScalars: Object.fromEntries(step.scalars.map((s) => [s, stacked[s] as string])),
    losses,
    corrects,
  };
}
