// Merging a teacher into a student's training graph: the teacher's nodes are copied under a
// prefix, its weights become constants, and its input is the student's input, so ORT computes the
// teacher's logits inside the same run (and inside the K-step Loop, where per-run feeds cannot
// carry per-batch values).
import { WhittleError } from '../../ir/errors.js';
import type { Dim, Graph, Model, Node } from '../../ir/graph.js';
import { GraphBuilder } from '../../ir/graph.js';
import { inferShapes } from '../../ir/shape.js';
import type { TypeShape } from '../../ir/shape.js';
import { Tensor } from '../../ir/tensor.js';
import { SHAPE_RULES } from '../../ops/index.js';

export const TEACHER_PREFIX = 'teacher/';

const fmt = (s: readonly Dim[]): string => `[${s.join(', ')}]`;

/** Types and shapes of every value of a model (on a copy; the model is not touched). */
export function valueShapes(model: Model): Map<string, TypeShape> {
  return inferShapes(model.graph.clone(), SHAPE_RULES);
}

/** Names of a model's intermediate values (node outputs), for hints and error messages. */
export function tensorNames(model: Model): string[] {
  return model.graph.nodes.flatMap((n) => n.outputs).filter((o) => o !== '');
}

function perSample(shape: readonly Dim[]): number | undefined {
  let n = 1;
  for (const d of shape.slice(1)) {
    if (typeof d !== 'number') return undefined;
    n *= d;
  }
  return n;
}

/**
 * Checks that `teacher` can be fed the student's input and that its first output matches the
 * student's; throws SHAPE_MISMATCH naming both shapes otherwise.
 */
export function checkTeacher(teacher: Model, student: Model): void {
  const ti = teacher.graph.inputs[0];
  const si = student.graph.inputs[0];
  const to = teacher.graph.outputs[0];
  const so = student.graph.outputs[0];
  if (ti === undefined || to === undefined || teacher.graph.inputs.length !== 1) {
    throw new WhittleError(
      'BAD_ARGUMENT',
      `the teacher needs exactly one input and at least one output; it has ${teacher.graph.inputs.length} input(s) and ${teacher.graph.outputs.length} output(s)`,
    );
  }
  if (si === undefined || so === undefined) throw new WhittleError('BAD_ARGUMENT', 'the student needs one input and one output');
  const tIn = perSample(ti.shape);
  const sIn = perSample(si.shape);
  if (tIn !== undefined && sIn !== undefined && tIn !== sIn) {
    throw new WhittleError(
      'SHAPE_MISMATCH',
      `the teacher's input "${ti.name}" ${fmt(ti.shape)} and the student's input "${si.name}" ${fmt(si.shape)} hold different sample sizes (${tIn} vs ${sIn}); distill between models of the same data`,
    );
  }
  const tOut = valueShapes(teacher).get(to.name)?.shape ?? to.shape;
  const sOut = valueShapes(student).get(so.name)?.shape ?? so.shape;
  const tc = tOut[tOut.length - 1];
  const sc = sOut[sOut.length - 1];
  if (tOut.length !== sOut.length || typeof tc !== 'number' || tc !== sc) {
    throw new WhittleError(
      'SHAPE_MISMATCH',
      `the teacher's output "${to.name}" is ${fmt(tOut)} but the student's "${so.name}" is ${fmt(sOut)}; the teacher must predict the same classes as the student`,
    );
  }
}

/**
 * Copies the teacher's nodes into `graph` under `prefix` (default TEACHER_PREFIX), reading `input` (reshaped when
 * the teacher wants another sample layout), with its initializers as constants. Returns the
 * in-graph name of a teacher value: `name(teacherValue)`.
 */
export function mergeTeacher(
  graph: Graph,
  teacher: Model,
  input: string,
  studentInputShape: readonly Dim[],
  prefix: string = TEACHER_PREFIX,
): (teacherValue: string) => string {
  const tg = teacher.graph;
  const tInput = tg.inputs[0];
  if (tInput === undefined) throw new WhittleError('BAD_ARGUMENT', 'the teacher has no input');
  const b = new GraphBuilder(graph, prefix.replace(/\/$/, ''));
  let source = input;
  const same = tInput.shape.length === studentInputShape.length && tInput.shape.every((d, i) => i === 0 || d === studentInputShape[i]);
  if (!same) {
    const dims = tInput.shape.slice(1);
    if (!dims.every((d): d is number => typeof d === 'number')) {
      throw new WhittleError(
        'SHAPE_MISMATCH',
        `the teacher's input ${fmt(tInput.shape)} has symbolic sample dims; cannot reshape the student's input ${fmt(studentInputShape)} to it`,
      );
    }
    source = b.op1('Reshape', [input, b.constant(Tensor.int64([-1, ...dims]), 'input_shape')]);
  }
  const name = (v: string): string => (v === '' ? '' : v === tInput.name ? source : prefix + v);
  for (const [k, t] of tg.initializers) graph.initializers.set(name(k), t);
  for (const n of tg.nodes) {
    if (Object.values(n.attributes).some((a) => a.type === 'graph')) {
      throw new WhittleError('UNSUPPORTED_OP', `teacher node ${n.opType} "${n.name}" has a subgraph; Whittle merges teachers made of plain ops only`);
    }
    const copy: Node = { ...n, name: prefix + n.name, inputs: n.inputs.map(name), outputs: n.outputs.map(name), attributes: { ...n.attributes } };
    graph.nodes.push(copy);
  }
  return name;
}
