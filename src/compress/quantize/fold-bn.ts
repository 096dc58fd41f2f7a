// BatchNorm folding: Conv → BatchNormalization (inference form) becomes one Conv with rescaled
// weights and a shifted bias, so quantization sees the weights the model really multiplies by.
import type { Graph, Model, Node } from '../../ir/graph.js';
import { getFloat, GraphBuilder } from '../../ir/graph.js';
import { Tensor } from '../../ir/tensor.js';
import { dropUnusedInitializers } from '../../export/quant-graph.js';

/** Each value's producing node, and how many nodes read each value (a node reading it twice counts once). */
export function producersAndReads(g: Graph): { producer: Map<string, Node>; reads: Map<string, number> } {
  const producer = new Map<string, Node>();
  const reads = new Map<string, number>();
  for (const n of g.nodes) {
    for (const o of n.outputs) producer.set(o, n);
    for (const i of new Set(n.inputs)) reads.set(i, (reads.get(i) ?? 0) + 1);
  }
  return { producer, reads };
}

/**
 * Folds every BatchNormalization whose input is a Conv used only by it; returns a new model and
 * the names of the folded BatchNorm nodes.
 *
 * ```ts
 * const { model: folded } = foldBatchNorm(resnet);
 * ```
 */
export function foldBatchNorm(model: Model): { model: Model; folded: string[] } {
  const g = model.graph.clone();
  const folded: string[] = [];
  if (!g.nodes.some((n) => n.opType === 'BatchNormalization')) {
    dropUnusedInitializers(g);
    return { model: { ...model, graph: g, metadata: { ...model.metadata } }, folded };
  }
  const b = new GraphBuilder(g, 'fold');
  const outputs = new Set(g.outputs.map((o) => o.name));
  // Producers and read counts looked up, not scanned for, per BatchNorm (a scan each was quadratic).
  const { producer, reads } = producersAndReads(g);
  const removed = new Set<Node>();
  for (const bn of g.nodes) {
    if (bn.opType !== 'BatchNormalization') continue;
    const x = bn.inputs[0] as string;
    const conv = producer.get(x);
    if (conv === undefined || conv.opType !== 'Conv' || reads.get(x) !== 1 || outputs.has(x)) continue;
    const [scaleT, biasT, meanT, varT] = bn.inputs.slice(1, 5).map((n) => g.initializers.get(n));
    const w = g.initializers.get(conv.inputs[1] ?? '');
    const convBias = conv.inputs[2] ? g.initializers.get(conv.inputs[2]) : undefined;
    if (!scaleT || !biasT || !meanT || !varT || !w || w.dtype !== 'float32' || (conv.inputs[2] && !convBias)) continue;
    const eps = getFloat(bn, 'epsilon', 1e-5);
    const m = w.dims[0] as number;
    const per = w.size / m;
    const nw = new Float32Array(w.size);
    const nb = new Float32Array(m);
    for (let c = 0; c < m; c++) {
      const k = (scaleT.data[c] as number) / Math.sqrt((varT.data[c] as number) + eps);
      for (let i = 0; i < per; i++) nw[c * per + i] = (w.data[c * per + i] as number) * k;
      nb[c] = (((convBias?.data[c] as number | undefined) ?? 0) - (meanT.data[c] as number)) * k + (biasT.data[c] as number);
    }
    conv.inputs = [
      conv.inputs[0] as string,
      b.constant(new Tensor('float32', w.dims, nw), `${conv.name}.weight_folded`),
      b.constant(new Tensor('float32', [m], nb), `${conv.name}.bias_folded`),
    ];
    conv.outputs = [bn.outputs[0] as string];
    producer.set(bn.outputs[0] as string, conv);
    removed.add(bn);
    folded.push(bn.name);
  }
  if (removed.size > 0) g.nodes = g.nodes.filter((n) => !removed.has(n));
  // Drop initializers nothing reads anymore (the old weights and BN statistics); subgraphs' reads count.
  dropUnusedInitializers(g);
  return { model: { ...model, graph: g, metadata: { ...model.metadata } }, folded };
}
