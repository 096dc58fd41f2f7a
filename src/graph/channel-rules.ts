// Channel rules for ops that have no file in src/ops yet (their gradient rules are being added
// on other branches). Each entry moves to `channels:` in that op's src/ops/<op>.ts once the file
// exists; the OpDef's own rule always wins over an entry here.
import type { Dim } from '../ir/graph.js';
import { getInt, getString } from '../ir/graph.js';
import type { ShapeRule } from '../ir/shape.js';
import type { ChannelLayout, ChannelRule } from '../ops/index.js';
import { CHANNEL_RULES } from '../ops/index.js';
import { blockAll, elementwiseChannels, layerNormChannels, poolChannels, unaryChannels } from '../ops/channels.js';

/**
 * LSTM, GRU and RNN: each hidden unit is a source whose slices are its rows in every gate block
 * of W, R and B (and the peephole P), plus its column of R (the recurrence reads it back). The
 * input's channels reach W's input columns. An all-zero computed initial state is dropped on
 * thinning (zero is the op's default), since its shape names the hidden size.
 */
export const recurrentChannels: ChannelRule = (ctx) => {
  const { node } = ctx;
  const gates = node.opType === 'LSTM' ? 4 : node.opType === 'GRU' ? 3 : 1;
  const hidden = getInt(node, 'hidden_size', 0);
  const x = ctx.layout(0);
  const w = ctx.constant(1);
  const r = ctx.constant(2);
  const outAxes = [3, 2, 2];
  const produceBlocked = (why: string): (ChannelLayout | undefined)[] => {
    blockAll(ctx, why);
    const out = ctx.produce(hidden, 3, why);
    return node.outputs.map((_, k) => ({ axis: outAxes[k] as number, segs: out.segs }));
  };
  const what = `${node.opType} "${node.name}"`;
  if (hidden <= 0 || w === undefined || r === undefined || !ctx.isInitializer(1) || !ctx.isInitializer(2))
    return produceBlocked(`${what} has computed weights`);
  for (const i of ctx.traced) if (i !== 0) ctx.block(ctx.layout(i), `${what} reads them as a state or length`);
  const out = ctx.produce(hidden, 3);
  const src = (out.segs[0] as { src: number }).src;
  const [W, R] = [node.inputs[1] as string, node.inputs[2] as string];
  for (let g = 0; g < gates; g++) {
    ctx.member(src, W, 1, g * hidden, 1, 'out');
    ctx.member(src, R, 1, g * hidden, 1, 'out');
  }
  ctx.member(src, R, 2, 0, 1, 'in');
  const B = node.inputs[3];
  if (B) {
    if (!ctx.isInitializer(3)) ctx.block(out, `${what} has a computed bias`);
    else for (let g = 0; g < 2 * gates; g++) ctx.member(src, B, 1, g * hidden, 1, 'out');
  }
  const P = node.inputs[7];
  if (P) {
    if (!ctx.isInitializer(7)) ctx.block(out, `${what} has a computed peephole`);
    else for (let g = 0; g < 3; g++) ctx.member(src, P, 1, g * hidden, 1, 'out');
  }
  for (const i of [5, 6]) {
    const name = node.inputs[i];
    if (!name) continue;
    const p = ctx.producer(i);
    const fill = p?.opType === 'ConstantOfShape' ? p.attributes['value'] : undefined;
    const zero = p?.opType === 'ConstantOfShape' && (fill === undefined || (fill.type === 'tensor' && fill.value.toNumbers().every((v) => Number(v) === 0)));
    const c = ctx.constant(i);
    if (zero) ctx.rewriteInput(src, node.name, i, () => undefined);
    else if (c !== undefined && ctx.isInitializer(i) && c.dims.length === 3) ctx.member(src, name, 2, 0, 1, 'const');
    else ctx.block(out, `${what} starts from a computed state`);
  }
  if (x !== undefined) {
    if (x.axis !== 2) ctx.block(x, `${what} reads them on a time or batch axis`);
    else ctx.along(x, W, 2, 'in');
  }
  // Y is [T, D, B, H] (layout 0) or [B, T, D, H]; Y_h and Y_c are [D, B, H] or [B, D, H].
  return node.outputs.map((o, k) => (o ? { axis: outAxes[k] as number, segs: out.segs } : undefined));
};

const OWN_FILE_PENDING: ReadonlyMap<string, ChannelRule> = new Map([
  ['HardSigmoid', unaryChannels],
  ['HardSwish', unaryChannels],
  ['Elu', unaryChannels],
  ['Selu', unaryChannels],
  ['Softplus', unaryChannels],
  ['Erf', unaryChannels],
  ['Gelu', unaryChannels],
  ['GlobalMaxPool', poolChannels],
  ['Min', elementwiseChannels],
  ['LayerNormalization', layerNormChannels],
  ['LSTM', recurrentChannels],
  ['GRU', recurrentChannels],
  ['RNN', recurrentChannels],
]);

/** Every channel rule: the ops' own, then the pending ones above. */
export function channelRules(): ReadonlyMap<string, ChannelRule> {
  return new Map([...OWN_FILE_PENDING, ...CHANNEL_RULES]);
}

// Y: [T, D, B, H] (or [B, T, D, H] with layout 1); Y_h, Y_c: [D, B, H] (or [B, D, H]).
const recurrentShape: ShapeRule = ({ node, inputs }) => {
  const x = inputs[0];
  if (x === undefined || x.shape.length !== 3) return [];
  const d = getString(node, 'direction', 'forward') === 'bidirectional' ? 2 : 1;
  const h = getInt(node, 'hidden_size', 0);
  const [a, b] = x.shape as [Dim, Dim];
  const batchMajor = getInt(node, 'layout', 0) === 1;
  const y = { dtype: x.dtype, shape: batchMajor ? [a, b, d, h] : [a, d, b, h] };
  const state = { dtype: x.dtype, shape: batchMajor ? [a, d, h] : [d, b, h] };
  return [y, state, state];
};

const sameShape: ShapeRule = ({ inputs }) => (inputs[0] !== undefined ? [inputs[0]] : []);
// Shape rules the dependency analysis needs for ops without a file yet (same list, same fate).
const PENDING_SHAPES: ReadonlyMap<string, ShapeRule> = new Map([
  ...['HardSigmoid', 'HardSwish', 'Elu', 'Selu', 'Softplus', 'Erf', 'Gelu', 'LayerNormalization'].map((op) => [op, sameShape] as const),
  ...['LSTM', 'GRU', 'RNN'].map((op) => [op, recurrentShape] as const),
]);

/** The given shape rules, completed with identity-shaped rules for pending elementwise ops. */
export function shapeRules(rules: ReadonlyMap<string, ShapeRule>): ReadonlyMap<string, ShapeRule> {
  return new Map([...PENDING_SHAPES, ...rules]);
}
