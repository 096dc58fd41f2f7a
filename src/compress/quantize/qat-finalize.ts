// From a trained QAT model to a deployable one: the fake-quant nodes come out and the learned
// scales become QDQ parameters (uniform), or the weights are packed 1 or 2 bits each (binary,
// ternary), computed exactly as the training forward computed them.
import { WhittleError } from '../../ir/errors.js';
import type { Graph, Model } from '../../ir/graph.js';
import { Tensor } from '../../ir/tensor.js';
import { addPackedWeight } from '../../export/packed.js';
import { pactToClip } from './clip.js';
import type { QuantParams } from '../../export/affine.js';
import { quantRange } from '../../export/affine.js';
import { dropUnusedInitializers, weightedNodes } from '../../export/quant-graph.js';
import type { QatPlan } from './qat.js';
import { QAT_PLAN_KEY } from './qat.js';
import type { LayerReport, QuantizeResult } from './static.js';
import { buildQdq } from './static.js';

/** Keeps only the nodes the graph outputs depend on. */
export function removeDeadNodes(g: Graph): void {
  const live = new Set(g.outputs.map((o) => o.name));
  const kept = [];
  for (let i = g.nodes.length - 1; i >= 0; i--) {
    const n = g.nodes[i];
    if (n === undefined || !n.outputs.some((o) => live.has(o))) continue;
    kept.push(n);
    for (const x of n.inputs) live.add(x);
  }
  g.nodes = kept.reverse();
  dropUnusedInitializers(g);
}

/** The plan recorded in a QAT model's metadata. */
export function qatPlanOf(model: Model): QatPlan {
  const raw = model.metadata[QAT_PLAN_KEY];
  if (raw === undefined) throw new WhittleError('BAD_ARGUMENT', 'this model carries no quantization-aware-training plan; prepare it with prepareQat first');
  return JSON.parse(raw) as QatPlan;
}

const learned = (g: Graph, param: string, k: number): Float32Array =>
  Float32Array.from((g.initializers.get(param) as Tensor).data as Float32Array, (p) => Math.fround(p * Math.fround(k)));

/** Binary codes (1 = +α; sign(0) stores +α) and per-channel α = mean |W|, as the BWN forward computes them. */
export function binarize(w: Float32Array, dims: readonly number[], axis: number): { codes: Uint8Array; alpha: Float32Array } {
  const channels = dims[axis] as number;
  const inner = dims.slice(axis + 1).reduce((a, d) => a * d, 1);
  const sums = new Float64Array(channels);
  for (let i = 0; i < w.length; i++) {
    const c = Math.floor(i / inner) % channels;
    sums[c] = (sums[c] as number) + Math.abs(w[i] as number);
  }
  // The training forward holds α at 2^-24 resolution (stopGradient); store the same value.
  const alpha = Float32Array.from(sums, (s) => Math.round(Math.fround(s / (w.length / channels)) * 2 ** 24) / 2 ** 24);
  return { codes: Uint8Array.from(w, (v) => (v >= 0 ? 1 : 0)), alpha };
}

/** Ternary codes (0 → 0, 1 → +α, 2 → −α), Δ = 0.7·mean|W|, α = mean |W| over |W| > Δ (TWN). */
export function ternarize(w: Float32Array): { codes: Uint8Array; alpha: number; delta: number } {
  let sum = 0;
  for (const v of w) sum += Math.abs(v);
  const delta = Math.fround(Math.fround(sum / w.length) * Math.fround(0.7));
  let kept = 0;
  let keptSum = 0;
  const codes = new Uint8Array(w.length);
  for (let i = 0; i < w.length; i++) {
    const v = w[i] as number;
    // Round(W / 2Δ) clipped to ±1: nonzero exactly when |W / 2Δ| > 0.5 (ties round to even, 0).
    const r = Math.fround(v / Math.fround(delta + delta));
    if (Math.abs(r) > 0.5) {
      codes[i] = r > 0 ? 1 : 2;
    }
    if (Math.abs(v) > delta) {
      kept++;
      keptSum += Math.abs(v);
    }
  }
  return { codes, alpha: kept > 0 ? keptSum / kept : 0, delta };
}

/**
 * Turns a trained QAT model into its deployable form.
 *
 * ```ts
 * const { model: deployable, layers } = finalizeQat(trained);
 * saveModel(deployable, 'lenet-ternary.onnx');
 * ```
 */
