import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ortMessage } from './session.js';

test("onnxruntime's multi-line errors become one line, the context that names the node first", () => {
  const raw =
    'This is an invalid model. In Node, ("loop/Loop_node", Loop, "", -1) : ("loop/Squeeze": tensor(int64),) -> ("a",) ,\n  Error Node(x)\n\n==> Context: Bad node spec for node. Name: body/bn OpType: BatchNormalization\n';
  const m = ortMessage(raw);
  assert.equal(m.includes('\n'), false);
  assert.ok(m.startsWith('Bad node spec for node. Name: body/bn OpType: BatchNormalization ('), m);
  assert.equal(ortMessage('x'.repeat(1000)).length, 400);
  assert.equal(ortMessage('plain message'), 'plain message');
});
