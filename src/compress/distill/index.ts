// Knowledge distillation (Hinton et al. 2015) and hint (feature) distillation as training-step
// extensions: the teacher runs inside the student's training graph, the loss gains
// α·T²·KL(softmax(z_t/T) ‖ softmax(z_s/T)) and, per hint, an MSE between a learned adapter of a
// student tensor and a teacher tensor; the built-in cross-entropy is weighted 1 − α.
import type { LossContext, StepExtensions } from '../../autodiff/train-step.js';
import type { Dataset, Normalization, TensorDataset } from '../../data/index.js';
import { normalizationAffine } from '../../data/index.js';
import { WhittleError } from '../../ir/errors.js';
import type { Dim, Model } from '../../ir/graph.js';
import { attr } from '../../ir/graph.js';
import { Tensor } from '../../ir/tensor.js';
import { initWeight, Rng } from '../../nn/init.js';
import type { TrainOptions, TrainResult } from '../../train/trainer.js';
import { train } from '../../train/trainer.js';
import { checkTeacher, mergeTeacher, TEACHER_PREFIX, tensorNames, valueShapes } from './teacher.js';

export { checkTeacher, mergeTeacher, TEACHER_PREFIX, tensorNames } from './teacher.js';

/** Match `student` (a value of the student) to `teacher` (a value of the teacher). */
export interface Hint {
  teacher: string;
  student: string;
  /** Weight of this hint's MSE in the loss; default 1. */
  weight?: number;
}

export interface DistillOptions {
  /** Softmax temperature T; default 4. */
  temperature?: number;
  /** Weight α of the soft (KD) term; the labels' cross-entropy gets 1 − α. Default 0.7 (best of those tried on MNIST, 784-100-10 from LeNet-5). */
  alpha?: number;
  hints?: readonly Hint[];
  /**
   * The input normalization the student is trained with and the one each teacher was trained with
   * (one per teacher, or one for all): a teacher trained on other inputs (e.g. mean/std where the
   * student takes x/255) gets the student's batch converted to its own. Absent: the teacher is fed
   * the student's input as it is.
   */
  normalization?: { student: Normalization; teacher: Normalization | readonly Normalization[] };
}

const ADAPTER = 'hint';

/** The adapter's parameter names for hint i (removed from the student after training). */
function adapterName(i: number): string {
  return `${ADAPTER}${i}.adapter`;
}

function resolveOptions(o: DistillOptions): { temperature: number; alpha: number } {
  const temperature = o.temperature ?? 4;
  const alpha = o.alpha ?? 0.7;
  if (!(temperature > 0)) throw new WhittleError('BAD_ARGUMENT', `temperature must be > 0, got ${temperature}`);
  if (!(alpha >= 0 && alpha <= 1)) throw new WhittleError('BAD_ARGUMENT', `alpha must be in [0, 1], got ${alpha}`);
  return { temperature, alpha };
}

function unknownTensor(which: 'teacher' | 'student', name: string, model: Model): WhittleError {
  const names = tensorNames(model);
  return new WhittleError('BAD_ARGUMENT', `hint: the ${which} has no tensor "${name}"; candidates: ${names.join(', ')}`);
}

/**
 * Adds to a copy of `student` one linear adapter per hint (Gemm for [N, F] tensors, 1×1 Conv for
 * [N, C, H, W]) mapping the student tensor to the teacher tensor's width; the adapters are
 * trainable parameters (`hint<i>.adapter.weight/.bias`) whose outputs only feed the hint losses.
 */
export function addHintAdapters(student: Model, teacher: Model, hints: readonly Hint[], seed = 0): { model: Model; outputs: string[] } {
  if (hints.length === 0) return { model: student, outputs: [] };
  const sShapes = valueShapes(student);
  const tShapes = valueShapes(teacher);
  const g = student.graph.clone();
  const rng = new Rng(seed ^ 0x5eed);
  const outputs = hints.map((h, i) => {
    const ss = sShapes.get(h.student)?.shape;
    const ts = tShapes.get(h.teacher)?.shape;
    if (ss === undefined || !tensorNames(student).includes(h.student)) throw unknownTensor('student', h.student, student);
    if (ts === undefined || !tensorNames(teacher).includes(h.teacher)) throw unknownTensor('teacher', h.teacher, teacher);
    const bad = (): WhittleError =>
      new WhittleError(
        'SHAPE_MISMATCH',
        `hint ${h.teacher}:${h.student}: teacher [${ts.join(', ')}] and student [${ss.join(', ')}] must both be [N, F] or both [N, C, H, W] with equal H, W`,
      );
    const sw = ss[1];
    const tw = ts[1];
    if (ss.length !== ts.length || typeof sw !== 'number' || typeof tw !== 'number') throw bad();
    const name = adapterName(i);
    const out = `${name}.out`;
    if (ss.length === 2) {
      g.initializers.set(`${name}.weight`, initWeight(rng, [tw, sw], 'glorot'));
      g.initializers.set(`${name}.bias`, new Tensor('float32', [tw]));
      g.nodes.push({
        name,
        opType: 'Gemm',
        domain: '',
        inputs: [h.student, `${name}.weight`, `${name}.bias`],
        outputs: [out],
        attributes: { transB: attr.int(1) },
      });
    } else if (ss.length === 4 && ss[2] === ts[2] && ss[3] === ts[3]) {
      g.initializers.set(`${name}.weight`, initWeight(rng, [tw, sw, 1, 1], 'glorot'));
      g.initializers.set(`${name}.bias`, new Tensor('float32', [tw]));
      g.nodes.push({
        name,
        opType: 'Conv',
        domain: '',
        inputs: [h.student, `${name}.weight`, `${name}.bias`],
        outputs: [out],
        attributes: { kernel_shape: attr.ints([1, 1]) },
      });
    } else throw bad();
    return out;
  });
  return { model: { ...student, graph: g, metadata: { ...student.metadata } }, outputs };
}

