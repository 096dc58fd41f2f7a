// Function-preserving growth (Chen, Goodfellow, Shlens 2016, "Net2Net"): widen a Dense or Conv
// layer by replicating units and splitting their outgoing weights, or insert an identity-initialized
// Dense or Conv layer. Both return new models whose outputs equal the old ones up to float rounding.
import { WhittleError } from '../../ir/errors.js';
import type { Model, Node } from '../../ir/graph.js';
import { attr } from '../../ir/graph.js';
import { Tensor } from '../../ir/tensor.js';
import { Rng } from '../../nn/init.js';
import { denseChain, readChain, writeChain } from '../merge/dense.js';
import { dependencyGroups } from '../../graph/index.js';
import { channelGroup, deepenConv, widenChannels } from './channels.js';

export { growWhenStuck } from './policy.js';
export { channelGroup, deepenConv, widenChannels } from './channels.js';

/** A growable layer's width: a Dense layer's neurons, else its channel group's (Conv filters, MatMul units). */
export function layerWidth(model: Model, layer: string): number {
  return denseLayer(model, layer) ? denseChain(model.graph, layer).width : channelGroup(model, layer).channels;
}

/**
 * The Conv node a layer name (node or weight name) refers to, if it is one; BAD_ARGUMENT listing
 * the layers that can grow when the name is neither a Conv, a Dense layer nor another producer of
 * a channel group (e.g. a Transformer MLP's MatMul).
 */
export function isConv(model: Model, layer: string): Node | undefined {
  const named = (opType: string): Node | undefined =>
    model.graph.nodes.find((n) => n.opType === opType && (n.name === layer || n.inputs[1] === layer || n.inputs[1] === `${layer}.weight`));
  const conv = named('Conv');
  if (conv === undefined && named('Gemm') === undefined && !isGroupProducer(model, layer)) {
    const layers = model.graph.nodes
      .filter((n) => (n.opType === 'Conv' || n.opType === 'Gemm' || n.opType === 'MatMul') && model.graph.initializers.has(n.inputs[1] ?? ''))
      .map((n) => n.name);
    throw new WhittleError('BAD_ARGUMENT', `no Dense or Conv layer "${layer}"; layers: ${layers.join(', ') || '(none)'}`);
  }
  return conv;
}

function isGroupProducer(model: Model, layer: string): boolean {
  const node = model.graph.nodes.find((n) => n.name === layer || (n.inputs[1] !== undefined && (n.inputs[1] === layer || n.inputs[1] === `${layer}.weight`)));
  return node !== undefined && dependencyGroups(model.graph).some((g) => g.producers.includes(node.name));
}

/**
 * Whether the Dense-chain rules (Gemm → Relu/LeakyRelu/Sigmoid/Tanh → Gemm) apply to `layer`;
 * other layers (a Gemm through HardSwish or GELU, a MatMul) grow through their channel group.
 */
function denseLayer(model: Model, layer: string): boolean {
  if (isConv(model, layer) !== undefined) return false;
  try {
    denseChain(model.graph, layer);
    return true;
  } catch (e) {
    if (e instanceof WhittleError && e.code === 'BAD_ARGUMENT' && isGroupProducer(model, layer)) return false;
    throw e;
  }
}
export type { GrowEvent, GrowPolicy, GrowResult } from './policy.js';

export interface WidenOptions {
  /** The layer to widen (node name, e.g. 'fc1' or 'conv1'): a Dense layer feeding one Dense layer, or a Conv (its coupled channel group grows: BatchNorm, residual additions, the next layers' inputs). */
  layer: string;
  /** The new number of units (more than now). */
  width: number;
  /**
   * Symmetry breaking: replicas split their outgoing weights unequally by zero-sum noise of this
   * standard deviation relative to the split weight (the sum, so the output, is unchanged).
   * Default 0: the exact Net2Net split.
   */
  noise?: number;
  /**
   * 'replicate' (default): Net2WiderNet. 'random': new units get fresh He-initialized incoming
   * weights and zero outgoing weights: also function-preserving, and no symmetry to break.
   */
  init?: 'replicate' | 'random';
  seed?: number;
}

/**
 * Net2WiderNet: adds `width − current` units to a Dense layer, each a copy of a randomly chosen
 * unit (incoming weights and bias); every unit's outgoing weights are divided among its copies.
 *
 * ```ts
 * const wider = widen(model, { layer: 'fc1', width: 600 });
 * ```
 */
