import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseJsonl } from './jsonl.js';

test('JSON Lines of two named inputs and labels become arrays with the line as the leading axis', () => {
  const text = [
    '{"pixels": [[0.5, 1], [2, 3]], "mask": [true, false], "label": 2}',
    '',
    '{"label": 0, "mask": [false, false], "pixels": [[4, 5], [6, 7.25]]}',
  ].join('\n');
  const { arrays, labels } = parseJsonl(text);
  const pixels = arrays.get('pixels')!;
  assert.equal(pixels.dtype, 'float64');
  assert.deepEqual(pixels.dims, [2, 2, 2]);
  assert.deepEqual([...pixels.data], [0.5, 1, 2, 3, 4, 5, 6, 7.25]);
  const mask = arrays.get('mask')!;
  assert.equal(mask.dtype, 'bool');
  assert.deepEqual(mask.dims, [2, 2]);
  assert.deepEqual([...mask.data], [1, 0, 0, 0]);
  assert.deepEqual([...labels!], [2, 0]);
});

test('whole numbers become int64 (token ids), and no label key means no labels', () => {
  const { arrays, labels } = parseJsonl('{"ids": [101, 2054, 102]}\n{"ids": [101, 7, 102]}\n');
  assert.equal(arrays.get('ids')!.dtype, 'int64');
  assert.deepEqual([...arrays.get('ids')!.data], [101n, 2054n, 102n, 101n, 7n, 102n]);
  assert.equal(labels, undefined);
});

test('ragged rows, shape changes between lines, key changes and bad labels are errors naming the line', () => {
  assert.throws(() => parseJsonl('{"x": [[1, 2], [3]]}', 'd.jsonl'), /d\.jsonl line 1, input "x": a ragged array \(rows of shapes \[2\] and \[1\]\)/);
  assert.throws(() => parseJsonl('{"x": [1, 2]}\n{"x": [1, 2, 3]}', 'd.jsonl'), /d\.jsonl line 2: input "x" has shape \[3\], line 1 had \[2\]/);
  assert.throws(() => parseJsonl('{"x": [1]}\n{"y": [1]}', 'd.jsonl'), /line 2 has keys \{y\}, line 1 had \{x\}/);
  assert.throws(() => parseJsonl('{"x": [1], "label": 1.5}', 'd.jsonl'), /line 1: "label" is 1\.5; a label is a class index/);
  assert.throws(() => parseJsonl('{"x": [1, "a"]}', 'd.jsonl'), /found string; inputs are numbers/);
  assert.throws(() => parseJsonl('[1, 2]', 'd.jsonl'), /line 1 is not an object/);
  assert.throws(() => parseJsonl('{"x": [1,', 'd.jsonl'), /line 1 is not JSON/);
  assert.throws(() => parseJsonl('\n\n', 'd.jsonl'), /d\.jsonl has no samples/);
});
