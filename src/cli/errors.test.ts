import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Command } from 'commander';
import { WhittleError } from '../ir/errors.js';
import { describeError, flagsOf, flagTerms } from './errors.js';

test('flagTerms writes library option names as the flags of the command', () => {
  const cmd = new Command('quantize').option('--keep-float <layers>').option('--scheme <name>').option('--fine-tune-epochs <n>').option('--floor <acc>');
  const flags = flagsOf(cmd);
  assert.equal(
    flagTerms("options.keepFloat 'auto' times static int8 forms: use it with options.scheme 'ptq'", flags),
    '--keep-float auto times static int8 forms: use it with --scheme ptq',
  );
  assert.equal(
    flagTerms("use options.scheme 'qat', 'binary' or 'ternary'; set options.fineTuneEpochs ≥ 1", flags),
    'use --scheme qat, binary or ternary; set --fine-tune-epochs ≥ 1',
  );
  // A library name with a differently named flag, and one the command does not have.
  assert.equal(flagTerms('below options.accuracyFloor; pass options.unknownThing', flags), 'below --floor; pass options.unknownThing');
  // Without a command (a library caller) nothing changes.
  assert.equal(flagTerms("options.keepFloat 'auto'", new Map()), "options.keepFloat 'auto'");
});

test('one error format; usage errors exit 2, failures 1', () => {
  const cmd = new Command('prune').option('--sparsity <s>');
  assert.deepEqual(describeError(new WhittleError('BAD_ARGUMENT', 'options.sparsity must be in [0, 1), got 2'), cmd), {
    line: 'whittle: error [BAD_ARGUMENT]: --sparsity must be in [0, 1), got 2',
    exitCode: 2,
  });
  assert.equal(describeError(new WhittleError('NAN_LOSS', 'loss is NaN'), cmd).exitCode, 1);
  const internal = describeError(new TypeError('x is undefined'), cmd);
  assert.equal(internal.exitCode, 1);
  assert.match(internal.line, /^whittle: error \[INTERNAL\]: internal error: x is undefined/);
});
