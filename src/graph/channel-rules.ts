// Channel rules (and the shape rules dependency analysis needs) for ops that have no file in
// src/ops yet. Each entry moves to `channels:` in that op's src/ops/<op>.ts once the file
// exists; the OpDef's own rule always wins over an entry here.
import type { Dim } from '../ir/graph.js';
import { getInt, getString } from '../ir/graph.js';
import type { ShapeRule } from '../ir/shape.js';
import type { ChannelRule } from '../ops/index.js';
import { CHANNEL_RULES } from '../ops/index.js';
import { elementwiseChannels, poolChannels, recurrentChannels } from '../ops/channels.js';

const OWN_FILE_PENDING: ReadonlyMap<string, ChannelRule> = new Map([
  ['GlobalMaxPool', poolChannels],
  ['Min', elementwiseChannels],
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

// Shape rules the dependency analysis needs for ops without a file yet (same fate).
const PENDING_SHAPES: ReadonlyMap<string, ShapeRule> = new Map([['RNN', recurrentShape]]);

/** The given shape rules, completed with those of pending ops. */
export function shapeRules(rules: ReadonlyMap<string, ShapeRule>): ReadonlyMap<string, ShapeRule> {
  return new Map([...PENDING_SHAPES, ...rules]);
}
