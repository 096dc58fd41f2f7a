// HardSigmoid folding for static int8: Conv → HardSigmoid(α, β) computes clip(α(W∗x + b) + β, 0, 1)
// = Clip((αW)∗x + (αb + β), 0, 1), and onnxruntime fuses a Conv → Clip → QuantizeLinear whose
// range lies inside [0, 1] into one QLinearConv. onnxruntime has no integer HardSigmoid: each
// squeeze-excitation gate of a MobileNetV3 ran DequantizeLinear → HardSigmoid → QuantizeLinear
// after its QLinearConv.
import type { Model } from '../../ir/graph.js';
import { attr, getFloat, GraphBuilder, opsetOf } from '../../ir/graph.js';
import { Tensor } from '../../ir/tensor.js';
import { dropUnusedInitializers } from '../../export/quant-graph.js';
import { producersAndReads } from './fold-bn.js';

/**
 * Folds every HardSigmoid whose input is a Conv (constant float32 weight and bias, read only by
 * it) used only by the HardSigmoid into that Conv, leaving Clip(0, 1); returns a new model and the
 * names of the folded HardSigmoid nodes. The float function is unchanged.
 *
 * ```ts
 * const { model: folded } = foldHardSigmoid(mobilenetV3);
 * ```
 */
export function foldHardSigmoid(model: Model): { model: Model; folded: string[] } {
  const g = model.graph.clone();
  const folded: string[] = [];
  if (!g.nodes.some((n) => n.opType === 'HardSigmoid')) return { model: { ...model, graph: g }, folded };
  const b = new GraphBuilder(g, 'hsig');
  const outputs = new Set(g.outputs.map((o) => o.name));
  const { producer, reads } = producersAndReads(g);
  const attributeClip = opsetOf(model) < 11;
  let bounds: [string, string] | undefined;
  for (const hs of g.nodes) {
    if (hs.opType !== 'HardSigmoid' || hs.domain !== '') continue;
    const x = hs.inputs[0] as string;
    const conv = producer.get(x);
    if (conv === undefined || conv.opType !== 'Conv' || conv.domain !== '' || reads.get(x) !== 1 || outputs.has(x)) continue;
    const w = g.initializers.get(conv.inputs[1] ?? '');
    const biasName = conv.inputs[2] ?? '';
    const bias = biasName === '' ? undefined : g.initializers.get(biasName);
    if (w === undefined || w.dtype !== 'float32' || (biasName !== '' && (bias === undefined || bias.dtype !== 'float32'))) continue;
    if (reads.get(conv.inputs[1] as string) !== 1 || (biasName !== '' && reads.get(biasName) !== 1)) continue;
    const alpha = getFloat(hs, 'alpha', 0.2);
    const beta = getFloat(hs, 'beta', 0.5);
    const m = w.dims[0] as number;
    const nw = Float32Array.from(w.data as Float32Array, (v) => v * alpha);
    const nb = new Float32Array(m);
    for (let c = 0; c < m; c++) nb[c] = ((bias?.data[c] as number | undefined) ?? 0) * alpha + beta;
    conv.inputs = [
      conv.inputs[0] as string,
      b.constant(new Tensor('float32', w.dims, nw), `${conv.name}.weight_hsig`),
      b.constant(new Tensor('float32', [m], nb), `${conv.name}.bias_hsig`),
    ];
    hs.opType = 'Clip';
    if (attributeClip) hs.attributes = { min: attr.float(0), max: attr.float(1) };
    else {
      hs.attributes = {};
      bounds ??= [b.constant(Tensor.scalar('float32', 0), 'hsig_lo'), b.constant(Tensor.scalar('float32', 1), 'hsig_hi')];
      hs.inputs = [x, ...bounds];
    }
    folded.push(hs.name);
  }
  dropUnusedInitializers(g);
  return { model: { ...model, graph: g }, folded };
}
