// HardSwish spelled out for static int8: exporters without a HardSwish op (paddle2onnx, PyTorch
// before opset 14) write x · Clip(x + 3, 0, 6) / 6 as four float nodes. Between int8 layers each
// of them ran in float with a DequantizeLinear before and a QuantizeLinear after (PaddleOCR cls at
// batch 1: 0.8 of its 1.9 ms of int8 kernels); as one HardSwish node the quantizer writes it in
// the form onnxruntime runs as QLinearAdd + QLinearMul (static.ts integerHardSwish).
import type { Model, Node } from '../../ir/graph.js';
import { getFloat, opsetOf } from '../../ir/graph.js';
import type { Tensor } from '../../ir/tensor.js';
import { constantValues } from '../../ir/shape.js';
import { dropUnusedInitializers } from '../../export/quant-graph.js';
import { producersAndReads } from './fold-bn.js';

/** HardSwish exists from this opset on. */
export const HARDSWISH_OPSET = 14;

function scalarOf(t: Tensor | undefined): number | undefined {
  return t !== undefined && t.size === 1 && t.dtype === 'float32' ? (t.data[0] as number) : undefined;
}

const near = (a: number | undefined, b: number): boolean => a !== undefined && Math.abs(a - b) <= 1e-6 * Math.max(1, Math.abs(b));

/**
 * Replaces every x · Clip(x + 3, 0, 6) / 6 (the division also as · 1/6, the product in either
 * order) and x · HardSigmoid(x; 1/6, 1/2) whose intermediate values nothing else reads by one HardSwish node; returns a new model
 * and the names of the HardSwish nodes' outputs. Models below opset 14 are returned unchanged.
 *
 * ```ts
 * const { model: folded } = foldHardSwish(upgradeOpset(paddleCls, 17));
 * ```
 */
export function foldHardSwish(model: Model): { model: Model; folded: string[] } {
  const g = model.graph.clone();
  const folded: string[] = [];
  if (opsetOf(model) < HARDSWISH_OPSET) return { model: { ...model, graph: g }, folded };
  const constants = constantValues(g);
  const outputs = new Set(g.outputs.map((o) => o.name));
  const { producer, reads } = producersAndReads(g);
  const only = (v: string): boolean => reads.get(v) === 1 && !outputs.has(v);
  const constantOperand = (n: Node): { other: string; value: number | undefined } | undefined => {
    const [a = '', b = ''] = n.inputs;
    if (constants.has(b)) return { other: a, value: scalarOf(constants.get(b)) };
    if (constants.has(a) && n.opType !== 'Div') return { other: b, value: scalarOf(constants.get(a)) };
    return undefined;
  };
  const drop = new Set<Node>();
  const toHardSwish = (last: Node, x: string): void => {
    last.opType = 'HardSwish';
    last.inputs = [x];
    last.attributes = {};
    folded.push(last.outputs[0] as string);
  };
  for (const last of g.nodes) {
    if (last.domain !== '' || (last.opType !== 'Div' && last.opType !== 'Mul')) continue;
    // PyTorch before opset 14: x · HardSigmoid(x; α = 1/6, β = 1/2).
    const gate = last.opType === 'Mul' ? last.inputs.map((v) => producer.get(v)).findIndex((p) => p?.opType === 'HardSigmoid') : -1;
    const hs = gate < 0 ? undefined : producer.get(last.inputs[gate] as string);
    if (
      hs !== undefined &&
      last.inputs[1 - gate] === hs.inputs[0] &&
      only(hs.outputs[0] as string) &&
      near(getFloat(hs, 'alpha', 0.2), 1 / 6) &&
      near(getFloat(hs, 'beta', 0.5), 0.5)
    ) {
      drop.add(hs);
      toHardSwish(last, hs.inputs[0] as string);
      continue;
    }
    const scale = constantOperand(last);
    if (scale === undefined || !(last.opType === 'Div' ? near(scale.value, 6) : near(scale.value, 1 / 6))) continue;
    const mul = producer.get(scale.other);
    if (mul?.opType !== 'Mul' || mul.domain !== '' || !only(scale.other)) continue;
    for (const [xi, ci] of [
      [0, 1],
      [1, 0],
    ] as const) {
      const x = mul.inputs[xi] as string;
      const clipOut = mul.inputs[ci] as string;
      const clip = producer.get(clipOut);
      if (
        clip?.opType !== 'Clip' ||
        !only(clipOut) ||
        !near(scalarOf(constants.get(clip.inputs[1] ?? '')), 0) ||
        !near(scalarOf(constants.get(clip.inputs[2] ?? '')), 6)
      )
        continue;
      const add = producer.get(clip.inputs[0] as string);
      const shift = add?.opType === 'Add' ? constantOperand(add) : undefined;
      if (add === undefined || shift === undefined || shift.other !== x || !near(shift.value, 3) || !only(add.outputs[0] as string)) continue;
      drop.add(add).add(clip).add(mul);
      toHardSwish(last, x);
      break;
    }
  }
  g.nodes = g.nodes.filter((n) => !drop.has(n));
  dropUnusedInitializers(g);
  return { model: { ...model, graph: g }, folded };
}
