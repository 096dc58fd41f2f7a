// A local pool's worker process: receives trial tasks over IPC, runs each, replies with its result.
import { WhittleError } from '../ir/errors.js';
import { runTrial } from './trial.js';
import type { TrialTask } from './types.js';

process.on('message', (task: TrialTask) => {
  runTrial(task).then(
    (result) => process.send?.({ key: task.key, result }),
    (e: unknown) => process.send?.({ key: task.key, error: { message: (e as Error).message, code: e instanceof WhittleError ? e.code : undefined } }),
  );
});
process.on('disconnect', () => process.exit(0));
