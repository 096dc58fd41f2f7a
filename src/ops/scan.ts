import { getInts } from '../ir/graph.js';
import type { Dim } from '../ir/graph.js';
import { shapeError } from './dims.js';
import type { OpDef } from './types.js';

/**
 * Scan (opset 16+), with scan axes 0: the final states have their initial values' types; each
 * scan output is [sequence length, ...the body's per-step output]. No gradient rule: Whittle emits
 * Scan inside gradient graphs (the recurrent ops' backward), it does not differentiate through one.
 */
export const scan: OpDef = {
  op: 'Scan',
  inferShape({ node, inputs }) {
    const body = node.attributes['body'];
    const count = node.attributes['num_scan_inputs'];
    if (body?.type !== 'graph' || count?.type !== 'int') throw shapeError(node, 'needs a body graph and num_scan_inputs');
    for (const a of ['scan_input_axes', 'scan_output_axes']) {
      if ((getInts(node, a) ?? []).some((x) => x !== 0)) throw shapeError(node, `${a} other than 0 is not supported by Whittle's shape rule`);
    }
    const states = node.inputs.length - count.value;
    const first = inputs[states];
    if (first === undefined) throw shapeError(node, 'has no scan input');
    const steps = first.shape[0] as Dim;
    return node.outputs.map((_, i) => {
      if (i < states) {
        const s = inputs[i];
        if (s === undefined) throw shapeError(node, `state ${i} has no type`);
        return s;
      }
      const y = body.value.outputs[i];
      if (y === undefined) throw shapeError(node, `the body has no output ${i}`);
      return { dtype: y.dtype, shape: [steps, ...y.shape] };
    });
  },
};
