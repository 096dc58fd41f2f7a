// JSON Lines of named inputs: one sample per line, {"input_name": nested array, ..., "label": k}.
import { readFileSync } from 'node:fs';
import { WhittleError } from '../ir/errors.js';
import type { NpyArray } from './npy.js';

/** Arrays parsed from JSON Lines: one per input name (leading axis = line), and the labels. */
export interface JsonlArrays {
  arrays: Map<string, NpyArray>;
  labels: Int32Array | undefined;
}

// A nested array's shape, checked rectangular; values go to `out` in C order.
function flatten(value: unknown, out: (number | boolean)[], where: string): number[] {
  if (typeof value === 'number' || typeof value === 'boolean') {
    out.push(value);
    return [];
  }
  if (!Array.isArray(value))
    throw new WhittleError('BAD_DATA', `${where}: found ${value === null ? 'null' : typeof value}; inputs are numbers, booleans or nested arrays of them`);
  let inner: number[] | undefined;
  for (const v of value) {
    const s = flatten(v, out, where);
    if (inner === undefined) inner = s;
    else if (s.join(',') !== inner.join(','))
      throw new WhittleError(
        'BAD_DATA',
        `${where}: a ragged array (rows of shapes [${inner.join(', ')}] and [${s.join(', ')}]); every row must have the same length`,
      );
  }
  return [value.length, ...(inner ?? [])];
}

/**
 * Parses JSON Lines of named inputs. Each input gets the dtype its values need: bool when all are
 * booleans, int64 when all are whole numbers, else float64 (binding to a model casts them).
 *
 * ```ts
 * const { arrays, labels } = parseJsonl('{"x": [1, 2], "label": 0}\n{"x": [3, 4], "label": 1}\n');
 * // arrays.get('x') = { dtype: 'int64', dims: [2, 2], ... }, labels = Int32Array [0, 1]
 * ```
 */
export function parseJsonl(text: string, source = 'JSONL'): JsonlArrays {
  const values = new Map<string, (number | boolean)[]>();
  const shapes = new Map<string, number[]>();
  const labels: number[] = [];
  let keys: string | undefined;
  let lines = 0;
  let firstLine = 0;
  const rows = text.split('\n');
  for (let i = 0; i < rows.length; i++) {
    const line = (rows[i] as string).trim();
    if (line === '') continue;
    const where = `${source} line ${i + 1}`;
    let obj: unknown;
    try {
      obj = JSON.parse(line);
    } catch (e) {
      throw new WhittleError('BAD_DATA', `${where} is not JSON (${(e as Error).message}); write one object per line`);
    }
    if (obj === null || typeof obj !== 'object' || Array.isArray(obj))
      throw new WhittleError('BAD_DATA', `${where} is not an object; write {"input_name": [...], "label": k} per line`);
    const record = obj as Record<string, unknown>;
    const names = Object.keys(record)
      .filter((k) => k !== 'label')
      .sort();
    const hasLabel = 'label' in record;
    const signature = `${names.join(',')}|${hasLabel}`;
    if (keys === undefined) (keys = signature), (firstLine = i + 1);
    else if (signature !== keys) {
      throw new WhittleError(
        'BAD_DATA',
        `${where} has keys {${names.join(', ')}${hasLabel ? ', label' : ''}}, line ${firstLine} had {${keys.replace('|true', ', label').replace('|false', '').split(',').join(', ')}}; every line needs the same inputs`,
      );
    }
    if (names.length === 0) throw new WhittleError('BAD_DATA', `${where} has no input; write {"input_name": [...]} per line`);
    for (const name of names) {
      const out = values.get(name) ?? [];
      values.set(name, out);
      const shape = flatten(record[name], out, `${where}, input "${name}"`);
      const seen = shapes.get(name);
      if (seen === undefined) shapes.set(name, shape);
      else if (seen.join(',') !== shape.join(',')) {
        throw new WhittleError(
          'BAD_DATA',
          `${where}: input "${name}" has shape [${shape.join(', ')}], line ${firstLine} had [${seen.join(', ')}]; samples of one input must share a shape`,
        );
      }
    }
    if (hasLabel) {
      const l = record['label'];
      if (typeof l !== 'number' || !Number.isInteger(l) || l < 0)
        throw new WhittleError('BAD_DATA', `${where}: "label" is ${JSON.stringify(l)}; a label is a class index (a whole number ≥ 0)`);
      labels.push(l);
    }
    lines++;
  }
  if (lines === 0) throw new WhittleError('BAD_DATA', `${source} has no samples; write one JSON object per line`);
  const arrays = new Map<string, NpyArray>();
  for (const [name, vals] of values) {
    const dims = [lines, ...(shapes.get(name) as number[])];
    if (vals.every((v) => typeof v === 'boolean')) arrays.set(name, { dtype: 'bool', dims, data: Uint8Array.from(vals, (v) => (v ? 1 : 0)) });
    else if (vals.some((v) => typeof v === 'boolean'))
      throw new WhittleError('BAD_DATA', `${source}: input "${name}" mixes booleans and numbers; use one kind`);
    else if (vals.every((v) => Number.isSafeInteger(v))) arrays.set(name, { dtype: 'int64', dims, data: BigInt64Array.from(vals, (v) => BigInt(v as number)) });
    else arrays.set(name, { dtype: 'float64', dims, data: Float64Array.from(vals as number[]) });
  }
  return { arrays, labels: labels.length > 0 ? Int32Array.from(labels) : undefined };
}

/**
 * Reads a JSON Lines file of named inputs.
 *
 * ```ts
 * const { arrays, labels } = readJsonl('samples.jsonl');
 * ```
 */
export function readJsonl(path: string): JsonlArrays {
  return parseJsonl(readFileSync(path, 'utf8'), path);
}
