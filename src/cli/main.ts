#!/usr/bin/env node
// The whittle command line: parses flags, calls the library; results on stdout (a human summary,
// or with --json exactly one JSON object), progress and logs on stderr. Exit codes: 0 success,
// 1 failure, 2 usage error, 130 interrupted.
import { Command, CommanderError } from 'commander';
import { registerBenchCommands } from './bench.js';
import { registerCommands } from './commands.js';
import { registerCompressCommands } from './compress.js';
import { registerDistillCommands } from './distill.js';
import { describeError, EXIT } from './errors.js';
import { registerEvalCommands } from './eval.js';
import { registerPruneCommands } from './prune.js';
import { registerQuantizeCommands } from './quantize.js';
import { registerReportCommands } from './report.js';
import { registerExportCommands } from './export.js';
import { guardPaths } from './guard.js';
import { registerOptimizeCommands } from './optimize.js';
import { codecCounts } from '../ir/onnx.js';
import { sessionsCreated } from '../runtime/session.js';

// --quiet: nothing on stderr but errors; the result still goes to stdout.
const writeErr = process.stderr.write.bind(process.stderr);
if (process.argv.includes('--quiet')) process.stderr.write = (() => true) as typeof process.stderr.write;

const program = new Command();
program
  .name('whittle')
  .description('Train neural networks and make them smaller and faster; ship plain ONNX.')
  .version('0.1.0')
  .option('--verbose', 'print stack traces on errors')
  .option('--quiet', 'no progress or logs on stderr (errors still are); the result still goes to stdout')
  .configureOutput({ writeErr: (text) => writeErr(text) })
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

// The command being run, so that an error can name its flags.
let active: Command | undefined;
program.hook('preAction', (_program, cmd) => {
  active = cmd;
});
// WHITTLE_PASS_COUNTS=1: the whole-model passes the command paid for (parses, serializations,
// onnxruntime sessions), one JSON line on stderr at exit; the tests guard these counts.
if (process.env['WHITTLE_PASS_COUNTS'] === '1') {
  process.on('exit', () => writeErr(`whittle: passes ${JSON.stringify({ ...codecCounts(), sessions: sessionsCreated() })}\n`));
}
// Ctrl-C: a command that can stop cleanly (train) handles SIGINT itself; otherwise exit 130 at once.
process.on('SIGINT', () => {
  if (process.listenerCount('SIGINT') === 1) process.exit(EXIT.interrupted);
});

try {
  await program.parseAsync(process.argv);
} catch (e) {
  if (e instanceof CommanderError) {
    // Commander already printed its message; --help and --version exit 0, usage errors 2.
    process.exit(e.exitCode === 0 ? 0 : EXIT.usage);
  }
  const { line, exitCode } = describeError(e, active);
  writeErr(`${line}\n`);
  if (process.argv.includes('--verbose')) writeErr(`${(e as Error).stack ?? ''}\n`);
  process.exit(exitCode);
}
