// Clipping: activations to a fixed range (ReLU6) or a learned one (PACT), and weights to
// [−A, A] after every training step.
import { WhittleError } from '../../ir/errors.js';
import type { Model } from '../../ir/graph.js';
import { GraphBuilder } from '../../ir/graph.js';
import { Tensor } from '../../ir/tensor.js';
import type { StepContext, TrainCallback } from '../../train/trainer.js';
import { weightedNodes } from '../../export/quant-graph.js';

export const ACTIVATION_CLIPS = ['relu6', 'pact'] as const;
export type ActivationClip = (typeof ACTIVATION_CLIPS)[number];

/** Suffix of the learned PACT clip parameter of a ReLU: `${relu}.pact_alpha`. */
export const PACT_SUFFIX = '.pact_alpha';

/**
 * Replaces every Relu by ReLU6 (Clip 0..6) or PACT: relu(x) − relu(x − α), which equals
 * clip(x, 0, α) and whose gradient in α is dY where x > α; α (initial `pactInit`, default 6) is a
 * trainable parameter.
 *
 * ```ts
 * const clipped = clipActivations(model, 'pact', { pactInit: 8 });
 * ```
 */
export function clipActivations(model: Model, kind: ActivationClip, o: { pactInit?: number } = {}): Model {
  const g = model.graph.clone();
  const b = new GraphBuilder(g, 'clip');
  let count = 0;
  for (const relu of [...g.nodes]) {
    if (relu.opType !== 'Relu') continue;
    count++;
    const x = relu.inputs[0] as string;
    const y = relu.outputs[0] as string;
    const saved = g.nodes;
    g.nodes = [];
    if (kind === 'relu6') {
      b.op('Clip', [x, b.constant(Tensor.scalar('float32', 0), 'zero'), b.constant(Tensor.scalar('float32', 6), 'six')], {}, [y]);
    } else {
      const alpha = `${relu.name}${PACT_SUFFIX}`;
      g.initializers.set(alpha, Tensor.fromArray('float32', [1], [o.pactInit ?? 6]));
      const low = b.op1('Relu', [x]);
      const high = b.op1('Relu', [b.op1('Sub', [x, alpha])]);
      b.op('Sub', [low, high], {}, [y]);
    }
    const added = g.nodes;
    g.nodes = saved;
    g.nodes.splice(g.nodes.indexOf(relu), 1, ...added);
  }
  if (count === 0) throw new WhittleError('BAD_ARGUMENT', `--clip-activations ${kind} replaces ReLUs and this model has none`);
  return { ...model, graph: g, metadata: { ...model.metadata, 'whittle.activation_clip': kind } };
}

/**
 * The inference form of a PACT model: each relu(x) − relu(x − α) becomes Clip(x, 0, α). Where the
 * clipped value is then quantized with zero point 0 and its top code 255·s (`quantizedTop`) is
 * ≤ α, the quantizer already saturates there, so a plain Relu is exact (and onnxruntime fuses it);
 * where it is not, the two-ReLU form stays (onnxruntime 1.30 rejects some QDQ graphs with a
 * Clip between QGemm and QuantizeLinear: "two nodes with same node name").
 */
export function pactToClip(model: Model, quantizedTop: ReadonlyMap<string, number> = new Map()): Model {
  const g = model.graph.clone();
  const b = new GraphBuilder(g, 'pact');
  for (const [name, alpha] of [...g.initializers]) {
    if (!name.endsWith(PACT_SUFFIX)) continue;
    const sub = g.consumersOf(name)[0];
    const high = sub ? g.consumersOf(sub.outputs[0] as string)[0] : undefined;
    const out = high ? g.consumersOf(high.outputs[0] as string)[0] : undefined;
    if (!sub || !high || !out || out.opType !== 'Sub') continue;
    const x = sub.inputs[0] as string;
    const y = out.outputs[0] as string;
    const low = g.producerOf(out.inputs[0] as string);
    const a = alpha.data[0] as number;
    const top = quantizedTop.get(y);
    if (top !== undefined && top > a) continue;
    const replacement =
      top !== undefined
        ? { name: b.fresh('pact_relu'), opType: 'Relu', domain: '', inputs: [x], outputs: [y], attributes: {} }
        : {
            name: b.fresh('pact_clip'),
            opType: 'Clip',
            domain: '',
            inputs: [x, b.constant(Tensor.scalar('float32', 0), 'zero'), b.constant(Tensor.scalar('float32', a), 'alpha')],
            outputs: [y],
            attributes: {},
          };
    g.nodes = g.nodes.filter((n) => n !== sub && n !== high && n !== low).map((n) => (n === out ? replacement : n));
    g.initializers.delete(name);
  }
  return { ...model, graph: g, metadata: { ...model.metadata } };
}

/** Names of the weight tensors of Conv/Gemm/MatMul layers (what --clip-weights bounds). */
export function layerWeights(model: Model): string[] {
  return weightedNodes(model.graph).map((w) => w.weightName);
}

/**
 * A training callback that clips the named weights to [−limit, limit] after every run.
 *
 * ```ts
 * await train(model, data, { ...options, callbacks: [weightClipCallback(1, layerWeights(model))] });
 * ```
 */
export function weightClipCallback(limit: number, weights: readonly string[]): TrainCallback {
  if (!(limit > 0)) throw new WhittleError('BAD_ARGUMENT', `--clip-weights must be > 0, got ${limit}`);
  return {
    onStepEnd(ctx: StepContext) {
      for (const name of weights) {
        const t = ctx.state.get(name);
        if (t === undefined) continue;
        const d = Float32Array.from(t.data as Float32Array, (v) => (v > limit ? limit : v < -limit ? -limit : v));
        ctx.state.set(name, new Tensor(t.dtype, t.dims, d));
      }
    },
  };
}

/** Clips the weights of a model's layers to [−limit, limit] (post-training form of --clip-weights). */
export function clipWeights(model: Model, limit: number): Model {
  if (!(limit > 0)) throw new WhittleError('BAD_ARGUMENT', `--clip-weights must be > 0, got ${limit}`);
  const g = model.graph.clone();
  for (const name of layerWeights(model)) {
    const t = g.initializers.get(name) as Tensor;
    g.initializers.set(
      name,
      new Tensor(
        t.dtype,
        t.dims,
        Float32Array.from(t.data as Float32Array, (v) => Math.min(limit, Math.max(-limit, v))),
      ),
    );
  }
  return { ...model, graph: g, metadata: { ...model.metadata } };
}