/** Removes the hint adapters `addHintAdapters` added (after training). */
export function removeHintAdapters(model: Model): Model {
  const g = model.graph.clone();
  const isAdapter = (s: string): boolean => /^hint\d+\.adapter(\.|$)/.test(s);
  g.nodes = g.nodes.filter((n) => !isAdapter(n.name));
  for (const k of [...g.initializers.keys()]) if (isAdapter(k)) g.initializers.delete(k);
  for (const k of [...g.valueInfo.keys()]) if (isAdapter(k)) g.valueInfo.delete(k);
  return { ...model, graph: g, metadata: { ...model.metadata } };
}

/**
 * α·T²·mean_batch Σ_c p_t (log p_t − log p_s), all at temperature T; with several teachers p_t is
 * the mean of their softened distributions.
 */
function kdTerm(ctx: LossContext, teacherLogits: readonly string[], temperature: number, alpha: number): string {
  const { b, dtype } = ctx;
  const invT = b.constant(Tensor.scalar(dtype, 1 / temperature), 'kd_inv_t');
  const zs = b.op1('Mul', [ctx.logits, invT]);
  let pt: string;
  let logPt: string;
  if (teacherLogits.length === 1) {
    const zt = b.op1('Mul', [teacherLogits[0] as string, invT]);
    pt = b.op1('Softmax', [zt], { axis: attr.int(-1) });
    logPt = b.op1('LogSoftmax', [zt], { axis: attr.int(-1) });
  } else {
    const ps = teacherLogits.map((z) => b.op1('Softmax', [b.op1('Mul', [z, invT])], { axis: attr.int(-1) }));
    pt = b.op1('Mul', [b.op1('Sum', ps), b.constant(Tensor.scalar(dtype, 1 / ps.length), 'kd_inv_teachers')]);
    logPt = b.op1('Log', [pt]);
  }
  const diff = b.op1('Sub', [logPt, b.op1('LogSoftmax', [zs], { axis: attr.int(-1) })]);
  const perSample = b.op1('ReduceSum', [b.op1('Mul', [pt, diff]), b.constant(Tensor.int64([-1]), 'kd_axes')], { keepdims: attr.int(0) });
  const kl = b.op1('ReduceMean', [perSample], { keepdims: attr.int(0) });
  return b.op('Mul', [kl, b.constant(Tensor.scalar(dtype, alpha * temperature * temperature), 'kd_weight')], {}, ['kd_loss'])[0] as string;
}

/**
 * The affine map from the student's normalized input to teacher `i`'s (value = scale·x + shift),
 * or undefined when they are the same normalization (or none is given). A byte b is
 * (b / s − m) / d under each normalization, so x_t = x_s·(d_s·s_s)/(s_t·d_t) + (m_s·s_s/s_t − m_t)/d_t.
 */
export function teacherInputAffine(student: Normalization, teacher: Normalization): { scale: number; shift: number } | undefined {
  if (student === teacher) return undefined;
  const s = normalizationAffine(student);
  const t = normalizationAffine(teacher);
  return { scale: (s.std * s.scale) / (t.scale * t.std), shift: ((s.mean * s.scale) / t.scale - t.mean) / t.std };
}

function inputConversion(n: DistillOptions['normalization'], i: number, count: number): { scale: number; shift: number } | undefined {
  if (n === undefined) return undefined;
  const list: readonly Normalization[] = typeof n.teacher === 'string' ? [n.teacher] : n.teacher;
  if (list.length !== 1 && list.length !== count)
    throw new WhittleError('BAD_ARGUMENT', `normalization lists ${list.length} teacher normalizations for ${count} teachers; give one, or one per teacher`);
  return teacherInputAffine(n.student, (list.length === 1 ? list[0] : list[i]) as Normalization);
}