export function finalizeQat(trained: Model, plan: QatPlan = qatPlanOf(trained)): QuantizeResult {
  const g = trained.graph.clone();
  for (const w of plan.weights) {
    const node = g.nodes.find((n) => n.name === w.node);
    if (node === undefined) throw new WhittleError('INVALID_GRAPH', `the QAT plan names layer "${w.node}", which the model lacks`);
    node.inputs[1] = w.weight;
  }
  for (const a of plan.activations) for (const n of g.nodes) n.inputs = n.inputs.map((i) => (i === a.output ? a.value : i));
  const scaleParams = new Map<string, Tensor>();
  for (const p of [...plan.weights.map((w) => w.scaleParam), ...plan.activations.map((a) => a.scaleParam)]) {
    if (p !== undefined && g.initializers.has(p)) scaleParams.set(p, g.initializers.get(p) as Tensor);
  }
  removeDeadNodes(g);
  const metadata = { ...trained.metadata };
  delete metadata[QAT_PLAN_KEY];
  const plain: Model = { ...trained, graph: g, metadata };

  if (plan.scheme === 'uniform') {
    for (const [k, t] of scaleParams) g.initializers.set(k, t);
    const activations = new Map(plan.activations.map((a) => [a.value, { scale: learned(g, a.scaleParam, a.gradScale)[0] as number, zeroPoint: a.zeroPoint }]));
    const byWeight = new Map(plan.weights.map((w) => [w.weight, w]));
    const bits = plan.bits as 2 | 4 | 8;
    // Layers trained without fake-quant weights (--keep-float) stay float in the export too.
    const keepFloat = new Set(
      weightedNodes(g)
        .filter((wn) => !byWeight.has(wn.weightName))
        .map((wn) => wn.node.name),
    );
    const result = buildQdq(
      plain,
      activations,
      (wn): QuantParams => {
        const w = byWeight.get(wn.weightName);
        if (w?.scaleParam === undefined || w.gradScale === undefined) throw new WhittleError('INVALID_GRAPH', `no learned scale for "${wn.weightName}"`);
        const scale = learned(g, w.scaleParam, w.gradScale);
        return {
          scale,
          zeroPoint: new Int32Array(scale.length),
          axis: w.axis,
          scheme: { bits, signed: true, symmetric: true, reduceRange: plan.reduceRange === true },
        };
      },
      keepFloat,
    );
    for (const k of scaleParams.keys()) result.model.graph.initializers.delete(k);
    const [qmin, qmax] = quantRange({ bits, signed: true, reduceRange: plan.reduceRange === true });
    const tops = new Map(plan.activations.filter((a) => a.zeroPoint === 0).map((a) => [a.value, 255 * (learned(g, a.scaleParam, a.gradScale)[0] as number)]));
    const model = pactToClip(result.model, tops);
    return { ...result, model: { ...model, metadata: { ...result.model.metadata, 'whittle.quantization': `qat-qdq-int${bits} [${qmin}, ${qmax}]` } } };
  }

  const layers: LayerReport[] = [];
  for (const wn of weightedNodes(g)) {
    const entry = plan.weights.find((w) => w.node === wn.node.name);
    if (entry === undefined) continue;
    const data = wn.weight.data as Float32Array;
    let bytes: number;
    let sparsity = 0;
    if (plan.scheme === 'binary') {
      const { codes, alpha } = binarize(data, wn.weight.dims, entry.axis);
      const scaleDims = wn.weight.dims.map((d, i) => (i === entry.axis ? d : 1));
      bytes = addPackedWeight(g, { name: wn.weightName, dims: wn.weight.dims, codes, bits: 1, table: [-1, 1], scale: new Tensor('float32', scaleDims, alpha) });
    } else {
      const { codes, alpha } = ternarize(data);
      sparsity = codes.reduce((n, c) => n + (c === 0 ? 1 : 0), 0) / codes.length;
      bytes = addPackedWeight(g, {
        name: wn.weightName,
        dims: wn.weight.dims,
        codes,
        bits: 2,
        table: [0, 1, -1, 0],
        scale: Tensor.fromArray('float32', [1], [alpha]),
      });
    }
    bytes += 4 * (wn.bias?.size ?? 0);
    layers.push({ name: wn.node.name, op: wn.node.opType, bits: plan.bits, params: wn.weight.size + (wn.bias?.size ?? 0), bytes, sparsity });
  }
  return { model: pactToClip({ ...plain, metadata: { ...metadata, 'whittle.quantization': `${plan.scheme}-packed` } }), layers };
}
