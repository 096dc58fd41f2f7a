#!/usr/bin/env node
// The whittle command line: parses flags, calls the library, prints human progress on stderr and,
// with --json, exactly one JSON object on stdout.
import { Command, CommanderError } from 'commander';
import { WhittleError } from '../ir/errors.js';
import { printable } from '../ir/text.js';
import { registerBenchCommands } from './bench.js';
import { registerCommands } from './commands.js';
import { registerCompressCommands } from './compress.js';
import { registerDistillCommands } from './distill.js';
import { registerEvalCommands } from './eval.js';
import { registerPruneCommands } from './prune.js';
import { registerQuantizeCommands } from './quantize.js';
import { registerReportCommands } from './report.js';
import { registerExportCommands } from './export.js';
import { guardPaths } from './guard.js';
import { registerOptimizeCommands } from './optimize.js';

const program = new Command();
program
  .name('whittle')
  .description('Train neural networks and make them smaller and faster; ship plain ONNX.')
  .version('0.1.0')
  .option('--verbose', 'print stack traces on errors')
  .showHelpAfterError('(run with --help for usage)')
  .exitOverride()
  // Before any work: outputs checked against inputs, output folders made, outputs locked.
  .hook('preAction', (_program, command) => guardPaths(command));
// Each family of commands registers itself from its own file.
for (const register of [
  registerCommands,
  registerEvalCommands,
  registerPruneCommands,
  registerCompressCommands,
  registerDistillCommands,
  registerQuantizeCommands,
  registerBenchCommands,
  registerReportCommands,
  registerExportCommands,
  registerOptimizeCommands,
])
  register(program);

try {
  await program.parseAsync(process.argv);
} catch (e) {
  if (e instanceof CommanderError) {
    // Commander already printed its message (unknown flag, missing value, --help, --version).
    process.exit(e.exitCode);
  }
  const verbose = process.argv.includes('--verbose');
  if (e instanceof WhittleError) {
    process.stderr.write(`whittle: error [${e.code}]: ${printable(e.message)}\n`);
    if (verbose) process.stderr.write(`${e.stack ?? ''}\n`);
    process.exit(e.code === 'BAD_ARGUMENT' ? 2 : 1);
  }
  process.stderr.write(`whittle: internal error: ${printable((e as Error).message ?? String(e))}\n`);
  if (verbose) process.stderr.write(`${(e as Error).stack ?? ''}\n`);
  else process.stderr.write('(run again with --verbose for the stack trace, and please report it)\n');
  process.exit(1);
}
