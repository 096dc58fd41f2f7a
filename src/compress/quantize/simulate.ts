// Whittle's own evaluation of a QDQ model: every QuantizeLinear → DequantizeLinear pair becomes
// float arithmetic (Div, Round half-to-even, Clip, Mul) and every dequantized constant a float
// initializer. Running it shows what the integer model should compute, independently of ORT's
// fused integer kernels.
import { WhittleError } from '../../ir/errors.js';
import type { Model, Node } from '../../ir/graph.js';
import { getInt, GraphBuilder } from '../../ir/graph.js';
import { Tensor } from '../../ir/tensor.js';
import type { QuantParams } from '../../export/affine.js';
import { dequantizeArray } from '../../export/affine.js';
import { dropUnusedInitializers } from '../../export/quant-graph.js';

const RANGE: Record<string, [number, number]> = { int8: [-128, 127], uint8: [0, 255], int32: [-(2 ** 31), 2 ** 31 - 1] };

/**
 * The float "fake-quant" twin of a QDQ model.
 *
 * ```ts
 * const twin = simulateQdq(quantized);
 * const { accuracy } = await evaluate(twin, mnist.test, { normalization: 'x/255' });
 * ```
 */
export function simulateQdq(model: Model): Model {
  const g = model.graph.clone();
  const b = new GraphBuilder(g, 'sim');
  const emitted: Node[] = [];
  const saved = g.nodes;
  g.nodes = emitted;
  for (const n of saved) {
    // A bias scale computed as s_x·s_w (static.ts stores it as that Mul): folded like onnxruntime does.
    const [ma, mb] = n.inputs.map((i) => g.initializers.get(i));
    if (n.opType === 'Mul' && ma?.dtype === 'float32' && mb?.dtype === 'float32' && (ma.size === 1 || mb.size === 1)) {
      const [one, many] = ma.size === 1 ? [ma, mb] : [mb, ma];
      const k = one.data[0] as number;
      g.initializers.set(
        n.outputs[0] as string,
        new Tensor(
          'float32',
          many.dims,
          (many.data as Float32Array).map((v) => Math.fround(k * v)),
        ),
      );
      continue;
    }
    // An int32 bias stored narrow and widened by a Cast (static.ts): folded like onnxruntime does.
    const cast = n.opType === 'Cast' ? g.initializers.get(n.inputs[0] ?? '') : undefined;
    if (cast !== undefined && getInt(n, 'to', 0) === 6) {
      g.initializers.set(n.outputs[0] as string, Tensor.fromArray('int32', cast.dims, cast.data as ArrayLike<number>));
      continue;
    }
    if (n.opType === 'DequantizeLinear' && g.initializers.has(n.inputs[0] ?? '')) {
      const q = g.initializers.get(n.inputs[0] as string) as Tensor;
      const s = g.initializers.get(n.inputs[1] ?? '') as Tensor;
      const z = n.inputs[2] ? g.initializers.get(n.inputs[2]) : undefined;
      const axis = s.size > 1 ? getInt(n, 'axis', 1) : undefined;
      const p: QuantParams = {
        scale: Float32Array.from(s.data as Float32Array),
        zeroPoint: Int32Array.from(z ? (z.data as ArrayLike<number>) : new Int32Array(s.size)),
        axis,
        scheme: { bits: 8, signed: true, symmetric: true },
      };
      const values = dequantizeArray(q.data as ArrayLike<number>, q.dims, p);
      g.initializers.set(n.outputs[0] as string, new Tensor('float32', q.dims, values));
      continue;
    }
    if (n.opType === 'QuantizeLinear') {
      const readers = saved.filter((m) => m.inputs.includes(n.outputs[0] as string));
      if (!readers.every((m) => m.opType === 'DequantizeLinear'))
        throw new WhittleError('INVALID_GRAPH', `QuantizeLinear "${n.name}" feeds something other than DequantizeLinear; simulateQdq handles QDQ pairs only`);
      const s = n.inputs[1] as string;
      const zt = g.initializers.get(n.inputs[2] ?? '');
      const [lo, hi] = RANGE[zt?.dtype ?? 'uint8'] ?? [0, 255];
      const z = b.constant(new Tensor('float32', [], Float32Array.of(Number(zt?.data[0] ?? 0))), 'zp');
      const shifted = b.op1('Add', [b.op1('Round', [b.op1('Div', [n.inputs[0] as string, s])]), z]);
      const clipped = b.op1('Clip', [shifted, b.constant(Tensor.scalar('float32', lo), 'qmin'), b.constant(Tensor.scalar('float32', hi), 'qmax')]);
      const value = b.op1('Mul', [b.op1('Sub', [clipped, z]), s]);
      for (const m of readers) b.op('Identity', [value], {}, [m.outputs[0] as string]);
      continue;
    }
    if (n.opType === 'DequantizeLinear') continue;
    emitted.push(n);
  }
  g.nodes = emitted;
  dropUnusedInitializers(g);
  return { ...model, graph: g, metadata: { ...model.metadata } };
}
