// Packed low-bit weights in a plain ONNX file: codes of 1 or 2 bits stored 8 or 4 to a byte in a
// uint8 initializer, with an unpacking subgraph (BitShift, Mod, Gather from a value table, scale)
// that onnxruntime folds to a float32 constant when it loads the model.
import { WhittleError } from '../ir/errors.js';
import type { Graph, Node } from '../ir/graph.js';
import { attr, GraphBuilder } from '../ir/graph.js';
import { Tensor } from '../ir/tensor.js';

/** Packs codes (each < 2^bits) little-end first, 8/bits codes a byte. */
export function packCodes(codes: ArrayLike<number>, bits: 1 | 2 | 4): Uint8Array {
  const per = 8 / bits;
  const out = new Uint8Array(Math.ceil(codes.length / per));
  for (let i = 0; i < codes.length; i++) {
    const c = codes[i] as number;
    if (c < 0 || c >= 2 ** bits) throw new WhittleError('BAD_ARGUMENT', `code ${c} does not fit in ${bits} bit(s)`);
    const j = Math.floor(i / per);
    out[j] = (out[j] as number) | (c << ((i % per) * bits));
  }
  return out;
}

/** Inverse of `packCodes`. */
export function unpackCodes(packed: Uint8Array, bits: 1 | 2 | 4, count: number): Uint8Array {
  const per = 8 / bits;
  const out = new Uint8Array(count);
  for (let i = 0; i < count; i++) out[i] = ((packed[Math.floor(i / per)] as number) >> ((i % per) * bits)) & (2 ** bits - 1);
  return out;
}

export interface PackedWeight {
  /** Name of the float weight the graph reads; the unpacking subgraph produces it. */
  name: string;
  dims: readonly number[];
  codes: ArrayLike<number>;
  bits: 1 | 2;
  /** Value of each code before scaling, e.g. binary [−1, 1], ternary [0, 1, −1, 0]. */
  table: readonly number[];
  /** Scale, broadcast against the weight (per channel [C,1,…] or per layer [1]). */
  scale: Tensor;
}

/**
 * Replaces the float initializer `w.name` by its packed codes and the nodes that rebuild it;
 * returns the bytes the packed weight and its scale occupy.
 */
export function addPackedWeight(g: Graph, w: PackedWeight): number {
  const b = new GraphBuilder(g, `${w.name}.unpack`);
  const count = w.codes.length;
  const packed = packCodes(w.codes, w.bits);
  const per = 8 / w.bits;
  const P = b.constant(new Tensor('uint8', [packed.length, 1], packed), `${w.name}.packed`);
  const shifts = b.constant(
    Tensor.fromArray(
      'uint8',
      [1, per],
      Array.from({ length: per }, (_, i) => i * w.bits),
    ),
    'shifts',
  );
  const mask = b.constant(Tensor.scalar('uint8', 2 ** w.bits), 'modulus');
  const table = b.constant(Tensor.fromArray('float32', [w.table.length], w.table), 'table');
  const scale = b.constant(w.scale, `${w.name}.scale`);
  const saved = g.nodes;
  g.nodes = [];
  const shifted = b.op1('BitShift', [P, shifts], { direction: attr.string('RIGHT') });
  const codes = b.op1('Mod', [shifted, mask], { fmod: attr.int(0) });
  const flat = b.op1('Reshape', [codes, b.constant(Tensor.int64([-1]), 'flat')]);
  const used = b.op1('Slice', [flat, b.constant(Tensor.int64([0]), 'start'), b.constant(Tensor.int64([count]), 'end')]);
  const values = b.op1('Gather', [table, b.op1('Cast', [used], { to: attr.int(7) })], { axis: attr.int(0) });
  const shaped = b.op1('Reshape', [values, b.constant(Tensor.int64([...w.dims]), 'shape')]);
  b.op('Mul', [shaped, scale], {}, [w.name]);
  const unpack: Node[] = g.nodes;
  g.nodes = [...unpack, ...saved];
  g.initializers.delete(w.name);
  return packed.length + 4 * w.scale.size;
}