/**
 * The training-step extensions that distill `teacher` into the student being trained: pass them
 * as `TrainOptions.step`. With hints, the student must carry the adapters of `addHintAdapters`
 * (whose output names are `hintOutputs`).
 *
 * ```ts
 * const step = distillationStep(teacher, student, { temperature: 4, alpha: 0.9 });
 * await train(student, mnist.train, { ...options, step });
 * ```
 */
export function distillationStep(
  teacher: Model | readonly Model[],
  student: Model,
  options: DistillOptions = {},
  hintOutputs: readonly string[] = [],
): StepExtensions {
  const { temperature, alpha } = resolveOptions(options);
  const teachers: readonly Model[] = Array.isArray(teacher) ? teacher : [teacher as Model];
  if (teachers.length === 0) throw new WhittleError('BAD_ARGUMENT', 'distillation needs at least one teacher');
  for (const t of teachers) checkTeacher(t, student);
  const hints = options.hints ?? [];
  if (hints.length > 0 && teachers.length > 1)
    throw new WhittleError('BAD_ARGUMENT', `hints match one teacher's tensors; ${teachers.length} teachers were given — pass one teacher with hints`);
  const studentInputShape: Dim[] = student.graph.inputs[0]?.shape ?? [];
  const converts = teachers.map((_, i) => inputConversion(options.normalization, i, teachers.length));
  return {
    baseLossWeight: 1 - alpha,
    extraLoss: (ctx) => {
      const names = teachers.map((t, i) => {
        const c = converts[i];
        const input =
          c === undefined
            ? ctx.input
            : ctx.b.op1('Add', [
                ctx.b.op1('Mul', [ctx.input, ctx.b.constant(Tensor.scalar(ctx.dtype, c.scale), 'teacher_input_scale')]),
                ctx.b.constant(Tensor.scalar(ctx.dtype, c.shift), 'teacher_input_shift'),
              ]);
        return mergeTeacher(ctx.graph, t, input, studentInputShape, i === 0 ? TEACHER_PREFIX : `teacher${i}/`);
      });
      const name = names[0] as (v: string) => string;
      const outs = teachers.map((t, i) => (names[i] as (v: string) => string)(t.graph.outputs[0]?.name as string));
      const terms = alpha > 0 ? [kdTerm(ctx, outs, temperature, alpha)] : [];
      hints.forEach((h, i) => {
        const out = hintOutputs[i];
        if (out === undefined) throw new WhittleError('BAD_ARGUMENT', `hint ${h.teacher}:${h.student} has no adapter; build the student with addHintAdapters`);
        const d = ctx.b.op1('Sub', [out, name(h.teacher)]);
        const mse = ctx.b.op1('ReduceMean', [ctx.b.op1('Mul', [d, d])], { keepdims: attr.int(0) });
        terms.push(ctx.b.op1('Mul', [mse, ctx.b.constant(Tensor.scalar(ctx.dtype, h.weight ?? 1), 'hint_weight')]));
      });
      return terms;
    },
  };
}

/**
 * Trains `student` on `data` distilled from `teacher` (or several, their softened distributions averaged): Hinton's soft-target loss plus optional
 * hints. `train` options pass through (a `step.masked` list composes: a pruned student keeps its
 * zeros). Returns the trained student without hint adapters.
 *
 * ```ts
 * const teacher = loadModelFile('runs/lenet-5.onnx');
 * const { model } = await distillStudent(teacher, createModel('mlp:784-100-10'), mnist.train, {
 *   epochs: 10, batchSize: 64, lr: 0.05, optimizer: { kind: 'sgd', momentum: 0.9 }, normalization: 'x/255',
 * }, { temperature: 4, alpha: 0.9 });
 * ```
 */
export async function distillStudent(
  teacher: Model | readonly Model[],
  student: Model,
  data: Dataset | TensorDataset,
  trainOptions: TrainOptions,
  options: DistillOptions = {},
): Promise<TrainResult> {
  const first = (Array.isArray(teacher) ? teacher[0] : teacher) as Model | undefined;
  const hints = first === undefined ? [] : (options.hints ?? []);
  const { model: withAdapters, outputs } =
    first === undefined ? { model: student, outputs: [] } : addHintAdapters(student, first, hints, trainOptions.seed ?? 0);
  const kd = distillationStep(teacher, withAdapters, options, outputs);
  const base = trainOptions.step;
  const step: StepExtensions = {
    ...base,
    ...kd,
    baseLossWeight: (base?.baseLossWeight ?? 1) * (kd.baseLossWeight ?? 1),
    extraLoss: (ctx) => [...(base?.extraLoss?.(ctx) ?? []), ...(kd.extraLoss?.(ctx) ?? [])],
  };
  const result = await train(withAdapters, data, { ...trainOptions, step });
  return { ...result, model: removeHintAdapters(result.model) };
}
