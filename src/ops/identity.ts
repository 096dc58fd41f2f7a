import type { OpDef } from './types.js';
import { input } from './util.js';

export const identity: OpDef = {
  op: 'Identity',
  inferShape: ({ node, inputs }) => [input(node, inputs, 0)],
  gradient: ({ dy }) => [dy[0]],
};
