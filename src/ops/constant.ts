import { WhittleError } from '../ir/errors.js';
import type { TypeShape } from '../ir/shape.js';
import type { OpDef } from './types.js';

/** Constant: type and shape from whichever value attribute it carries. */
export const constant: OpDef = {
  op: 'Constant',
  inferShape({ node }) {
    const entries = Object.entries(node.attributes);
    const [name, a] = entries[0] ?? [];
    if (entries.length !== 1 || name === undefined || a === undefined) {
      throw new WhittleError(
        'INVALID_GRAPH',
        `Constant "${node.name}" must have exactly one value attribute, got ${entries.length === 0 ? 'none' : entries.map(([k]) => k).join(', ')}`,
      );
    }
    let out: TypeShape | undefined;
    if (name === 'value' && a.type === 'tensor') out = { dtype: a.value.dtype, shape: [...a.value.dims] };
    else if (name === 'value_float' && a.type === 'float') out = { dtype: 'float32', shape: [] };
    else if (name === 'value_floats' && a.type === 'floats') out = { dtype: 'float32', shape: [a.value.length] };
    else if (name === 'value_int' && a.type === 'int') out = { dtype: 'int64', shape: [] };
    else if (name === 'value_ints' && a.type === 'ints') out = { dtype: 'int64', shape: [a.value.length] };
    if (out === undefined)
      throw new WhittleError('UNSUPPORTED_OP', `Constant "${node.name}" carries ${name} (${a.type}); Whittle reads value, value_float(s) and value_int(s)`);
    return [out];
  },
};