export function widen(model: Model, options: WidenOptions): Model {
  if (!denseLayer(model, options.layer)) {
    return widenChannels(model, channelGroup(model, options.layer), {
      width: options.width,
      noise: options.noise ?? 0,
      init: options.init ?? 'replicate',
      seed: options.seed ?? 0,
    });
  }
  const g = model.graph.clone();
  const chain = denseChain(g, options.layer);
  const old = readChain(g, chain);
  const n = options.width;
  if (!Number.isInteger(n) || n <= old.width) {
    throw new WhittleError(
      'BAD_ARGUMENT',
      `cannot widen "${chain.layer.name}" to ${n} units: it has ${old.width}; give a larger integer width (merge or prune to make it smaller)`,
    );
  }
  const noise = options.noise ?? 0;
  if (!(noise >= 0)) throw new WhittleError('BAD_ARGUMENT', `noise must be ≥ 0, got ${noise}`);
  const rng = new Rng(options.seed ?? 0);
  // source[u]: the original unit new unit u copies.
  const random = options.init === 'random';
  const source = Array.from({ length: n }, (_, u) => (u < old.width || random ? u : Math.floor(rng.uniform() * old.width)));
  const copies = new Array<number[]>(n);
  for (let u = 0; u < n; u++) (copies[source[u] as number] ??= []).push(u);
  const { inFeatures: f, outFeatures: of } = old;
  const incoming = new Float32Array(n * f);
  const bias = new Float32Array(n);
  const outgoing = new Float32Array(n * of);
  const heStd = Math.sqrt(2 / f);
  for (let u = 0; u < n; u++) {
    const s = source[u] as number;
    if (s >= old.width) {
      for (let k = 0; k < f; k++) incoming[u * f + k] = rng.normal() * heStd;
      continue;
    }
    incoming.set(old.incoming.subarray(s * f, (s + 1) * f), u * f);
    bias[u] = old.bias[s] as number;
  }
  // Units of their own (random init) keep zero outgoing weights.
  copies.forEach((group, s) => {
    if (s >= old.width) return;
    const c = group.length;
    for (let o = 0; o < of; o++) {
      const share = (old.outgoing[s * of + o] as number) / c;
      // Zero-sum noise keeps Σ over the copies equal to the original weight.
      const eps = group.map(() => (c > 1 && noise > 0 ? rng.normal() * noise * Math.abs(share) : 0));
      const mean = eps.reduce((a, e) => a + e, 0) / c;
      group.forEach((u, m) => (outgoing[u * of + o] = share + (eps[m] as number) - mean));
    }
  });
  writeChain(g, chain, { incoming, bias, outgoing, width: n, inFeatures: f, outFeatures: of });
  return { ...model, graph: g, metadata: { ...model.metadata } };
}

export interface DeepenOptions {
  /** Insert the new layer after this Dense or Conv layer (after its ReLU, if any). */
  after: string;
  /** Name of the new layer; default `${after}_deep` (made unique). */
  name?: string;
}

/**
 * Net2DeeperNet: inserts a Dense layer initialized to the identity after a Dense layer, followed
 * by a ReLU when that layer's activation is a ReLU (ReLU(I·ReLU(x)) = ReLU(x)).
 *
 * ```ts
 * const deeper = deepen(model, { after: 'fc1' });
 * ```
 */
export function deepen(model: Model, options: DeepenOptions): Model {
  const conv = isConv(model, options.after);
  if (conv !== undefined) {
    const used = model.graph.allNames();
    if (options.name !== undefined && used.has(options.name))
      throw new WhittleError('BAD_ARGUMENT', `name "${options.name}" is already used in the model; choose another`);
    let name = options.name ?? `${conv.name}_deep`;
    for (let i = 2; used.has(name) || used.has(`${name}.weight`); i++) name = `${conv.name}_deep${i}`;
    return deepenConv(model, conv, name);
  }
  const g = model.graph.clone();
  const chain = denseChain(g, options.after);
  const act = chain.activation;
  const value = (act?.outputs[0] ?? chain.layer.outputs[0]) as string;
  const used = g.allNames();
  let name = options.name ?? `${chain.layer.name}_deep`;
  if (options.name !== undefined && used.has(name)) throw new WhittleError('BAD_ARGUMENT', `name "${name}" is already used in the model; choose another`);
  for (let i = 2; used.has(name) || used.has(`${name}.weight`); i++) name = `${chain.layer.name}_deep${i}`;
  const w = chain.width;
  const eye = new Tensor('float32', [w, w]);
  for (let i = 0; i < w; i++) (eye.data as Float32Array)[i * w + i] = 1;
  g.initializers.set(`${name}.weight`, eye);
  g.initializers.set(`${name}.bias`, new Tensor('float32', [w]));
  const reluAfter = act?.opType === 'Relu';
  const out = reluAfter ? `${name}.linear` : name;
  const nodes: Node[] = [
    { name, opType: 'Gemm', domain: '', inputs: [value, `${name}.weight`, `${name}.bias`], outputs: [out], attributes: { transB: attr.int(1) } },
  ];
  if (reluAfter) nodes.push({ name: `${name}_relu`, opType: 'Relu', domain: '', inputs: [out], outputs: [`${name}_relu`], attributes: {} });
  const result = nodes[nodes.length - 1]?.outputs[0] as string;
  chain.next.inputs = chain.next.inputs.map((i) => (i === value ? result : i));
  const at = g.nodes.indexOf(chain.next);
  g.nodes.splice(at, 0, ...nodes);
  return { ...model, graph: g, metadata: { ...model.metadata } };
}
