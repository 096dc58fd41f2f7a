import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatTable } from './table.js';

test('formatTable: names left-aligned to the longest, numbers right-aligned per column', () => {
  const out = formatTable([
    ['layer', '50%', 'proposed'],
    ['features.0.block.1.conv', '98.10', '40%'],
    ['fc', '7.5', '0%'],
  ]);
  assert.equal(
    out,
    ['layer                      50%  proposed', 'features.0.block.1.conv  98.10       40%', 'fc                         7.5        0%'].join('\n'),
  );
});

test('formatTable: short rows leave no trailing blanks', () => {
  assert.equal(formatTable([['a', 'bb'], ['ccc']]), 'a    bb\nccc');
});
