import type { OpDef } from './types.js';
import { input } from './util.js';
import { unaryChannels } from './channels.js';

export const identity: OpDef = {
  op: 'Identity',
  channels: unaryChannels,
  inferShape: ({ node, inputs }) => [input(node, inputs, 0)],
  gradient: ({ dy }) => [dy[0]],
};
